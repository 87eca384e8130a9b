"""`db backup` and `db restore`: a restore is checked on a scratch copy before it replaces anything.

Each test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (a fresh database of its own,
since a restore replaces it). A payments ledger's own checks are in modules/payments/tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from ..core import backup
from ..core.models import AuditEvent
from ..core.runtime import Runtime
from .backups import (
    BACKENDS,
    AuditWriter,
    change_and_back_up,
    databases_named,
    flat,
    fresh_stack,
    invoke,
    rows,
    seed_everything,
    wipe,
)

pytestmark = pytest.mark.country_independent


@pytest.fixture(params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_country_profile: Path
) -> Iterator[Runtime]:
    with fresh_stack(request.param, tmp_path, monkeypatch, test_country_profile) as runtime:
        yield runtime


def leftovers(runtime: Runtime, folder: Path) -> list[str]:
    """What a restore may leave behind: scratch files beside a SQLite database, scratch databases on PostgreSQL."""
    url = runtime.engine.url
    if url.get_backend_name() == "sqlite":
        return sorted(path.name for path in folder.iterdir() if ".restoring-" in path.name)
    return [name for name in databases_named(str(url.database)) if name != url.database]


def test_a_backup_restored_into_a_wiped_database_has_every_row_back(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    before = rows(stack.engine)
    made = invoke("db", "backup", str(tmp_path / "stack.backup"))
    assert made.exit_code == 0, made.output
    assert "backup written" in made.output
    wipe(stack.engine)

    restored = invoke("db", "restore", str(tmp_path / "stack.backup"))

    assert restored.exit_code == 0, restored.output
    events = len(before["core_audit_event"])
    assert f"audit chain of {events} events intact" in flat(restored.output)
    assert rows(stack.engine) == before
    assert backup.verify(stack.engine) == ([], events)
    assert leftovers(stack, tmp_path) == []


def test_a_backup_with_a_rewritten_audit_event_is_refused_and_the_live_database_kept(
    stack: Runtime, tmp_path: Path
) -> None:
    seed_everything(stack)
    target = tmp_path / "tampered.backup"
    with stack.engine.connect() as connection:
        oldest = select(AuditEvent.id, AuditEvent.actor).order_by(AuditEvent.id).limit(1)
        first, actor = connection.execute(oldest).one()
    rewrite = update(AuditEvent).where(AuditEvent.id == first)
    change_and_back_up(stack.engine, rewrite.values(actor="operator:mallory"), rewrite.values(actor=actor), target)
    before = rows(stack.engine)

    refused = invoke("db", "restore", str(target), "--replace")

    assert refused.exit_code == 1
    assert "the backup failed its checks; the database was not changed" in flat(refused.output)
    assert "audit chain broken at event" in refused.output
    assert rows(stack.engine) == before
    assert backup.verify(stack.engine)[0] == []
    assert leftovers(stack, tmp_path) == []


def test_a_backup_of_migrations_this_code_does_not_know_is_refused(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    target = tmp_path / "other-release.backup"
    change_and_back_up(
        stack.engine,
        text("INSERT INTO alembic_version (version_num) VALUES ('feedface0000')"),
        text("DELETE FROM alembic_version WHERE version_num = 'feedface0000'"),
        target,
    )
    before = rows(stack.engine)

    with pytest.raises(backup.RestoreRefused) as refused:
        backup.restore(stack.engine, target, replace=True)

    assert any("feedface0000" in problem for problem in refused.value.problems)
    assert rows(stack.engine) == before
    assert leftovers(stack, tmp_path) == []


def test_a_database_that_holds_tables_is_replaced_only_when_asked(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    target = tmp_path / "stack.backup"
    backup.backup(stack.engine, target)

    refused = invoke("db", "restore", str(target))

    assert refused.exit_code == 1
    assert "already holds tables: pass --replace" in flat(refused.output)
    replaced = invoke("db", "restore", str(target), "--replace")
    assert replaced.exit_code == 0, replaced.output
    if stack.engine.url.get_backend_name() == "postgresql":  # the replaced database is kept, and named
        [kept] = leftovers(stack, tmp_path)
        assert f"kept as {kept}" in flat(replaced.output)


def test_a_file_that_is_not_a_backup_of_this_kind_is_refused(stack: Runtime, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a database\n", encoding="utf-8")
    before = rows(stack.engine)

    refused = invoke("db", "restore", str(target), "--replace")

    assert refused.exit_code == 1
    assert "is not a backup of a" in flat(refused.output)
    assert rows(stack.engine) == before


def test_a_truncated_backup_is_refused_and_the_live_database_kept(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    target = backup.backup(stack.engine, tmp_path / "cut.backup")
    whole = target.read_bytes()
    target.write_bytes(whole[: len(whole) // 2])  # a copy cut short: a full disk, an interrupted transfer
    before = rows(stack.engine)

    refused = invoke("db", "restore", str(target), "--replace")

    assert refused.exit_code == 1
    reasons = ("cannot be read as a backup", "failed its checks", "pg_restore failed")
    assert any(reason in flat(refused.output) for reason in reasons), refused.output
    assert rows(stack.engine) == before
    assert leftovers(stack, tmp_path) == []


def test_a_backup_taken_while_writes_continue_is_consistent(stack: Runtime, tmp_path: Path) -> None:
    seed_everything(stack)
    writer = AuditWriter(stack)
    writer.start()
    try:
        targets, overlapped = [], 0
        # A small database's backup can finish between two of the writer's commits on a loaded machine:
        # back up until three backups had writes committed while they ran (each one still restored below).
        for number in range(30):
            while writer.written == 0 and writer.error is None:
                time.sleep(0.01)
            written_before = writer.written
            targets.append(backup.backup(stack.engine, tmp_path / f"busy-{number}.backup"))
            overlapped += writer.written > written_before
            if overlapped == 3 or writer.error:
                break
        assert overlapped == 3 or writer.error, f"writes went on during {overlapped} of {len(targets)} backups"
    finally:
        writer.stop()
    counts = []
    for target in targets:
        restored = backup.restore(stack.engine, target, replace=True)  # refused unless chain and ledger verify
        counts.append(restored.audit_events)
    assert counts == sorted(counts) and counts[0] < counts[-1], counts
