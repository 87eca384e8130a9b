"""Backups of the whole database, and restores that are verified before they replace anything.

A backup is SQLite's online backup API (a consistent snapshot, taken while the stack serves) or
`pg_dump --format=custom` (one repeatable-read snapshot). A restore never writes into the live
database before the backup has passed every check on a scratch copy:

1. its Alembic revisions are exactly this code's heads (no unknown, no pending migration);
2. the audit chain verifies link by link with this deployment's key, up to its head;
3. every installed part's own invariant (`Module.restore_check`, e.g. payments' ledger balances).

Only then is the scratch copy swapped in: on SQLite the verified copy is written into the live
file with the backup API in one step, which SQLite applies as one write transaction (a crash midway
leaves the old database); on PostgreSQL the verified scratch database takes the live one's name by
two renames in one transaction (the replaced database is kept under another name, never dropped).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.exc import DatabaseError, OperationalError

from . import audit, migrate
from .db import make_engine, make_session_factory
from .i18n import _
from .registry import Module, installed_parts

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
MAINTENANCE_DATABASE = "postgres"  # where CREATE, RENAME and DROP DATABASE are issued from
SWAP_ATTEMPTS = 5  # a client reconnecting between the terminate and the rename is terminated again
PG_NAME_LIMIT = 63


class RestoreRefused(Exception):
    """A restore that did not change the live database: why (translated), and what the checks found."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class Restored:
    """What a restore verified before it swapped the backup in."""

    audit_events: int
    heads: tuple[str, ...]
    kept: str | None = None  # PostgreSQL: the name the replaced database is kept under


# ---------------------------------------------------------------- backup


def backup(engine: Engine, target: Path) -> Path:
    """A consistent copy of the whole database at `target` (written under a temporary name, then renamed)."""
    backend = engine.url.get_backend_name()
    writers = {"sqlite": migrate.write_sqlite_backup, "postgresql": migrate.write_postgresql_dump}
    if backend not in writers:
        raise migrate.MigrationRefused(
            _("no backup method for {backend} databases; nothing was changed").format(backend=backend)
        )
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    return migrate.write_whole(target, writers[backend], engine)


# ---------------------------------------------------------------- verification


def verify(engine: Engine, parts: tuple[Module, ...] | None = None) -> tuple[list[str], int]:
    """What is wrong with the database behind `engine` (empty when it may serve), and its audit events."""
    unknown = migrate.unknown_revisions(engine)
    if unknown is not None:
        return [unknown.describe()], 0
    heads = _code_heads(engine)
    applied = migrate.applied_revisions(engine)
    if applied != heads:
        message = _("the backup's migrations ({applied}) are not this code's heads ({heads})")
        described = message.format(applied=", ".join(sorted(applied)) or "-", heads=", ".join(sorted(heads)))
        return [described], 0
    with make_session_factory(engine)() as session:
        report = audit.verify_chain(session=session)
        problems = list(report.problems)
        if report.first_broken_id is not None:
            problems.insert(0, _("audit chain broken at event {event}").format(event=report.first_broken_id))
        for part in parts if parts is not None else installed_parts():
            if part.restore_check is not None:
                problems.extend(f"{part.name}: {problem}" for problem in part.restore_check(session))
    return problems, report.events


def _code_heads(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(migrate.alembic_config(engine)).get_heads())


def _checked(engine: Engine) -> Restored:
    problems, events = verify(engine)
    if problems:
        raise RestoreRefused(_("the backup failed its checks; the database was not changed"), tuple(problems))
    return Restored(audit_events=events, heads=tuple(sorted(_code_heads(engine))))


# ---------------------------------------------------------------- restore


def restore(engine: Engine, source: Path, *, replace: bool = False) -> Restored:
    """Verify the backup at `source` on a scratch copy, then swap it in for the live database.

    Refused (RestoreRefused, the live database untouched) when the backup is of another kind, fails
    a check, or the live database holds tables and `replace` is false.
    """
    backend = engine.url.get_backend_name()
    if backend == "sqlite":
        return _restore_sqlite(engine, source, replace=replace)
    if backend == "postgresql":
        return _restore_postgresql(engine, source, replace=replace)
    raise RestoreRefused(_("no restore method for {backend} databases; nothing was changed").format(backend=backend))


def _require_kind(source: Path, magic: bytes, backend: str) -> None:
    with source.open("rb") as file:
        if file.read(len(magic)) != magic:
            message = _("{path} is not a backup of a {backend} database; nothing was changed")
            raise RestoreRefused(message.format(path=source, backend=backend))


def _require_replace(engine: Engine, replace: bool) -> None:
    if not replace and migrate.database_tables(engine):
        database = engine.url.render_as_string(hide_password=True)
        raise RestoreRefused(
            _("{database} already holds tables: pass --replace to replace it; nothing was changed").format(
                database=database
            )
        )


