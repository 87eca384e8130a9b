"""Tax's background job: book the interest accrued on overdue balances, daily (core/jobs.py)."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.exc import IntegrityError

from ...core.jobs import Job
from ...core.runtime import Runtime
from . import accounts

logger = logging.getLogger(__name__)

ACCRUE_INTEREST = "tax.accrue_interest"
ACTOR = "worker:tax.accrue_interest"


def accrue_interest(runtime: Runtime, today: date | None = None) -> int:
    """Book each overdue taxpayer's interest up to today, one taxpayer per transaction; returns how many were charged.

    A run repeated the same day books nothing more (the entry's reference names the day).
    """
    today = today or date.today()
    with runtime.session_factory() as session:
        tins = accounts.overdue_tins(session=session, today=today)
    charged = 0
    for tin in tins:
        try:
            with runtime.session_factory.begin() as session:
                entry = accounts.accrue_interest(
                    session=session, tin=tin, country=runtime.country, today=today, actor=ACTOR
                )
        except IntegrityError:  # another worker booked this taxpayer's day first
            continue
        charged += entry is not None
    logger.info("interest booked for %s of %s overdue taxpayers", charged, len(tins))
    return charged


JOBS = (Job(ACCRUE_INTEREST, accrue_interest, schedule="30 1 * * *", summary="Book interest on overdue tax daily"),)
