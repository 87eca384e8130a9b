"""Background jobs: the worker process, retries with back-off, metrics and the core's own jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import httpx
import pytest
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine, inspect, make_url, select, text, update
from sqlalchemy.orm import Session

from ..conftest import PROJECT_ROOT
from ..core import audit, jobs, migrate, staff, upkeep, worker
from ..core.db import make_engine
from ..core.jobs import Job
from ..core.licence import Compliance
from ..core.models import AuditEvent, SignInAttempts, StaffSession, utcnow
from ..core.registry import installed_parts
from ..core.runtime import Runtime
from ..core.settings import Settings
from ..core.stack import log_licence_status
from .workers import EVERY_SECOND, empty_queue, free_port, only_schedules, running_worker, worker_env

# Worker processes, retries and the core's jobs read no country data: run per module combination, not per country.
pytestmark = pytest.mark.country_independent

CHECKPOINT = "core.audit_checkpoint"


def runs(job: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("nation_stack_job_runs_total", {"job": job, "outcome": outcome}) or 0.0


@pytest.mark.each_module
def test_every_part_names_its_jobs_after_itself_and_no_name_twice() -> None:
    for part in installed_parts():
        assert all(job.name.startswith(f"{part.name}.") for job in part.jobs), part.name
    names = [job.name for job in jobs.installed_jobs()]
    assert len(names) == len(set(names))
    assert {CHECKPOINT, "core.purge_expired", "core.licence_status"} <= set(names)


def test_the_worker_process_runs_the_periodic_audit_checkpoint_and_serves_its_metrics(
    settings: Settings, engine: Engine, tmp_path
) -> None:
    empty_queue(engine)
    checkpoints, port = tmp_path / "checkpoints", free_port()
    env = worker_env(
        settings,
        schedules=only_schedules(core_audit_checkpoint=EVERY_SECOND),
        AUDIT_CHECKPOINT_DIR=str(checkpoints),
        WORKER_METRICS_PORT=str(port),
    )
    with running_worker(env, tmp_path / "worker.log") as process:
        written = process.wait_for(lambda: sorted(checkpoints.glob("*.json")), "audit checkpoint file")
        metrics = process.wait_for(
            lambda: _scrape(port, f'nation_stack_job_runs_total{{job="{CHECKPOINT}",outcome="succeeded"}}'),
            "the checkpoint's run in the worker's metrics",
        )
    assert written[0].stat().st_size > 0
    assert "nation_stack_job_lag_seconds" in metrics
    assert f'nation_stack_job_duration_seconds_count{{job="{CHECKPOINT}"}}' in metrics
    with Session(engine) as session:  # the file is the chain's signed head: `audit verify` accepts it
        secret = settings.secret_key.get_secret_value()
        report = audit.verify_chain(session=session, checkpoints=audit.read_checkpoints(checkpoints, secret=secret))
    assert report.first_broken_id is None and not report.problems


def _scrape(port: int, wanted: str) -> str | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    return text if wanted in text else None


def test_a_failing_job_is_retried_with_exponential_back_off_then_marked_failed(
    runtime: Runtime, engine: Engine, tmp_path
) -> None:
    """The real checkpoint job, on a chain someone rewrote: it refuses to sign, twice more after 2 s then 4 s."""
    empty_queue(engine)
    with Session(engine) as session, session.begin():
        audit.record(session=session, actor="t", action="test.done", subject="s1")
    with engine.begin() as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.subject == "s1").values(actor="someone else"))
    attempts: list[float] = []

    def checkpoint(rt: Runtime) -> None:
        attempts.append(time.monotonic())
        upkeep.audit_checkpoint(rt)

    settings = runtime.settings.model_copy(update={"audit_checkpoint_dir": tmp_path / "checkpoints"})
    declared = (Job(CHECKPOINT, checkpoint, retries=2, backoff_seconds=2),)
    app = worker.build_app(replace(runtime, settings=settings), declared=declared)
    retried, failed = runs(CHECKPOINT, "retried"), runs(CHECKPOINT, "failed")

    async def scenario() -> str:
        async with app.open_async():
            job_id = await app.configure_task(CHECKPOINT).defer_async()
            running = asyncio.create_task(
                app.run_worker_async(
                    concurrency=1,
                    fetch_job_polling_interval=0.1,
                    listen_notify=False,
                    install_signal_handlers=False,
                    worker_middleware=[worker.record_metrics],
                )
            )
            try:
                for _tick in range(200):
                    state = await app.job_manager.get_job_status_async(job_id)
                    if state.value in ("failed", "succeeded"):
                        return state.value
                    await asyncio.sleep(0.1)
                return "still running"
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)

    assert asyncio.run(scenario()) == "failed"
    assert len(attempts) == 3
    first_wait, second_wait = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 2 <= first_wait < 4
    assert 4 <= second_wait < 7
    assert runs(CHECKPOINT, "retried") - retried == 2
    assert runs(CHECKPOINT, "failed") - failed == 1
    assert not (tmp_path / "checkpoints").exists()  # a chain that does not verify is never signed


@pytest.mark.postgresql
def test_the_worker_process_retries_a_failing_job_2_4_8_seconds_apart_then_marks_it_failed(
    settings: Settings, engine: Engine, tmp_path
) -> None:
    """The same in a `worker` process with the job as the core declares it (3 retries, back-off 2 s)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a job is handed to a worker process through the PostgreSQL queue")
    empty_queue(engine)
    with Session(engine) as session, session.begin():
        audit.record(session=session, actor="t", action="test.done", subject="s1")
    with engine.begin() as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.subject == "s1").values(actor="someone else"))
    job_id = jobs.defer(settings.model_copy(update={"worker_handoff": True}), CHECKPOINT)
    env = worker_env(settings, schedules=only_schedules(), AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"))
    with running_worker(env, tmp_path / "worker.log") as process, Session(engine) as session:
        found = process.wait_for(
            lambda: (state := jobs.status(session, job_id)) and state.status == "failed" and state, "the job failed"
        )
        log = process.output()
    assert found.attempts == 4
    with engine.connect() as connection:
        started = connection.execute(
            text("SELECT at FROM procrastinate_events WHERE job_id = :id AND type = 'started' ORDER BY at"),
            {"id": job_id},
        ).scalars()
        moments = list(started)
    waits = [(later - earlier).total_seconds() for earlier, later in pairwise(moments)]
    assert len(waits) == 3, waits
    assert 2 <= waits[0] < 4 and 4 <= waits[1] < 7 and 8 <= waits[2] < 12, waits
    assert log.count(f"job {CHECKPOINT} will be retried") == 3 and log.count(f"job {CHECKPOINT} failed") == 1
    assert not (tmp_path / "checkpoints").exists()


def test_the_purge_removes_only_expired_sessions_and_past_sign_in_windows(runtime: Runtime, session: Session) -> None:
    now = utcnow()
    account = staff.create_account(
        session=session, user_name="clerk", display_name="Clerk", password="a long enough password", actor="t"
    )
    hours = timedelta(hours=1)
    grace = timedelta(hours=runtime.settings.purge_grace_hours)
    rows = {
        "expired": dict(kind="bearer", expires_at=now - grace - hours, last_seen_at=now - grace - hours),
        "expired lately": dict(kind="bearer", expires_at=now - hours, last_seen_at=now - 2 * hours),
        "live": dict(kind="cookie", expires_at=now + hours, last_seen_at=now),
        "idle": dict(kind="cookie", expires_at=now + hours, last_seen_at=now - grace - 2 * hours),
    }
    for name, values in rows.items():
        session.add(StaffSession(token_hash=name.ljust(64, "0"), account_id=account.id, **values))
    session.add(SignInAttempts(key="staff:10.0.0.1", window_started_at=now - timedelta(minutes=5), attempts=3))
    session.add(SignInAttempts(key="staff:10.0.0.2", window_started_at=now, attempts=1))
    session.commit()

    purged = upkeep.purge_expired(runtime, now=now)

    assert purged == {"core_staff_session": 2, "core_sign_in_attempts": 1}
    session.expire_all()
    kept = {token.rstrip("0") for token in session.scalars(select(StaffSession.token_hash))}
    assert kept == {"expired lately", "live"}  # kept for the grace period, and the one in use
    assert list(session.scalars(select(SignInAttempts.key))) == ["staff:10.0.0.2"]


def test_the_licence_job_logs_the_grant_standing_and_days_to_expiry(runtime: Runtime) -> None:
    [job] = [job for job in upkeep.JOBS if job.name == "core.licence_status"]
    assert job.run is log_licence_status  # the line `serve` writes at start (tests/test_observability.py)
    settings = runtime.settings.model_copy(update={"licence_dir": PROJECT_ROOT / "licence"})
    status = job.run(replace(runtime, settings=settings))
    # A stack generated without a licensee's grant is an evaluation deployment: said, never fatal.
    assert status.status in {compliance.value for compliance in Compliance}
    assert (status.days_to_expiry is None) == (status.expires is None)
    assert status.valid or status.problem


def test_a_session_job_commits_what_its_function_wrote_and_rolls_back_what_it_had_not_when_it_raises(
    runtime: Runtime, engine
) -> None:
    def count_attempts(session: Session, settings: Settings, *, keys: list[str], commit_first: bool = False) -> None:
        assert settings is runtime.settings
        for number, key in enumerate(keys):
            session.add(SignInAttempts(key=key, window_started_at=utcnow(), attempts=1))
            if commit_first and number == 0:
                session.commit()  # a function that commits as it goes, as a delivery pass does
        session.flush()
        if commit_first:
            raise RuntimeError("after writing")

    job = jobs.session_job("core.test_count", count_attempts, Settings, schedule=EVERY_SECOND)
    assert (job.name, job.schedule) == ("core.test_count", EVERY_SECOND)
    job.run(runtime, keys=["kept"])
    with pytest.raises(RuntimeError):
        job.run(runtime, keys=["committed on the way", "rolled back"], commit_first=True)
    with Session(engine) as session:
        assert sorted(session.scalars(select(SignInAttempts.key))) == ["committed on the way", "kept"]


def test_a_metrics_port_already_taken_costs_the_metrics_not_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    worker.serve_metrics("127.0.0.1", port)  # the first worker on the host
    with caplog.at_level(logging.INFO, logger=worker.__name__):
        worker.serve_metrics("127.0.0.1", port)  # a second one: no exception, an error line
    assert any(record.levelno == logging.ERROR and str(port) in record.getMessage() for record in caplog.records)
    assert "nation_stack_job_lag_seconds" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_the_lag_is_the_wait_of_the_oldest_job_already_due() -> None:
    now = utcnow()
    waiting = [now - timedelta(seconds=30), now - timedelta(seconds=5), now + timedelta(minutes=1)]
    assert jobs.oldest_waiting_lag(waiting, now) == 30
    assert jobs.oldest_waiting_lag([now + timedelta(seconds=1)], now) == 0
    assert jobs.oldest_waiting_lag([], now) == 0


@pytest.mark.postgresql
def test_db_upgrade_applies_the_queue_schema_and_a_downgrade_removes_all_of_it(settings: Settings) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the queue's schema is PostgreSQL's alone (SQLite's queue is the worker's memory)")
    server = make_url(settings.database_url)
    name = f"{server.database}_queue"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(engine)
        assert {"procrastinate_jobs", "procrastinate_workers"} <= set(inspect(engine).get_table_names())
        assert not any(table.startswith("procrastinate_") for table in migrate.database_tables(engine))
        assert migrate.schema_differences(engine) == []  # the models are compared with their own tables only
        command.downgrade(migrate.alembic_config(engine), "core@c0de00000007")
        assert queue_objects(engine) == (0, 0, 0)
        migrate.upgrade(engine)  # and back: nothing of the old schema was left in the way
        assert queue_objects(engine)[0] > 0
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def queue_objects(engine: Engine) -> tuple[int, int, int]:
    """procrastinate's tables, functions and types in the database."""
    with engine.connect() as connection:
        return tuple(
            connection.execute(text(query)).scalar()
            for query in (
                "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'procrastinate%'",
                "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'",
                "SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%'",
            )
        )
