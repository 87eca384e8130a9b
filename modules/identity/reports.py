"""Figures for the operator console: enrolments received per region and day.

Days are the deployment's own (the country profile's time zone), as the people reading the chart
count them. The query reads two columns of the window's enrolments and the figure is built in
Python, so the day boundary follows the time zone on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.i18n import _, format_date
from ...core.web.charts import Figure
from .models import Enrolment
from .vids import aware

DAYS = 14
MOST_REGIONS = 6  # series drawn one by one; the rest are summed as "other regions" (the palette has 7 colours)


def window_start(today: date, zone: tzinfo, days: int = DAYS) -> datetime:
    """The first moment of the window of `days` days ending with `today` (in `zone`)."""
    return datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=zone)


def enrolments_received(
    *, session: Session, since: datetime, region_level: str, within: frozenset[str] | None = None
) -> list[tuple[datetime, str | None]]:
    """(received at, region) of every enrolment received since `since`, whatever became of it; `within`
    keeps those of a region-limited caller's regions (None: every region)."""
    region = Enrolment.demographics["address"][region_level].as_string()
    query = select(Enrolment.created_at, region).where(Enrolment.created_at >= since)
    if within is not None:
        query = query.where(region.in_(sorted(within)))
    return [(received, where) for received, where in session.execute(query)]


def enrolments_figure(
    rows: Iterable[tuple[datetime, str | None]],
    *,
    today: date,
    zone: tzinfo,
    days: int = DAYS,
    most: int = MOST_REGIONS,
) -> Figure:
    """Enrolments per day (the last `days` days to `today`, in `zone`) stacked by region: the `most`
    busiest regions each, the others together; rows outside the window are left out."""
    first = today - timedelta(days=days - 1)
    counts: Counter[tuple[str | None, int]] = Counter()
    totals: Counter[str | None] = Counter()
    for received, region in rows:
        index = (aware(received).astimezone(zone).date() - first).days
        if 0 <= index < days:
            counts[region, index] += 1
            totals[region] += 1
    ranked = sorted(totals, key=lambda region: (-totals[region], region is None, region or ""))
    shown, folded = ranked[:most], ranked[most:]
    if len(folded) == 1:  # one region more fits in its own series rather than as "other regions"
        shown, folded = ranked, []
    series = {_region_name(region): [counts[region, index] for index in range(days)] for region in shown}
    if folded:
        series[_("other regions")] = [sum(counts[region, index] for region in folded) for index in range(days)]
    if not series:
        series[_("all regions")] = [0] * days
    labels = [format_date(first + timedelta(days=index), "short") for index in range(days)]
    return Figure.of(_("Enrolments received per day, by region"), _("Day"), labels, series, kind="stacked")


def _region_name(region: str | None) -> str:
    return region if region is not None else _("no region")
