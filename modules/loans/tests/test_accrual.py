"""Daily accrual and ageing: the rules in Python, and the set-based SQL against them over a portfolio."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.money import Rounding, RoundingMode
from ....core.runtime import Runtime
from .. import accrual, ageing, jobs, servicing
from ..config import LoansCountry, LoansSettings
from ..models import Accrual, Event, Instalment, Line, Loan, Position
from .portfolio import create_portfolio

DAY = date(2026, 3, 16)


def rounding_of(country: LoadedCountry) -> Rounding:
    section: LoansCountry = country.section("loans")
    return section.rounding.for_currency(country.profile.currency)


def accrue(engine: Engine, country: LoadedCountry, day: date, chunk_size: int = 100) -> accrual.WorkerReport:
    return accrual.run_worker(
        session_factory=make_session_factory(engine), day=day, rounding=rounding_of(country), chunk_size=chunk_size
    )


@pytest.mark.country_independent
@given(interest=st.integers(0, 10**12), length=st.integers(1, 400))
def test_the_days_of_a_period_sum_exactly_to_the_instalments_interest(interest: int, length: int) -> None:
    start = date(2026, 1, 31)
    due = start + timedelta(days=length)
    earned = [accrual.day_interest(interest, start, due, start + timedelta(days=n)) for n in range(-3, length + 4)]
    inside = earned[4 : length + 4]  # the days start + 1 … due
    assert sum(earned) == sum(inside) == interest
    assert min(inside) >= 0 and max(inside) - min(inside) <= 1, "earned evenly, to a minor unit"


@pytest.mark.country_independent
def test_the_arrears_buckets_follow_the_par_conventions() -> None:
    found = {days: ageing.bucket(days) for days in (0, 1, 30, 31, 60, 61, 90, 91, 400)}
    assert found == {
        0: "current",
        1: "1-30",
        30: "1-30",
        31: "31-60",
        60: "31-60",
        61: "61-90",
        90: "61-90",
        91: "90+",
        400: "90+",
    }


@pytest.mark.country_independent
def test_a_penalty_is_the_rate_of_the_unpaid_amount_rounded_the_countrys_way_plus_the_flat_part() -> None:
    penalty = {"rate": "0.05", "flat": 100, "after_days": 3}
    assert accrual.penalty_amount(12_345, penalty, Rounding(RoundingMode.HALF_UP)) == 617 + 100
    assert accrual.penalty_amount(12_345, penalty, Rounding(RoundingMode.DOWN, 100)) == 600 + 100
    assert accrual.penalty_amount(12_345, {"rate": "0", "flat": 0}, Rounding(RoundingMode.UP)) == 0


@pytest.mark.country_independent
def test_the_job_catches_up_the_missed_days_a_month_at_most() -> None:
    yesterday = date(2026, 3, 16)
    assert jobs.days_to_accrue(None, yesterday) == [yesterday]
    assert jobs.days_to_accrue(yesterday, yesterday) == []
    assert jobs.days_to_accrue(date(2026, 3, 13), yesterday) == [date(2026, 3, 14), date(2026, 3, 15), yesterday]
    assert len(jobs.days_to_accrue(date(2025, 1, 1), yesterday)) == jobs.CATCH_UP_DAYS


def test_a_day_accrues_ages_and_penalises_every_active_loan_once_as_the_schedule_says(
    engine: Engine, session: Session, country: LoadedCountry
) -> None:
    portfolio = create_portfolio(
        engine, count=3_000, day=DAY, rounding=rounding_of(country), currency=country.profile.currency
    )
    expected = portfolio.expected
    unpaid = dict(session.execute(select(Position.loan_id, Position.unpaid_from)).all())
    report = accrue(engine, country, DAY, chunk_size=250)
    assert (report.loans, report.interest) == (3_000, expected.interest)
    assert (report.penalties, report.penalty_amount) == (expected.penalties, expected.penalty_amount)
    assert expected.penalties > 0 and expected.buckets["current"] < 3_000, "the portfolio has late loans"
    status = accrual.day_status(session, DAY)
    assert (status.due, status.accrued, status.pending, status.interest) == (3_000, 3_000, 0, expected.interest)
    assert status.buckets == {name: expected.buckets[name] for name in status.buckets}

    rows = dict(session.execute(select(Accrual.loan_id, Accrual.interest).where(Accrual.day == DAY)).all())
    assert set(rows) == set(unpaid), "one row per loan"
    assert accrual.last_complete_day(session) == DAY
    some = sorted(rows)[:: len(rows) // 20]
    assert [accrual.accrued_interest(session, id_) for id_ in some] == [rows[id_] for id_ in some], "the rows' sum"
    dpd = dict(session.execute(select(Accrual.loan_id, Accrual.days_past_due).where(Accrual.day == DAY)).all())
    assert dpd == {id_: ageing.days_past_due(unpaid_from, DAY) for id_, unpaid_from in unpaid.items()}
    assert 0 < sum(days > 0 for days in dpd.values()) < 3_000 // 10, "the late loans, and only they, are past due"

    assert_penalties_booked_once(session, expected.penalties, expected.penalty_amount)
    again = accrue(engine, country, DAY, chunk_size=250)
    assert (again.loans, again.chunks, again.penalties) == (0, 0, 0), "a day run again does nothing"
    session.expire_all()
    assert dict(session.execute(select(Accrual.loan_id, Accrual.interest)).all()) == rows


def test_a_loans_ageing_is_as_of_its_latest_accrued_day_whatever_order_the_days_ran_in(
    engine: Engine, session: Session, country: LoadedCountry
) -> None:
    create_portfolio(
        engine, count=200, day=DAY, rounding=rounding_of(country), currency=country.profile.currency, late_every=4
    )
    later = DAY + timedelta(days=1)
    assert accrue(engine, country, later).loans == 200
    assert accrue(engine, country, DAY).loans == 200, "the earlier day is still accrued"
    session.expire_all()
    latest = dict(session.execute(select(Accrual.loan_id, Accrual.days_past_due).where(Accrual.day == later)).all())
    earlier = dict(session.execute(select(Accrual.loan_id, Accrual.days_past_due).where(Accrual.day == DAY)).all())
    assert any(earlier[id_] != days for id_, days in latest.items()), "the earlier day aged the late loans differently"
    for loan in session.scalars(select(Loan).where(Loan.id.in_(sorted(latest)[::10]))):
        assert servicing.ageing_of(session, loan) == servicing.Ageing(later, latest[loan.id])
    assert accrual.last_complete_day(session) == later


def assert_penalties_booked_once(session: Session, count: int, amount: int) -> None:
    """`count` penalty events of `amount` in all, each balanced, each matching one penalised instalment."""
    events = session.execute(
        select(Event.id, Event.loan_id, Event.reference, Event.amount).where(Event.kind == "penalty")
    ).all()
    assert len(events) == count and sum(e.amount for e in events) == amount
    lines = defaultdict(dict)
    for event_id, account, value in session.execute(
        select(Line.event_id, Line.account, Line.amount).where(Line.event_id.in_([e.id for e in events]))
    ):
        lines[event_id][account] = value
    assert all(lines[e.id] == {"receivable:penalties": e.amount, "income:penalties": -e.amount} for e in events)
    penalised = session.execute(
        select(Instalment.loan_id, Instalment.version, Instalment.number, Instalment.penalties).where(
            Instalment.penalised_on.is_not(None), Instalment.penalised_on >= DAY
        )
    ).all()
    charged = {(e.loan_id, *map(int, e.reference.split(":penalty:")[1].split(":"))): e.amount for e in events}
    assert {(i.loan_id, i.version, i.number): i.penalties for i in penalised} == charged


def test_a_month_accrued_day_by_day_earns_each_instalment_exactly_and_penalises_it_once(
    engine: Engine, session: Session, country: LoadedCountry
) -> None:
    portfolio = create_portfolio(
        engine, count=240, day=DAY, rounding=rounding_of(country), currency=country.profile.currency, late_every=4
    )
    last = DAY + timedelta(days=40)
    penalties = 0
    for offset in range((last - DAY).days + 1):
        penalties += accrue(engine, country, DAY + timedelta(days=offset), chunk_size=100).penalties
    assert penalties > portfolio.expected.penalties, "later days charged the instalments that fell due meanwhile"
    instalments = defaultdict(list)
    for row in session.execute(
        select(Instalment.loan_id, Instalment.due_on, Instalment.interest).order_by(Instalment.number)
    ):
        instalments[row.loan_id].append(row)
    eve = DAY - timedelta(days=1)
    for loan in session.scalars(select(Loan)):
        start, earned = loan.disbursed_on, 0
        for instalment in instalments[loan.id]:
            earned += accrual.earned_through(instalment.interest, start, instalment.due_on, last)
            earned -= accrual.earned_through(instalment.interest, start, instalment.due_on, eve)  # before the rows
            start = instalment.due_on
        # every day of every period, exactly once
        assert accrual.accrued_interest(session, loan.id) == earned, loan.id
    assert session.scalar(select(func.count()).select_from(Accrual)) == 240 * 41
    events = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "penalty"))
    assert (
        events
        == penalties
        == session.scalar(select(func.count()).select_from(Instalment).where(Instalment.penalised_on >= DAY))
    )


@pytest.mark.country_independent  # compares two ways of doing the same days in one profile: no country figure
def test_a_loans_position_only_spares_reading_its_instalments(
    engine: Engine, session: Session, country: LoadedCountry
) -> None:
    """Forty days accrued from each loan's position and period give the rows the instalments alone give."""
    create_portfolio(
        engine, count=300, day=DAY, rounding=rounding_of(country), currency=country.profile.currency, late_every=4
    )
    days = [DAY + timedelta(days=n) for n in range(40)]

    def accrue_days() -> dict[tuple[int, date], tuple[int, int]]:
        for day in days:
            accrue(engine, country, day)
        session.expire_all()
        rows = session.execute(select(Accrual.loan_id, Accrual.day, Accrual.interest, Accrual.days_past_due)).all()
        return {(row.loan_id, row.day): (row.interest, row.days_past_due) for row in rows}

    from_positions = accrue_days()
    assert session.scalar(select(func.count()).where(Position.period_due.is_not(None))) > 250, "the periods were kept"
    # Unknown periods and a settlement after every day: each loan walks its instalments every day.
    session.execute(delete(Accrual))
    session.execute(
        update(Position).values(
            period_number=None,
            period_start=None,
            period_due=None,
            period_interest=None,
            last_settled_on=days[-1] + timedelta(days=1),
        )
    )
    session.commit()
    assert accrue_days() == from_positions and len(from_positions) == 300 * 40


def test_the_job_accrues_a_day_it_is_given_and_nothing_the_second_time(
    engine: Engine, runtime: Runtime, country: LoadedCountry
) -> None:
    create_portfolio(engine, count=500, day=DAY, rounding=rounding_of(country), currency=country.profile.currency)
    assert runtime.settings_of(LoansSettings).accrual_chunk >= 100
    assert jobs.accrue(runtime, day=DAY.isoformat()) == 500
    assert jobs.accrue(runtime, day=DAY.isoformat()) == 0
