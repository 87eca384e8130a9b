"""Repayment schedules and the allocation of a repayment, in integer minor units.

Every amount is rounded once, with the country's rounding, and the rounding difference is put on
an instalment rather than dropped: a schedule's instalments sum exactly to principal + interest +
fees, and an allocation settles exactly the amount paid (tests/test_schedule_properties.py).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from ...core.money import Rounding
from .terms import PERIODS_PER_YEAR, Component, Terms

DAYS_PER_PERIOD = {"weekly": 7, "fortnightly": 14}


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int
    due_on: date
    principal: int
    interest: int
    fees: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fees


def due_dates(start: date, frequency: str, count: int) -> list[date]:
    """The `count` due dates after `start`: every 7 or 14 days, or monthly on start's day (clamped to a month's end)."""
    if frequency in DAYS_PER_PERIOD:
        step = DAYS_PER_PERIOD[frequency]
        return [start + timedelta(days=step * k) for k in range(1, count + 1)]
    found = []
    for k in range(1, count + 1):
        year, month = divmod(start.month - 1 + k, 12)
        year, month = start.year + year, month + 1
        found.append(date(year, month, min(start.day, calendar.monthrange(year, month)[1])))
    return found


def split(total: int, parts: int, quantum: int) -> list[int]:
    """`total` in `parts` as equal as the quantum allows, the earlier parts larger; the sub-quantum rest on the last."""
    units, rest = divmod(total, quantum)
    base, extra = divmod(units, parts)
    shares = [(base + (1 if index < extra else 0)) * quantum for index in range(parts)]
    shares[-1] += rest
    return shares


def origination_fee(principal: int, terms: Terms, rounding: Rounding) -> int:
    rate = Fraction(terms.fee_rate)
    return rounding.apply_ratio(principal * rate.numerator, rate.denominator) + terms.fee_flat


def build_schedule(*, principal: int, terms: Terms, disbursed_on: date, rounding: Rounding) -> list[Instalment]:
    """The instalments of a loan of `principal` minor units made on `disbursed_on` under `terms`."""
    dates = due_dates(disbursed_on, terms.frequency, terms.instalments)
    fees = split(origination_fee(principal, terms, rounding), terms.instalments, rounding.quantum)
    if terms.interest_method == "flat":
        principals, interests = _flat(principal, terms, rounding)
    else:
        principals, interests = _declining(principal, terms, rounding)
    return [
        Instalment(number, due_on, principal_part, interest, fee)
        for number, (due_on, principal_part, interest, fee) in enumerate(
            zip(dates, principals, interests, fees, strict=True), start=1
        )
    ]


def _flat(principal: int, terms: Terms, rounding: Rounding) -> tuple[list[int], list[int]]:
    years = Fraction(terms.instalments, PERIODS_PER_YEAR[terms.frequency])
    exact = principal * terms.annual * years
    interest = rounding.apply_ratio(exact.numerator, exact.denominator)
    grace = [0] * terms.grace_instalments
    repaying = terms.instalments - terms.grace_instalments
    return grace + split(principal, repaying, rounding.quantum), split(interest, terms.instalments, rounding.quantum)


def _declining(principal: int, terms: Terms, rounding: Rounding) -> tuple[list[int], list[int]]:
    """Equal instalments (an annuity) after the grace instalments, which pay the period's interest only."""
    rate = terms.periodic
    repaying = terms.instalments - terms.grace_instalments
    payment = Fraction(principal, repaying) if rate == 0 else principal * rate / (1 - (1 + rate) ** -repaying)
    level = rounding.apply_ratio(payment.numerator, payment.denominator)
    principals, interests, balance = [], [], principal
    for number in range(1, terms.instalments + 1):
        owed = balance * rate
        interest = rounding.apply_ratio(owed.numerator, owed.denominator)
        if number <= terms.grace_instalments:
            part = 0
        elif number == terms.instalments:
            part = balance
        else:
            part = min(max(level - interest, 0), balance)
        principals.append(part)
        interests.append(interest)
        balance -= part
    return principals, interests


@dataclass(frozen=True, slots=True)
class Due:
    """What one instalment still owes of one component."""

    instalment: int
    component: Component
    amount: int


@dataclass(frozen=True, slots=True)
class Allocation:
    parts: tuple[Due, ...]
    unapplied: int

    def total_of(self, component: Component) -> int:
        return sum(part.amount for part in self.parts if part.component == component)


def allocate(
    amount: int, owed: Sequence[tuple[int, Mapping[Component, int]]], order: Sequence[Component]
) -> Allocation:
    """Settle `owed` ((instalment number, dues), oldest first) with `amount`, components in `order`.

    Returns what each (instalment, component) received and what is left unapplied; the parts and
    the rest always sum to `amount`.
    """
    if amount < 0:
        raise ValueError("a repayment is not negative")
    left, parts = amount, []
    for number, dues in owed:
        for component in order:
            due = dues.get(component, 0)
            paid = min(due, left)
            if paid > 0:
                parts.append(Due(number, component, paid))
                left -= paid
        if left == 0:
            break
    return Allocation(tuple(parts), left)
