"""The portfolio charts, shaped from the figures of `servicing.portfolio` (the page asks for the viewer's regions).

Outstanding is what borrowers still owe of active loans, by the arrears bucket the daily ageing last
wrote on each loan; disbursed is the number of loans made in each of the last months.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from ....core.i18n import N_, _, format_date
from ....core.money import minor_units
from ....core.web.charts import Figure

BUCKETS = {
    "current": N_("current"),
    "1-30": N_("1–30 days late"),
    "31-60": N_("31–60 days late"),
    "61-90": N_("61–90 days late"),
    "90+": N_("over 90 days late"),
}


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
