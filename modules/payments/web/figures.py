"""What the payments charts show, as pure functions of the reconciliation (tested without a page)."""

from __future__ import annotations

from collections.abc import Sequence

from ....core.i18n import _
from ....core.web.charts import Figure
from ..reconciliations import Reconciliation


def outcomes_figure(reports: Sequence[Reconciliation]) -> Figure:
    """Payments per cycle by outcome, stacked: paid, failed (returned) and still pending, counted."""
    return Figure.of(
        _("Payments by outcome"),
        _("Cycle"),
        [f"{report.programme} {report.cycle}" for report in reports],
        {
            _("Paid"): [report.paid.count for report in reports],
            _("Failed"): [report.failed.count for report in reports],
            _("Pending"): [report.pending.count for report in reports],
        },
        kind="stacked",
    )