def _restore_sqlite(engine: Engine, source: Path, *, replace: bool) -> Restored:
    live = engine.url.database
    if not live or live == ":memory:":
        message = _("no restore method for {backend} databases; nothing was changed")
        raise RestoreRefused(message.format(backend="in-memory SQLite"))
    _require_kind(source, SQLITE_MAGIC, "sqlite")
    _require_replace(engine, replace)
    live_path = Path(live).resolve()
    # The scratch copy sits beside the live file (same disk) and is checked there; the backup
    # file itself is only read, so a refused backup stays as it was for inspection.
    scratch = live_path.with_name(f".{live_path.name}.restoring-{secrets.token_hex(4)}")
    try:
        try:
            # immutable: the backup is read as the file it is, without a lock or a -shm file beside it.
            _sqlite_copy(f"{source.resolve().as_uri()}?mode=ro&immutable=1", scratch)
            with _disposed(make_engine(f"sqlite:///{scratch}")) as scratch_engine:
                restored = _checked(scratch_engine)
        except (sqlite3.DatabaseError, DatabaseError) as error:  # a truncated or damaged file
            message = _("{path} cannot be read as a backup ({error}); nothing was changed")
            raise RestoreRefused(message.format(path=source, error=getattr(error, "orig", error))) from None
        engine.dispose()
        _sqlite_copy(f"{scratch.as_uri()}?mode=ro", live_path)
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + "-wal"), scratch.with_name(scratch.name + "-shm")):
            leftover.unlink(missing_ok=True)
    return restored


def _sqlite_copy(source_uri: str, destination: Path) -> None:
    """Every page of `source_uri` into `destination` in one backup step: one write transaction there,
    so another connection sees the old database or the new one, and a crash midway leaves the old."""
    reading = sqlite3.connect(source_uri, uri=True)
    try:
        writing = sqlite3.connect(destination, timeout=30)
        try:
            reading.backup(writing, pages=-1)
        finally:
            writing.close()
    finally:
        reading.close()


@contextmanager
def _disposed(engine: Engine) -> Iterator[Engine]:
    try:
        yield engine
    finally:
        engine.dispose()


def _restore_postgresql(engine: Engine, source: Path, *, replace: bool) -> Restored:
    _require_kind(source, PG_CUSTOM_MAGIC, "postgresql")
    pg_restore = _client_tool("pg_restore")
    live = engine.url.database
    with _disposed(create_engine(engine.url.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT")) as admin:
        exists = _database_exists(admin, live)
        if exists:
            _require_replace(engine, replace)
        scratch = _scratch_name(live, "restoring")
        _execute(admin, f'CREATE DATABASE "{scratch}"')
        try:
            _pg_restore(pg_restore, source, engine.url.set(database=scratch))
            with _disposed(make_engine(engine.url.set(database=scratch).render_as_string(hide_password=False))) as e:
                restored = _checked(e)
            engine.dispose()
            kept = _swap(admin, live=live, scratch=scratch, live_exists=exists)
        except BaseException:
            _execute(admin, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            raise
    return Restored(audit_events=restored.audit_events, heads=restored.heads, kept=kept)


def _client_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = _(
            "{tool} is not installed (or not on PATH): install the PostgreSQL client tools, "
            "at least the server's major version; nothing was changed"
        )
        raise RestoreRefused(message.format(tool=name))
    return found


def _pg_restore(pg_restore: str, source: Path, url: URL) -> None:
    environment = dict(os.environ)
    if url.password is not None:  # through the environment: a command line is visible to every user
        environment["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    # One transaction, stopping at the first error: the scratch database holds all of it or nothing.
    command = [pg_restore, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges"]
    result = subprocess.run(  # noqa: S603 - pg_restore found on PATH, arguments are not a shell line
        [*command, f"--dbname={dsn}", str(source)], env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise RestoreRefused(_("pg_restore failed: {error}; nothing was changed").format(error=lines[-1]))


def _swap(admin: Engine, *, live: str, scratch: str, live_exists: bool) -> str | None:
    """Give the verified scratch database the live one's name; returns what the old one is now called.

    Both renames are one transaction: clients see the old database or the restored one under the
    live name, never neither. Renaming needs both databases free of sessions, so the live one's
    are ended first (the stack's pools reconnect by themselves, `pool_pre_ping`).
    """
    kept = _scratch_name(live, "replaced") if live_exists else None
    for attempt in range(SWAP_ATTEMPTS):
        _terminate_sessions(admin, (live, scratch))
        try:
            with admin.connect() as connection:
                transactional = connection.execution_options(isolation_level="READ COMMITTED")
                with transactional.begin():
                    if kept is not None:
                        transactional.exec_driver_sql(f'ALTER DATABASE "{live}" RENAME TO "{kept}"')
                    transactional.exec_driver_sql(f'ALTER DATABASE "{scratch}" RENAME TO "{live}"')
            return _drop_if_empty(admin, kept)
        except OperationalError:
            if attempt == SWAP_ATTEMPTS - 1:
                raise
    return kept  # unreachable: the last attempt returns or raises


def _drop_if_empty(admin: Engine, kept: str | None) -> str | None:
    """A replaced database without tables (a wiped or new one) is not worth keeping."""
    if kept is None:
        return None
    with _disposed(create_engine(admin.url.set(database=kept))) as old:
        if migrate.database_tables(old):
            return kept
    _execute(admin, f'DROP DATABASE "{kept}" WITH (FORCE)')
    return None


def _terminate_sessions(admin: Engine, databases: tuple[str, ...]) -> None:
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
            ),
            {"names": list(databases)},
        )


def _database_exists(admin: Engine, name: str) -> bool:
    with admin.connect() as connection:
        return connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None


def _execute(admin: Engine, statement: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(statement)


def _scratch_name(live: str, what: str) -> str:
    suffix = f"_{what}_{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(2)}"
    return live[: PG_NAME_LIMIT - len(suffix)] + suffix
