"""What the tax charts show, as pure functions of assessments and the law (tested without a page)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence

from ....core.i18n import _
from ....core.web.charts import Figure
from ..law import Bracket, _percent


def bracket_counts(taxables: Iterable[int], brackets: Sequence[Bracket]) -> list[int]:
    """How many taxable incomes reach each bracket as their top one; first, those the scale taxes nothing of.

    A bracket taxes the part of the income above its threshold (law.py), so an income reaches the last
    bracket whose threshold it exceeds.
    """
    thresholds = [bracket.threshold for bracket in brackets]
    counts = [0] * (len(brackets) + 1)
    for taxable in taxables:
        counts[bisect_left(thresholds, taxable)] += 1
    return counts


def brackets_figure(
    taxables: Iterable[int], brackets: Sequence[Bracket], year: int, amount: Callable[[int], str]
) -> Figure:
    """Assessments of fiscal `year` by the top bracket of its scale their taxable income reaches."""
    labels = [_("None: nothing taxable")] + [
        _("{rate} above {threshold}").format(rate=_percent(bracket.rate), threshold=amount(bracket.threshold))
        for bracket in brackets
    ]
    return Figure.of(
        _("Assessments of {year} by top income-tax bracket").format(year=year),
        _("Top bracket reached"),
        labels,
        {_("Assessments"): bracket_counts(taxables, brackets)},
    )
