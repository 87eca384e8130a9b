"""Failover mid-disbursement: the primary is killed, the synchronous standby promoted, the cycle finished
through the same engine, and every beneficiary paid exactly once.

Two real PostgreSQL servers on 127.0.0.1 (tests/pg_cluster.py): a primary and a synchronous streaming
standby. The stack's DATABASE_URL names both (`host=a,b port=p1,p2 target_session_attrs=read-write`),
so its pools reconnect to whichever server accepts writes (`pool_pre_ping`), with no restart.
Skipped only where the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from ....app import create_app
from ....conftest import TEST_SECRET
from ....core import audit, migrate
from ....core.models import AuditEvent
from ....core.runtime import Runtime, build_runtime
from ....core.settings import Settings
from ....tests import browser, pg_cluster
from .. import reconciliations
from ..config import PaymentsSettings
from ..cycles import start_disbursement
from ..disbursing import run_worker
from ..models import Chunk, ChunkState
from ..rails import SimulatedBank
from ..service import check_ledger
from .factories import approved_cycle, assert_paid_exactly_once

pytestmark = pytest.mark.country_independent

BENEFICIARIES = 3000
CHUNK_SIZE = 50
STEPS_BEFORE_THE_KILL = 6  # chunks committed or sent, acknowledged by the primary
RECONNECT_SECONDS = 60


@pytest.fixture
def cluster() -> Iterator[pg_cluster.Pair]:
    # The clusters are the test's own, but it belongs to the suite's PostgreSQL run: the SQLite runs
    # of the same code would only repeat it (half a minute each).
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the failover test runs with the PostgreSQL run (TEST_DATABASE_URL=postgresql...)")
    missing = pg_cluster.missing_reason()
    if missing:
        pytest.skip(missing)
    with pg_cluster.synchronous_pair() as pair:
        yield pair


@pytest.fixture
def stack(cluster: pg_cluster.Pair, test_country_profile: Path) -> Iterator[Runtime]:
    settings = Settings(
        environment="test",
        database_url=cluster.multi_host_url(),
        secret_key=TEST_SECRET,
        country_profile=test_country_profile,
    )
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    yield runtime
    runtime.engine.dispose()


@dataclass
class Acknowledged:
    """What the primary acknowledged: disbursement steps committed and audit events appended."""

    steps: list[str] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    first_write_after: float | None = None  # monotonic time of the first commit once failed over


def work(runtime: Runtime, cycle_id: int, worker: str, on_step: Callable[[str], None]) -> None:
    """One disbursement worker on the runtime's own engine; `on_step` once each chunk's transaction committed."""
    run_worker(
        session_factory=runtime.session_factory,
        cycle_id=cycle_id,
        currency=runtime.country.profile.currency,
        rail=SimulatedBank(failure_rate=0.05),
        settings=runtime.settings_of(PaymentsSettings),
        worker=worker,
        on_step=on_step,
    )


def disburse(runtime: Runtime, acknowledged: Acknowledged, cycle_id: int) -> None:
    work(runtime, cycle_id, "before the kill", acknowledged.steps.append)


def append_events(runtime: Runtime, acknowledged: Acknowledged) -> None:
    """Audit events, one transaction each, until the primary dies: writes besides the disbursement's."""
    while True:
        with runtime.session_factory.begin() as session:
            event = audit.record(session=session, actor="test:failover", action="failover.write", subject="s")
        acknowledged.events.append(event.id)


def in_thread(target, runtime: Runtime, acknowledged: Acknowledged, *args) -> threading.Thread:
    def reporting() -> None:
        try:
            target(runtime, acknowledged, *args)
        except DBAPIError as error:  # the primary died under it: expected, and recorded
            acknowledged.errors.append(error)

    thread = threading.Thread(target=reporting, daemon=True)
    thread.start()
    return thread


def resume_until_done(runtime: Runtime, cycle_id: int, acknowledged: Acknowledged, killed_at: float) -> None:
    """Run the worker again through the same engine until it finishes; no restart, no new engine."""
    deadline = killed_at + RECONNECT_SECONDS

    def first_write(step: str) -> None:
        if acknowledged.first_write_after is None:
            acknowledged.first_write_after = time.monotonic()
        acknowledged.steps.append(step)

    while True:
        try:
            work(runtime, cycle_id, "resumed", first_write)
            return
        except DBAPIError:  # no server accepts writes yet, or a pooled connection died with the primary
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def health(base_url: str) -> int:
    return httpx.get(f"{base_url}/health", timeout=10).status_code


def test_a_cycle_resumed_on_the_promoted_standby_pays_everyone_exactly_once(
    cluster: pg_cluster.Pair, stack: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    currency = stack.country.profile.currency
    with stack.session_factory.begin() as session:
        cycle = approved_cycle(session, stack.ports, stack.country, count=BENEFICIARIES, chunk_size=CHUNK_SIZE)
        start_disbursement(session=session, cycle=cycle, currency=currency, actor="test")
        chunks = session.scalar(select(func.count()).select_from(Chunk).where(Chunk.cycle_id == cycle.id))
    acknowledged = Acknowledged()
    with browser.serve(create_app(stack.settings)) as api:
        assert health(api) == 200
        writers = [in_thread(disburse, stack, acknowledged, cycle.id), in_thread(append_events, stack, acknowledged)]
        deadline = time.monotonic() + 120
        while len(acknowledged.steps) < STEPS_BEFORE_THE_KILL:
            assert time.monotonic() < deadline and writers[0].is_alive(), "the disbursement did not get going"
            time.sleep(0.01)

        cluster.primary.kill()
        killed_at = time.monotonic()
        for writer in writers:
            writer.join(timeout=RECONNECT_SECONDS)
        steps_acknowledged, events_acknowledged = list(acknowledged.steps), list(acknowledged.events)
        assert len(acknowledged.errors) == len(writers), "a writer did not notice the primary die"
        assert len(steps_acknowledged) < 2 * chunks, "the cycle finished before the kill: make it bigger"

        cluster.standby.promote()
        promoted = time.monotonic() - killed_at
        with stack.session_factory() as session:  # what the primary acknowledged is on the standby
            paid = session.scalar(
                select(func.count()).select_from(Chunk).where(Chunk.cycle_id == cycle.id, Chunk.state != "pending")
            )
            assert paid >= steps_acknowledged.count(ChunkState.PENDING), (paid, steps_acknowledged)
            kept = set(session.scalars(select(AuditEvent.id).where(AuditEvent.action == "failover.write")))
            assert set(events_acknowledged) <= kept, "an acknowledged commit was lost"
        resume_until_done(stack, cycle.id, acknowledged, killed_at)
        failover = acknowledged.first_write_after - killed_at
        assert health(api) == 200  # the same running API, its pool reconnected to the promoted standby

    with capsys.disabled():
        print(
            f"\nfailover: primary killed -> standby promoted {promoted:.2f} s -> "
            f"first committed write through the same engine {failover:.2f} s"
        )
    with stack.session_factory() as session:
        assert_paid_exactly_once(session, cycle.id)
        assert check_ledger(session=session).balanced
        assert reconciliations.reconcile(session=session, cycle_id=cycle.id).matches_control_totals
        assert audit.verify_chain(session=session).intact
        states = dict(
            session.execute(
                select(Chunk.state, func.count()).where(Chunk.cycle_id == cycle.id).group_by(Chunk.state)
            ).all()
        )
        assert states == {ChunkState.DONE: chunks}
