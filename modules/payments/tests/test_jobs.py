"""Payments' background jobs in a real `worker` process: the disbursement handed over by the API
(202, paid exactly once, also by two workers, also after a worker was killed mid-job) and the bank's
files polled from the inbox (each imported once and moved)."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, make_url, select, text
from sqlalchemy.orm import Session

from ....app import create_app
from ....core import jobs, worker
from ....core.country import LoadedCountry
from ....core.registry import Ports
from ....core.runtime import Runtime
from ....core.settings import Settings
from ....tests.workers import EVERY_SECOND, empty_queue, only_schedules, running_worker, worker_env
from .. import cycles, disbursing, reconciliations
from ..config import PaymentsSettings
from ..jobs import DISBURSE
from ..models import BankMessage, Cycle
from ..rails import FileRail, SimulatedBank
from ..scopes import TRANSFER_SCOPE
from .factories import approved_cycle, assert_paid_exactly_once

# The tables a disbursement or an import writes: locking them holds a worker in the middle of its job.
WRITTEN = "payments_transfer, payments_entry, payments_ledger_account, payments_instruction, payments_bank_message"


@pytest.fixture
def cycle(session: Session, ports: Ports, country: LoadedCountry, engine: Engine) -> Cycle:
    empty_queue(engine)
    found = approved_cycle(session, ports, country, count=120, chunk_size=16)
    session.commit()
    return found


@contextmanager
def writes_blocked(engine: Engine) -> Iterator[None]:
    """Hold the database so a worker's next write waits (SQLite: its write lock; PostgreSQL: the tables)."""
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(make_url(str(engine.url)).database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text(f"LOCK TABLE {WRITTEN} IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()


def bank_answers(session: Session, cycle: Cycle, country: LoadedCountry, outbox: Path) -> list[bytes]:
    """The cycle sent through the file rail, and the simulated bank's pain.002/camt.054 for every file."""
    engine = session.get_bind()
    cycles.start_disbursement(session=session, cycle=cycle, currency=country.profile.currency, actor="test")
    session.commit()
    from ....core.db import make_session_factory

    disbursing.run_worker(
        session_factory=make_session_factory(engine),
        cycle_id=cycle.id,
        currency=country.profile.currency,
        rail=FileRail(outbox),
        settings=PaymentsSettings(),
        worker="test",
    )
    bank = SimulatedBank(failure_rate=0.1, seed=5)
    return [reply for sent in sorted(outbox.glob("*.xml")) for reply in bank.submit(sent.read_bytes())]


def messages_ingested(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(BankMessage).where(BankMessage.kind != "pain.001"))


@pytest.mark.country_independent  # the worker's file handling; the files' contents are tested per country
def test_polling_imports_each_dropped_file_once_and_moves_it(
    settings: Settings, session: Session, cycle: Cycle, country: LoadedCountry, engine: Engine, tmp_path: Path
) -> None:
    replies = bank_answers(session, cycle, country, tmp_path / "outbox")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for number, reply in enumerate(replies):
        (inbox / f"answer-{number:03}.xml").write_bytes(reply)
    (inbox / "not-a-bank-file.xml").write_bytes(b"<hello/>")
    env = worker_env(
        settings,
        schedules=only_schedules(payments_poll_bank_answers=EVERY_SECOND),
        PAYMENTS_INBOX=str(inbox),
        PAYMENTS_MAX_ATTEMPTS="1",  # a rejected payment is returned, not sent again: the cycle ends with these files
    )
    with running_worker(env, tmp_path / "worker.log") as process:
        process.wait_for(lambda: not list(inbox.glob("*.xml")), "an empty inbox")
        assert sorted(path.name for path in (inbox / "done").iterdir()) == [
            f"answer-{n:03}.xml" for n in range(len(replies))
        ]
        assert [path.name for path in (inbox / "failed").iterdir()] == ["not-a-bank-file.xml"]
        assert messages_ingested(engine) == len(replies)
        # The same file dropped again: moved, and nothing applied twice.
        shutil.copy(inbox / "done" / "answer-000.xml", inbox / "again.xml")
        process.wait_for(lambda: (inbox / "done" / "again.xml").exists(), "the repeated file moved to done/")
    assert messages_ingested(engine) == len(replies)
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    assert reconciliations.reconcile(session=session, cycle_id=cycle.id).matches_control_totals


@pytest.mark.country_independent  # the worker's file handling; the files' contents are tested per country
def test_a_worker_killed_mid_import_leaves_the_file_to_the_next_worker(
    settings: Settings, session: Session, cycle: Cycle, country: LoadedCountry, engine: Engine, tmp_path: Path
) -> None:
    replies = bank_answers(session, cycle, country, tmp_path / "outbox")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "answer.xml").write_bytes(replies[0])
    env = worker_env(
        settings, schedules=only_schedules(payments_poll_bank_answers=EVERY_SECOND), PAYMENTS_INBOX=str(inbox)
    )
    with writes_blocked(engine), running_worker(env, tmp_path / "first.log") as first:
        first.wait_for_line("Starting job payments.poll_bank_answers")
        time.sleep(0.5)  # reading the file and the database, then waiting for the write
        first.kill()
    assert (inbox / "answer.xml").exists() and messages_ingested(engine) == 0
    with running_worker(env, tmp_path / "second.log") as second:
        second.wait_for(lambda: (inbox / "done" / "answer.xml").exists(), "the file imported by the next worker")
    assert messages_ingested(engine) == 1


@pytest.mark.postgresql
def test_disburse_is_handed_to_the_worker_202_and_two_workers_pay_the_cycle_once(
    settings: Settings, runtime: Runtime, session: Session, cycle: Cycle, engine: Engine, api_headers, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a hand-over needs the PostgreSQL queue; on SQLite the route pays in the request")
    headers = api_headers(TRANSFER_SCOPE)
    with handing_off(settings) as client:
        accepted = client.post(f"/payments/cycles/{cycle.id}/disburse", headers=headers)
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["Location"]
        assert accepted.json()["location"] == location and accepted.json()["job"] == DISBURSE
        repeated = client.post(f"/payments/cycles/{cycle.id}/disburse", headers=headers)
        assert repeated.status_code == 202 and repeated.headers["Location"] == location  # the same job, once
        time.sleep(0.2)
        waiting = worker.waiting_since(runtime, worker.connector_for(runtime))
        assert len(waiting) == 1 and jobs.oldest_waiting_lag(waiting) >= 0.2  # what the lag gauge shows
        env = worker_env(settings, schedules=only_schedules())
        with running_worker(env, tmp_path / "a.log") as one, running_worker(env, tmp_path / "b.log"):
            one.wait_for(lambda: client.get(location, headers=headers).json()["status"] == "succeeded", "payment")
        done = client.post(f"/payments/cycles/{cycle.id}/disburse", headers=headers)
        assert done.status_code == 200 and done.json()["state"] == "disbursed"  # nothing left to hand over
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"), {"t": DISBURSE}
        )
        assert count.scalar() == 1


@pytest.mark.postgresql
def test_a_worker_killed_mid_disbursement_is_replaced_and_the_cycle_paid_once(
    settings: Settings, session: Session, cycle: Cycle, engine: Engine, api_headers, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("procrastinate's stalled-job retry works on its PostgreSQL queue")
    headers = api_headers(TRANSFER_SCOPE)
    with handing_off(settings) as client:
        location = client.post(f"/payments/cycles/{cycle.id}/disburse", headers=headers).headers["Location"]
        env = worker_env(settings, schedules=only_schedules(core_retry_stalled_jobs=EVERY_SECOND))
        with writes_blocked(engine), running_worker(env, tmp_path / "first.log") as first:
            first.wait_for(lambda: client.get(location, headers=headers).json()["status"] == "doing", "the job started")
            time.sleep(0.5)
            first.kill()
        with running_worker(env, tmp_path / "second.log") as second:
            second.wait_for(lambda: client.get(location, headers=headers).json()["status"] == "succeeded", "payment")
            assert "stalled" in second.output()
        state = client.get(location, headers=headers).json()
    assert state["attempts"] >= 1
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)
    assert reconciliations.reconcile(session=session, cycle_id=cycle.id).state == "disbursed"


def test_without_a_postgresql_queue_the_route_still_pays_in_the_request(
    settings: Settings, session: Session, cycle: Cycle, engine: Engine, api_headers
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL the route hands over (test above)")
    with handing_off(settings) as client:
        paid = client.post(f"/payments/cycles/{cycle.id}/disburse", headers=api_headers(TRANSFER_SCOPE))
    assert paid.status_code == 200 and paid.json()["state"] == "disbursed"
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)


@contextmanager
def handing_off(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"worker_handoff": True}))
    with TestClient(app, base_url="https://testserver", headers={"Accept-Language": "en"}) as client:
        yield client
