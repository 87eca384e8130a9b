"""The portfolio charts' figures, read from the loans tables with two small queries (tested without a page).

Outstanding is what borrowers still owe of active loans (the receivable lines of the loan book,
book.py), by the arrears bucket the daily ageing last wrote on each loan; disbursed is the number of
loans made in each of the last months. Both are limited to the viewer's regions, as the API's reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.i18n import N_, _, format_date
from ....core.money import minor_units
from ....core.web.charts import Figure
from ..models import Line, Loan, LoanState

BUCKETS = {
    "current": N_("current"),
    "1-30": N_("1–30 days late"),
    "31-60": N_("31–60 days late"),
    "61-90": N_("61–90 days late"),
    "90+": N_("over 90 days late"),
}
MONTHS = 12


def _within(query, regions: frozenset[str] | None):  # type: ignore[no-untyped-def]
    """Limited to `regions` (None: everywhere); a loan without a region is reached by unlimited roles only."""
    return query if regions is None else query.where(Loan.region.in_(sorted(regions)))


def outstanding_by_bucket(session: Session, regions: frozenset[str] | None) -> dict[str, int]:
    """Minor units still owed on active loans, by arrears bucket (every known bucket, zero when empty)."""
    query = (
        select(Loan.arrears_bucket, func.sum(Line.amount))
        .join(Line, Line.loan_id == Loan.id)
        .where(Loan.state == LoanState.ACTIVE, Line.account.like("receivable:%"))
        .group_by(Loan.arrears_bucket)
    )
    found = {bucket: 0 for bucket in BUCKETS}
    for bucket, total in session.execute(_within(query, regions)).all():
        found[bucket] = found.get(bucket, 0) + int(total or 0)
    return found


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last `months` months, oldest first, this month last."""
    starts = []
    year, month = today.year, today.month
    for _step in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def disbursed_by_month(session: Session, regions: frozenset[str] | None, today: date) -> dict[date, int]:
    """The number of loans disbursed in each of the last months (keyed by the month's first day)."""
    starts = month_starts(today)
    query = select(Loan.disbursed_on).where(Loan.disbursed_on >= starts[0])
    counted = Counter(day.replace(day=1) for day in session.scalars(_within(query, regions)))
    return {start: counted.get(start, 0) for start in starts}


def whole_units(minor: int, currency: str) -> int:
    """Minor units as whole major units (rounded down): what a chart's axis shows."""
    return minor // 10 ** minor_units(currency)


def arrears_figure(outstanding: Mapping[str, int], currency: str) -> Figure:
    labels = [_(BUCKETS[bucket]) if bucket in BUCKETS else bucket for bucket in outstanding]
    return Figure.of(
        _("Outstanding by arrears"),
        _("Arrears"),
        labels,
        {_("Outstanding ({currency}, whole units)").format(currency=currency): _units(outstanding.values(), currency)},
    )


def disbursed_figure(counts: Mapping[date, int]) -> Figure:
    labels = [format_date(start, format="MMM y") for start in counts]
    return Figure.of(_("Loans disbursed per month"), _("Month"), labels, {_("Loans"): list(counts.values())})


def _units(values: Iterable[int], currency: str) -> list[int]:
    return [whole_units(value, currency) for value in values]
