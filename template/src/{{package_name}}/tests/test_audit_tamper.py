"""Finding 4: the audit chain cannot be rewritten without `check` noticing.

Each test works as an attacker with write access to the database would: it edits an event and
re-hashes everything after it so that every link and the head agree again. Without a key, the
plain SHA-256 rewrite is caught by the chain's HMAC; with the key (SECRET_KEY leaked), the
signed checkpoint written outside the database catches it.
"""

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text, update
from typer.testing import CliRunner

from ..cli import app
from ..conftest import TEST_SECRET
from ..core import audit, migrate
from ..core.db import make_engine, make_session_factory
from ..core.models import AuditEvent, AuditHead
from ..core.settings import Settings

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

runner = CliRunner()


@pytest.fixture
def cli_env(cli_on_test_database: Path) -> Path:
    return cli_on_test_database


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def chain(cli_env: Path) -> Iterator[Engine]:
    """A migrated database with a chain of six events, checked intact."""
    assert invoke("db", "upgrade").exit_code == 0
    engine = make_engine(os.environ["DATABASE_URL"])
    with make_session_factory(engine).begin() as session:
        for number in range(6):
            audit.record(session=session, actor="operator", action="test.event", subject=f"s{number}", detail={"n": 1})
    checked = invoke("check")
    assert checked.exit_code == 0, checked.output
    yield engine
    engine.dispose()


def canonical(event: AuditEvent, previous_hash: str) -> bytes:
    moment = event.occurred_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    content = {
        "occurred_at": moment.isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
        "previous_hash": previous_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def plain_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rewrite(engine: Engine, hasher: Callable[[bytes], str], *, from_position: int = 1) -> int:
    """Edit the event at `from_position` and re-hash it and every later one consistently; move the head."""
    factory = make_session_factory(engine)
    with factory.begin() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        edited = events[from_position]
        edited.detail = {**edited.detail, "name": "Mallory's bank"}
        previous = events[from_position - 1].hash
        for event in events[from_position:]:
            event.previous_hash = previous
            event.hash = hasher(canonical(event, previous))
            previous = event.hash
        session.flush()
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=previous))
        return edited.id


def test_a_plain_sha256_rewrite_is_caught_by_the_keyed_chain(chain: Engine) -> None:
    edited = rewrite(chain, plain_sha256)
    checked = invoke("check")
    assert checked.exit_code == 1
    assert f"audit chain broken at event {edited}" in checked.output


def test_a_rewrite_by_a_holder_of_the_key_is_caught_by_the_signed_checkpoint(chain: Engine, cli_env: Path) -> None:
    written = invoke("audit", "checkpoint")
    assert written.exit_code == 0, written.output
    assert "public key" in written.output
    [checkpoint] = (cli_env / "checkpoints").glob("*.json")
    assert invoke("check").exit_code == 0  # the checkpoint matches the untouched chain
    key = audit.chain_key(TEST_SECRET)
    edited = rewrite(chain, lambda data: hmac.new(key, data, hashlib.sha256).hexdigest())
    assert invoke("audit", "verify", "--no-checkpoints").exit_code == 0  # the links alone agree again
    checked = invoke("check")
    assert checked.exit_code == 1, checked.output
    assert checkpoint.name in checked.output and "differs" in checked.output
    assert edited < json.loads(checkpoint.read_text())["last_event_id"]


def test_a_chain_shorter_than_its_checkpoint_fails(chain: Engine) -> None:
    assert invoke("audit", "checkpoint").exit_code == 0
    with make_session_factory(chain).begin() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        for event in events[-2:]:
            session.delete(event)
        session.flush()
        session.execute(update(AuditHead).values(last_hash=events[-3].hash, last_event_id=events[-3].id))
    checked = invoke("audit", "verify")
    assert checked.exit_code == 1
    assert "shorter than" in checked.output


def test_a_checkpoint_with_a_bad_signature_fails(chain: Engine, cli_env: Path) -> None:
    assert invoke("audit", "checkpoint").exit_code == 0
    [checkpoint] = (cli_env / "checkpoints").glob("*.json")
    forged = json.loads(checkpoint.read_text())
    forged["events"] += 1
    checkpoint.write_text(json.dumps(forged))
    checked = invoke("check")
    assert checked.exit_code == 1
    assert "signature" in checked.output and checkpoint.name in checked.output


def test_checkpoints_are_appended_never_overwritten(chain: Engine, cli_env: Path) -> None:
    for _ in range(3):
        assert invoke("audit", "checkpoint").exit_code == 0
    assert len(list((cli_env / "checkpoints").glob("*.json"))) == 3
    assert invoke("check").exit_code == 0


def plain_chain(engine: Engine, count: int) -> list[str]:
    """Append `count` events hashed as before the chain was keyed (plain SHA-256); their hashes."""
    hashes, previous = [], audit.GENESIS_HASH
    with make_session_factory(engine).begin() as session:
        for number in range(count):
            event = AuditEvent(
                occurred_at=datetime(2026, 1, 1, 12, number, tzinfo=UTC),
                actor="operator",
                action="test.legacy",
                subject=f"s{number}",
                detail={"n": number, "text": "Nairobi — ナイロビ"},
                previous_hash=previous,
            )
            event.hash = plain_sha256(canonical(event, previous))
            session.add(event)
            session.flush()
            previous = event.hash
            hashes.append(previous)
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=previous, last_event_id=event.id))
    return hashes


@pytest.fixture
def fresh_engine(settings: Settings, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of the kind the suite runs on (a new one on the PostgreSQL server)."""
    server = make_url(settings.database_url)
    if not server.drivername.startswith("postgresql"):
        engine = make_engine(f"sqlite:///{tmp_path / 'legacy.db'}")
        yield engine
        engine.dispose()
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrading_re_keys_a_chain_written_with_plain_sha256(fresh_engine: Engine, tmp_path: Path) -> None:
    engine = fresh_engine
    migrate.upgrade(engine, "c0de00000001")
    plain = plain_chain(engine, 5)
    with make_session_factory(engine)() as session:
        assert not audit.verify_chain(session=session).intact  # keyed verification refuses the plain chain
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        report = audit.verify_chain(session=session)
        rekeyed = list(session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id)))
    assert report.intact and report.events == 5
    assert set(rekeyed).isdisjoint(plain)
    migrate.downgrade(engine, "c0de00000001", backup_dir=tmp_path / "backups")  # and back to plain SHA-256
    with make_session_factory(engine)() as session:
        assert list(session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id))) == plain


def test_upgrading_refuses_to_re_key_a_chain_already_broken(fresh_engine: Engine) -> None:
    engine = fresh_engine
    migrate.upgrade(engine, "c0de00000001")
    plain_chain(engine, 3)
    with engine.begin() as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.subject == "s1").values(detail={"n": 99}))
    with pytest.raises(migrate.MigrationRefused, match="already broken at event"):
        migrate.upgrade(engine)
    assert migrate.pending_heads(engine)  # nothing half-written: the whole upgrade rolled back
