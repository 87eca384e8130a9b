"""Schedules and allocations never create or lose a minor unit, whatever the terms and the rounding."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ....core.money import Rounding, RoundingMode
from ..schedule import allocate, build_schedule, origination_fee, split
from ..terms import COMPONENTS, Terms


@st.composite
def loan_terms(draw: st.DrawFn) -> tuple[Terms, int]:
    instalments = draw(st.integers(min_value=1, max_value=120))
    principal = draw(st.integers(min_value=1, max_value=10**12))
    rate = draw(st.integers(min_value=0, max_value=999_999))
    terms = Terms(
        interest_method=draw(st.sampled_from(["flat", "declining"])),
        annual_rate=f"0.{rate:06d}",
        instalments=instalments,
        frequency=draw(st.sampled_from(["weekly", "fortnightly", "monthly"])),
        grace_instalments=draw(st.integers(min_value=0, max_value=min(instalments - 1, 52))),
        fee_rate=f"0.{draw(st.integers(min_value=0, max_value=99_999)):06d}",
        fee_flat=draw(st.integers(min_value=0, max_value=10**6)),
        min_principal=1,
        max_principal=10**12,
        allocation=draw(st.permutations(COMPONENTS)),
    )
    return terms, principal


roundings = st.builds(Rounding, st.sampled_from(list(RoundingMode)), st.sampled_from([1, 5, 100, 1000]))


@settings(max_examples=300, deadline=None)
@given(loan_terms(), roundings, st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_every_schedule_sums_exactly(drawn: tuple[Terms, int], rounding: Rounding, start: date) -> None:
    terms, principal = drawn
    schedule = build_schedule(principal=principal, terms=terms, disbursed_on=start, rounding=rounding)
    assert len(schedule) == terms.instalments
    assert sum(i.principal for i in schedule) == principal
    assert sum(i.fees for i in schedule) == origination_fee(principal, terms, rounding)
    interest = sum(i.interest for i in schedule)
    assert sum(i.total for i in schedule) == principal + interest + origination_fee(principal, terms, rounding)
    assert all(i.principal >= 0 and i.interest >= 0 and i.fees >= 0 for i in schedule)
    assert all(i.principal == 0 for i in schedule[: terms.grace_instalments])
    assert [i.due_on for i in schedule] == sorted({i.due_on for i in schedule}), "due dates rise, one per instalment"
    assert schedule[0].due_on > start


@settings(max_examples=300, deadline=None)
@given(loan_terms(), roundings)
def test_flat_interest_is_the_rate_on_the_whole_principal_for_the_term(
    drawn: tuple[Terms, int], rounding: Rounding
) -> None:
    terms, principal = drawn
    terms = terms.model_copy(update={"interest_method": "flat"})
    schedule = build_schedule(principal=principal, terms=terms, disbursed_on=date(2026, 1, 31), rounding=rounding)
    years = Fraction(terms.instalments, {"weekly": 52, "fortnightly": 26, "monthly": 12}[terms.frequency])
    exact = principal * terms.annual * years
    assert sum(i.interest for i in schedule) == rounding.apply_ratio(exact.numerator, exact.denominator)


@settings(max_examples=300, deadline=None)
@given(loan_terms(), roundings)
def test_declining_interest_is_each_period_on_the_balance_left(drawn: tuple[Terms, int], rounding: Rounding) -> None:
    terms, principal = drawn
    terms = terms.model_copy(update={"interest_method": "declining"})
    schedule = build_schedule(principal=principal, terms=terms, disbursed_on=date(2026, 3, 1), rounding=rounding)
    balance = principal
    for instalment in schedule:
        owed = balance * terms.periodic
        assert instalment.interest == rounding.apply_ratio(owed.numerator, owed.denominator)
        balance -= instalment.principal
    assert balance == 0


@given(
    st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=500), st.sampled_from([1, 5, 100])
)
def test_split_keeps_every_minor_unit(total: int, parts: int, quantum: int) -> None:
    shares = split(total, parts, quantum)
    assert sum(shares) == total and len(shares) == parts and min(shares) >= 0


owed_items = st.lists(
    st.fixed_dictionaries({c: st.integers(min_value=0, max_value=10**9) for c in COMPONENTS}), max_size=30
)


@settings(max_examples=500)
@given(st.integers(min_value=0, max_value=10**11), owed_items, st.permutations(COMPONENTS))
def test_allocation_never_creates_or_loses_a_minor_unit(amount: int, owed: list[dict], order: list[str]) -> None:
    numbered = list(enumerate(owed, start=1))
    allocation = allocate(amount, numbered, order)
    assert sum(part.amount for part in allocation.parts) + allocation.unapplied == amount
    for part in allocation.parts:
        assert 0 < part.amount <= owed[part.instalment - 1][part.component]
    total_owed = sum(sum(dues.values()) for dues in owed)
    assert allocation.unapplied == max(amount - total_owed, 0)


def test_allocation_settles_the_oldest_instalment_first_in_the_order_given() -> None:
    owed = [
        (1, {"fees": 10, "penalties": 5, "interest": 20, "principal": 100}),
        (2, {"interest": 20, "principal": 100}),
    ]
    allocation = allocate(40, owed, ["penalties", "fees", "interest", "principal"])
    assert [(p.instalment, p.component, p.amount) for p in allocation.parts] == [
        (1, "penalties", 5),
        (1, "fees", 10),
        (1, "interest", 20),
        (1, "principal", 5),
    ]
