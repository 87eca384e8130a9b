"""The worker process (`python -m <package> worker`): every installed part's jobs, run by procrastinate.

On PostgreSQL the worker shares procrastinate's queue with the API and other workers: a job runs
on one worker at a time (procrastinate fetches with SKIP LOCKED), and a job left `doing` by a worker
that died (no heartbeat for JOB_STALLED_SECONDS) is put back in the queue by the core's
`core.retry_stalled_jobs`. On SQLite the queue is the worker's own memory: periodic jobs only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import procrastinate
from procrastinate.testing import InMemoryConnector
from prometheus_client import start_http_server
from sqlalchemy import text

from . import jobs
from .db import is_sqlite
from .jobs import JOB_DURATION, JOB_LAG, JOB_RUNS, Job
from .runtime import Runtime

logger = logging.getLogger(__name__)

RETRY_STALLED = "core.retry_stalled_jobs"
REMOVE_OLD_JOBS = "core.remove_old_jobs"
OFF = "off"
LAG_REFRESH_SECONDS = 5.0


def connector_for(runtime: Runtime) -> procrastinate.BaseConnector:
    if is_sqlite(runtime.settings.database_url):
        return InMemoryConnector()
    return procrastinate.PsycopgConnector(conninfo=jobs.conninfo(runtime.settings.database_url))


def build_app(
    runtime: Runtime, connector: procrastinate.BaseConnector | None = None, declared: tuple[Job, ...] | None = None
) -> procrastinate.App:
    """A procrastinate app holding every installed part's jobs (and the queue's own upkeep on PostgreSQL)."""
    connector = connector or connector_for(runtime)
    app = procrastinate.App(connector=connector, periodic_defaults={"max_delay": 60})
    for job in jobs.installed_jobs() if declared is None else declared:
        _register(app, job, runtime)
    if not isinstance(connector, InMemoryConnector):
        _register_queue_upkeep(app, runtime)
    return app


def schedule_of(job_name: str, declared: str | None, runtime: Runtime) -> str | None:
    """The job's cron line in this deployment: JOB_SCHEDULES overrides the declared one; "off" means none."""
    chosen = runtime.settings.job_schedules.get(job_name, declared)
    return None if chosen in (None, OFF) else chosen


def _register(app: procrastinate.App, job: Job, runtime: Runtime) -> None:
    def run(timestamp: int | None = None, **arguments: Any) -> None:  # periodic runs get their `timestamp`
        job.run(runtime, **arguments)

    run.__name__ = run.__qualname__ = job.name.replace(".", "_")
    strategy = procrastinate.RetryStrategy(max_attempts=job.retries, exponential_wait=job.backoff_seconds)
    task = app.task(name=job.name, retry=strategy if job.retries else False)(run)
    cron = schedule_of(job.name, job.schedule, runtime)
    if cron is not None:
        app.periodic(cron=cron)(task)


def _register_queue_upkeep(app: procrastinate.App, runtime: Runtime) -> None:
    settings = runtime.settings

    async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        for stalled in await manager.get_stalled_jobs(seconds_since_heartbeat=settings.job_stalled_seconds):
            logger.warning("job %s (%s) stalled: its worker stopped; queued again", stalled.id, stalled.task_name)
            try:
                await manager.retry_job(stalled)
            except Exception:  # another worker put it back first
                logger.info("job %s was already put back", stalled.id)
        await manager.prune_stalled_workers(seconds_since_heartbeat=settings.job_stalled_seconds)

    async def remove_old_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        await context.app.job_manager.delete_old_jobs(nb_hours=settings.job_retention_hours, include_failed=False)

    upkeep = ((RETRY_STALLED, "* * * * *", retry_stalled_jobs), (REMOVE_OLD_JOBS, "17 3 * * *", remove_old_jobs))
    for name, declared, function in upkeep:
        task = app.task(name=name, pass_context=True)(function)
        cron = schedule_of(name, declared, runtime)
        if cron is not None:
            app.periodic(cron=cron)(task)


