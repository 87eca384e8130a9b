"""Arrears ageing: how late a loan is on a day, and its portfolio-at-risk bucket.

A loan's days past due on day D are D − the due date of its oldest instalment not settled, when
that date is before D (0 otherwise). The loan's position keeps that due date (`unpaid_from`,
kept by every settlement), so ageing is read, never stored: it cannot fall behind a repayment,
and the daily accrual writes no loan for it (it keeps each day's figure in that day's accrual row).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, case

# PAR buckets: (highest days past due, name); above the last: "90+".
BUCKETS: tuple[tuple[int, str], ...] = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"))
OVER = "90+"
BUCKET_NAMES = (*(name for _, name in BUCKETS), OVER)  # every bucket, least late first


def bucket(days_past_due: int) -> str:
    for highest, name in BUCKETS:
        if days_past_due <= highest:
            return name
    return OVER


def days_past_due(unpaid_from: date | None, day: date | None) -> int:
    """Days past `unpaid_from` (the oldest unsettled due date) on `day`; 0 with either missing or not yet passed."""
    if unpaid_from is None or day is None or unpaid_from >= day:
        return 0
    return (day - unpaid_from).days


def bucket_sql(unpaid_from: ColumnElement[date], day: date) -> ColumnElement[str]:
    """SQL for `bucket(days_past_due(unpaid_from, day))` (what the portfolio groups by)."""
    whens = [(unpaid_from.is_(None), BUCKETS[0][1])]
    whens += [(unpaid_from >= day - timedelta(days=highest), name) for highest, name in BUCKETS]
    return case(*whens, else_=OVER)


def later_than(unpaid_from: ColumnElement[date], days: int, day: date) -> ColumnElement[bool]:
    """SQL for `days_past_due(unpaid_from, day) > days`."""
    return unpaid_from < day - timedelta(days=days)
