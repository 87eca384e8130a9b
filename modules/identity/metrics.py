"""Identity's series at /metrics (core/metrics.py): enrolments and authentication outcomes as they happen,
and the outbox's depth computed when scraped. Labels are outcomes, never who."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .delivery import outbox_depth

if TYPE_CHECKING:
    from ...core.runtime import Runtime

ENROLMENTS = Counter(
    "nation_stack_identity_enrolments_total", "Enrolments processed, by outcome (issued, held)", ["outcome"]
)
AUTHENTICATIONS = Counter(
    "nation_stack_identity_authentications_total",
    "Authentication and eKYC requests, by outcome (success, no_match, locked_out, inactive, factor_locked, refused)",
    ["outcome"],
)


def authentication_outcome(*, authenticated: bool, locked_out: bool, reason: str | None) -> str:
    """A closed set of outcomes, from the result's fields (its reason is free text)."""
    if authenticated:
        return "success"
    if locked_out:
        return "locked_out"
    if reason is not None and reason.startswith("the ID is"):
        return "inactive"
    if reason is not None and reason.startswith("locked by the resident"):
        return "factor_locked"
    return "no_match"


class OutboxDepth(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "nation_stack_identity_outbox_depth", "Messages to residents (OTPs, notices) waiting for delivery"
        )
        with self.runtime.session_factory() as session:
            family.add_metric([], float(outbox_depth(session)))
        yield family