async def record_metrics(
    call_next: Callable[[], Awaitable[Any]], context: procrastinate.JobContext, worker: Any
) -> Any:
    """Count each run by outcome and time it (a worker middleware: it wraps every job on the loop)."""
    name = context.job.task_name
    started = time.perf_counter()
    try:
        result = await call_next()
    except BaseException as error:
        task = context.app.tasks.get(name)
        strategy = task.retry_strategy if task is not None else None
        retried = strategy is not None and strategy.get_retry_decision(exception=error, job=context.job) is not None
        JOB_RUNS.labels(name, "retried" if retried else "failed").inc()
        logger.warning("job %s %s: %s", name, "will be retried" if retried else "failed", error)
        raise
    else:
        JOB_RUNS.labels(name, "succeeded").inc()
        return result
    finally:
        JOB_DURATION.labels(name).observe(time.perf_counter() - started)


def waiting_since(runtime: Runtime, connector: procrastinate.BaseConnector) -> list[datetime]:
    """When each job waiting in the queue was due: its scheduled time, else when it was queued."""
    if isinstance(connector, InMemoryConnector):
        moments = []
        for job_id, row in connector.jobs.items():
            if row["status"] != "todo":
                continue
            queued = [event["at"] for event in connector.events.get(job_id, []) if event["type"] == "deferred"]
            due = row.get("scheduled_at") or (queued[0] if queued else None)
            if due is not None:
                moments.append(due if due.tzinfo else due.replace(tzinfo=UTC))
        return moments
    query = text(
        "SELECT min(coalesce(j.scheduled_at, e.at)) FROM procrastinate_jobs j "
        "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred' "
        "WHERE j.status = 'todo' AND coalesce(j.scheduled_at, e.at) <= now()"
    )
    with runtime.engine.connect() as connection:
        oldest = connection.execute(query).scalar()
    return [oldest] if oldest is not None else []


async def refresh_lag(runtime: Runtime, connector: procrastinate.BaseConnector) -> None:
    while True:
        try:
            moments = await asyncio.to_thread(waiting_since, runtime, connector)
            JOB_LAG.set(jobs.oldest_waiting_lag(moments))
        except Exception:
            logger.exception("could not read the queue's lag")
        await asyncio.sleep(LAG_REFRESH_SECONDS)


def serve_metrics(host: str, port: int) -> None:
    """The worker's metrics; a port already taken (a second worker on the host) costs the metrics, not the jobs."""
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        logger.error(
            "worker metrics not served on %s:%s (%s): give each worker its own WORKER_METRICS_PORT", host, port, error
        )
        return
    logger.info("worker metrics on %s:%s", host, port)


def run(runtime: Runtime, *, concurrency: int, name: str | None = None) -> None:
    """Run jobs until stopped (SIGINT/SIGTERM finish the jobs in hand first)."""
    settings = runtime.settings
    if settings.worker_metrics_port:
        serve_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    connector = connector_for(runtime)
    app = build_app(runtime, connector)
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "name": name,
        "worker_middleware": [record_metrics],
        "fetch_job_polling_interval": settings.job_poll_seconds,
        "update_heartbeat_interval": settings.job_heartbeat_seconds,
        "stalled_worker_timeout": settings.job_stalled_seconds,
        "listen_notify": not isinstance(connector, InMemoryConnector),
    }

    async def main() -> None:
        async with app.open_async():
            lag = asyncio.create_task(refresh_lag(runtime, connector))
            try:
                await app.run_worker_async(**options)
            finally:
                lag.cancel()

    for unknown in sorted(
        set(settings.job_schedules) - {*app.tasks, RETRY_STALLED, REMOVE_OLD_JOBS}
    ):  # a typo would change nothing, silently
        logger.warning("JOB_SCHEDULES names %s, which no installed part declares", unknown)
    queue = "in-memory" if is_sqlite(settings.database_url) else "PostgreSQL"
    logger.info("worker started (%s queue): %s", queue, ", ".join(sorted(app.tasks)))
    asyncio.run(main())
