"""Loans' background job: the daily accrual and ageing of the portfolio (accrual.py), with penalties.

`loans.accrue` runs at 01:20 and accrues every day from the one after the last complete day to
yesterday (in the country's time zone), at most 31 days back: a worker that was down for a few
days catches up, each day exactly once. Deferred with `day="YYYY-MM-DD"`, it accrues that day.
Every run is safe to repeat or to cut short: a chunk is done once (accrual.run_worker).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from ...core.db import make_engine, make_session_factory
from ...core.jobs import Job
from ...core.runtime import Runtime
from . import accrual
from .config import LoansCountry, LoansSettings

logger = logging.getLogger(__name__)

ACCRUE = "loans.accrue"
CATCH_UP_DAYS = 31


def days_to_accrue(last_complete: date | None, yesterday: date) -> list[date]:
    """The days after `last_complete` up to `yesterday`, at most CATCH_UP_DAYS of them (just yesterday when none)."""
    first = (
        yesterday
        if last_complete is None
        else max(last_complete + timedelta(days=1), yesterday - timedelta(days=CATCH_UP_DAYS - 1))
    )
    return [first + timedelta(days=n) for n in range((yesterday - first).days + 1)]


def accrue(runtime: Runtime, day: str | None = None) -> int:
    """Accrue and age `day` (default: the days up to yesterday not yet complete); returns the loans accrued."""
    section: LoansCountry = runtime.country.section("loans")
    rounding = section.rounding.for_currency(runtime.country.profile.currency)
    settings = runtime.settings_of(LoansSettings)
    engine = accrual.immediate_transactions(make_engine(runtime.settings.database_url))
    accrued = 0
    try:
        factory = make_session_factory(engine)
        if day is not None:
            days = [date.fromisoformat(day)]
        else:
            with factory() as session:
                days = days_to_accrue(
                    accrual.last_complete_day(session), accrual.today_in(runtime.country) - timedelta(days=1)
                )
        for each in days:
            report = accrual.run_worker(
                session_factory=factory, day=each, rounding=rounding, chunk_size=settings.accrual_chunk, worker=ACCRUE
            )
            accrued += report.loans
            logger.info(
                "loans accrued for %s: %s (%s chunks), %s penalties",
                each,
                report.loans,
                report.chunks,
                report.penalties,
            )
    finally:
        engine.dispose()
    return accrued


JOBS = (
    Job(
        ACCRUE,
        accrue,
        schedule="20 1 * * *",
        retries=5,
        backoff_seconds=3,
        summary="Accrue interest, age the portfolio and charge late penalties, daily",
    ),
)
