"""Background jobs: what a part declares (`Job`), their metrics, and handing work to the worker.

A part lists its jobs in `Module.jobs`; the worker (core/worker.py, `python -m <package> worker`)
runs them with procrastinate, so the core never names a module's job. A job is a plain function
of the runtime and its keyword arguments; it is retried with exponential back-off when it raises.

On PostgreSQL the queue is procrastinate's tables (applied by `db upgrade`), shared by the API
and every worker: the API hands work over with `defer`. On SQLite the queue lives in the worker
process (procrastinate's in-memory connector): periodic jobs run, but nothing can be handed over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings
from sqlalchemy import text
from sqlalchemy.orm import Session

from .db import is_sqlite

if TYPE_CHECKING:
    import procrastinate

    from .runtime import Runtime
    from .settings import Settings

JobFunction = Callable[..., Any]  # run(runtime, **arguments); its return value is ignored
# A PostgreSQL table whose name starts with this belongs to procrastinate, not to a branch's models.
QUEUE_TABLE_PREFIX = "procrastinate_"


@dataclass(frozen=True)
class Job:
    """One kind of background work a part offers.

    `name` is `<part>.<job>`. `schedule` is a cron line for a periodic job (five fields, or a sixth
    for seconds: `* * * * * */5`), None for one deferred on demand; JOB_SCHEDULES in the
    environment may change any job's schedule or switch it off ("off").
    A failed run is tried again up to `retries` more times, waiting `backoff_seconds` ** attempt
    seconds (2, 4, 8, ... by default) before each; then the job is marked failed.
    """

    name: str
    run: JobFunction
    schedule: str | None = None
    retries: int = 3
    backoff_seconds: int = 2
    summary: str = ""


def session_job(
    name: str, function: Callable[..., Any], settings: type[BaseSettings] | None = None, **options: Any
) -> Job:
    """A job running `function(session, [settings,] **arguments)` in a session committed when it returns.

    The shape of most module work, so declaring it is one line; `settings` is a part's settings class
    (the core's `Settings` included). The function may commit as it goes (a delivery pass commits each
    message); what it left uncommitted is committed at the end, or rolled back when it raises. E.g.
    `session_job("identity.deliver_notifications", deliver_pending, Settings, schedule="* * * * *")`.
    """

    def run(runtime: Runtime, **arguments: Any) -> None:
        with runtime.session_factory() as session:
            if settings is None:
                function(session, **arguments)
            else:
                function(session, runtime.settings_of(settings), **arguments)
            session.commit()

    return Job(name, run, **options)


# Metrics on prometheus_client's default registry: the API's /metrics and the worker's own port show them.
JOB_RUNS = Counter(
    "nation_stack_job_runs", "Job runs by job and outcome (succeeded, retried, failed)", ["job", "outcome"]
)
JOB_DURATION = Histogram("nation_stack_job_duration_seconds", "How long one run of a job took", ["job"])
JOB_LAG = Gauge(
    "nation_stack_job_lag_seconds", "Now minus the scheduled time of the oldest job waiting to run (0: none waits)"
)


class HandOffUnavailable(RuntimeError):
    """Work can be handed to a worker only on PostgreSQL, with WORKER_HANDOFF on."""


@dataclass(frozen=True)
class JobStatus:
    id: int
    job: str
    status: str  # todo, doing, succeeded, failed, cancelled, aborting, aborted
    attempts: int
    scheduled_at: datetime | None


class JobOut(BaseModel):
    """A job handed to a worker: poll `location` until `status` is succeeded (or failed)."""

    job_id: int
    job: str
    status: str = Field(description="todo, doing, succeeded, failed, cancelled, aborting or aborted")
    attempts: int = 0
    location: str


def hands_off(settings: Settings) -> bool:
    """Whether the API hands long work to a worker instead of doing it in the request."""
    return settings.worker_handoff and not is_sqlite(settings.database_url)


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (procrastinate speaks psycopg directly)."""
    from sqlalchemy import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@cache
def _deferring_app(database_url: str) -> procrastinate.App:
    """One procrastinate app per process for deferring, its small connection pool opened on first use."""
    import procrastinate

    connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo(database_url), min_size=1, max_size=4)
    return procrastinate.App(connector=connector).open()


def defer(settings: Settings, job: str, *, lock: str | None = None, **arguments: Any) -> int:
    """Queue `job` with `arguments` for a worker; returns the job's id.

    With `lock`, a job already waiting under the same lock is returned instead of queueing a
    second one (a repeated request hands over the same work once).
    """
    import procrastinate.exceptions

    if not hands_off(settings):
        raise HandOffUnavailable(job)
    app = _deferring_app(settings.database_url)
    try:
        return app.configure_task(job, queueing_lock=lock, lock=lock).defer(**arguments)
    except procrastinate.exceptions.AlreadyEnqueued:
        waiting = _waiting_under_lock(app, lock)
        if waiting is None:  # it started meanwhile: queue again, a job does nothing twice
            return app.configure_task(job, queueing_lock=lock, lock=lock).defer(**arguments)
        return waiting


def _waiting_under_lock(app: procrastinate.App, lock: str | None) -> int | None:
    rows = app.job_manager.list_jobs(queueing_lock=lock, status="todo")
    return next((job.id for job in rows if job.id is not None), None)


def status(session: Session, job_id: int) -> JobStatus | None:
    """A queued job's state, read from procrastinate's table (None: no such job, or no queue here)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = session.execute(
        text("SELECT id, task_name, status, attempts, scheduled_at FROM procrastinate_jobs WHERE id = :id"),
        {"id": job_id},
    ).first()
    if row is None:
        return None
    return JobStatus(id=row.id, job=row.task_name, status=str(row.status), attempts=row.attempts, scheduled_at=row[4])


def oldest_waiting_lag(waiting_since: list[datetime], now: datetime | None = None) -> float:
    """Seconds the oldest job due by now has waited (0 when none is due)."""
    now = now or datetime.now(UTC)
    due = [moment for moment in waiting_since if moment <= now]
    return (now - min(due)).total_seconds() if due else 0.0


def installed_jobs() -> tuple[Job, ...]:
    """Every installed part's jobs, the core's first; a name declared twice is refused."""
    from .registry import installed_parts

    jobs = tuple(job for part in installed_parts() for job in part.jobs)
    names = [job.name for job in jobs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"jobs declared twice: {', '.join(duplicates)}")
    return jobs
