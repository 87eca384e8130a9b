"""Metrics at /metrics, in the Prometheus text format (prometheus-client).

Two kinds of series:
- counters, gauges and histograms that code moves as things happen (request latency here; the jobs'
  runs, durations and lag in core/jobs.py; each module's own in its `metrics.py`, e.g. identity's
  authentication outcomes), kept in prometheus-client's process-wide registry;
- gauges computed when scraped, from the database or files: the core's (audit checkpoint age,
  licence) and whatever each part declares in `Module.metrics` (collector factories given the
  runtime), so the core never names a module. They are built per app, in `app_registry`.

/metrics is open unless `METRICS_TOKEN` is set; then it answers only `Authorization: Bearer <token>`.
It carries no personal data either way (route templates, outcomes, counts). With `serve --workers N`
each process counts its own requests and a scrape reaches one of them: run one worker per container
and let Prometheus scrape every container (documented in docs/observability.md).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import audit
from .registry import installed_parts
from .stack import runtime_licence_status

if TYPE_CHECKING:
    from .runtime import Runtime

PREFIX = "nation_stack_"

REQUEST_SECONDS = Histogram(
    f"{PREFIX}http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template (never the raw path) and status code",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(method=method, route=route, status=str(status)).observe(seconds)


class AuditCheckpointAge(Collector):
    """Seconds since the newest signed audit checkpoint (no sample until one is written)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}audit_checkpoint_age_seconds", "Seconds since the newest signed audit checkpoint was written"
        )
        settings = self.runtime.settings
        newest = audit.newest_checkpoint(settings.audit_checkpoint_dir, secret=settings.secret_key.get_secret_value())
        if newest is not None:
            written = datetime.fromisoformat(newest.created_at)
            family.add_metric([], max(time.time() - written.timestamp(), 0.0))
        yield family


class LicenceCollector(Collector):
    """The licence grant: valid (1/0, labelled with its status) and days to its expiry (when there is one)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        status = runtime_licence_status(self.runtime)
        valid = GaugeMetricFamily(
            f"{PREFIX}licence_grant_valid",
            "1 when the licence grant verifies and covers this deployment, else 0 (see status)",
            labels=["status"],
        )
        valid.add_metric([status.status], 1.0 if status.valid else 0.0)
        yield valid
        days = GaugeMetricFamily(f"{PREFIX}licence_days_to_expiry", "Days until the licence grant expires")
        if status.days_to_expiry is not None:
            days.add_metric([], float(status.days_to_expiry))
        yield days


def app_registry(runtime: Runtime) -> CollectorRegistry:
    """The scrape-time collectors of every installed part (the core's in core/part.py), bound to this runtime."""
    registry = CollectorRegistry(auto_describe=False)
    for part in installed_parts():
        for factory in part.metrics:
            registry.register(factory(runtime))
    return registry


def exposition(runtime_registry: CollectorRegistry) -> bytes:
    """The process-wide series, then this app's scrape-time ones (their names never overlap)."""
    return generate_latest(REGISTRY) + generate_latest(runtime_registry)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    token = request.app.state.settings.metrics_token
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}"
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
            refused = "metrics need a bearer token\n"
            return PlainTextResponse(refused, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(exposition(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
