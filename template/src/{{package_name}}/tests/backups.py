"""Fixtures and helpers for the backup and restore tests (the core's and the modules')."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, create_engine, make_url, select, text
from sqlalchemy.sql import Executable
from typer.testing import CliRunner

from ..cli import app
from ..conftest import TEST_SECRET
from ..core import audit, backup, migrate, security
from ..core.registry import SeedContext
from ..core.runtime import Runtime, build_runtime
from ..core.settings import Settings, get_settings

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
runner = CliRunner()


BACKENDS = ("sqlite", "postgresql")


@contextmanager
def fresh_stack(backend: str, folder: Path, monkeypatch: pytest.MonkeyPatch, profile: Path) -> Iterator[Runtime]:
    """The deployment's runtime on a fresh database of its own (a restore replaces it), migrated to
    this code's heads; the CLI is pointed at it through the environment, as an operator's would be."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'live.db'}"
        created = None
    elif not SERVER_URL.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL does not point at a PostgreSQL server")
    else:
        created = f"test_{uuid.uuid4().hex[:12]}"
        _server_execute(f'CREATE DATABASE "{created}"')
        url = make_url(SERVER_URL).set(database=created).render_as_string(hide_password=False)
    for name, value in {
        "DATABASE_URL": url,
        "COUNTRY_PROFILE": str(profile),
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET,
        "NATION_STACK_LOCALE": "en",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runtime = build_runtime(Settings())
    try:
        migrate.upgrade(runtime.engine)
        yield runtime
    finally:
        runtime.engine.dispose()
        get_settings.cache_clear()
        if created:
            for name in databases_named(created):  # the database and whatever a restore left beside it
                _server_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server_execute(statement: str) -> None:
    admin = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        admin.dispose()


def databases_named(prefix: str) -> list[str]:
    """The PostgreSQL databases whose name starts with `prefix` (a restore's scratch and kept ones)."""
    admin = create_engine(SERVER_URL)
    try:
        with admin.connect() as connection:
            query = text("SELECT datname FROM pg_database WHERE starts_with(datname, :p) ORDER BY datname")
            return list(connection.execute(query, {"p": prefix}).scalars())
    finally:
        admin.dispose()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def flat(output: str) -> str:
    return " ".join(output.split())  # Rich wraps long lines at the terminal's width


def seed_everything(runtime: Runtime) -> None:
    """A partner, each installed module's demo data (payments: linked and paid beneficiaries) and
    audit events with non-ASCII details, all through the real services."""
    with runtime.session_factory.begin() as session:
        security.issue_partner_key(session=session, name="Backup partner", scopes=["core:meta"])
        context = SeedContext(session=session, runtime=runtime)
        for module in runtime.modules:
            if module.seed is not None:
                module.seed(context)
        for number in range(5):
            detail = {"number": number, "note": "Ñandú — 東京 — ምዝገባ"}
            subject = f"s:{number}"
            audit.record(session=session, actor="test:backup", action="backup.seed", subject=subject, detail=detail)


def rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (alembic_version included), in primary-key order."""
    metadata = MetaData()
    metadata.reflect(engine)
    found = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            found[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return found


def wipe(engine: Engine) -> None:
    """Drop every table, alembic_version too: the database a disaster leaves."""
    if engine.dialect.name == "postgresql":
        # The job queue's functions and types depend on its tables: the whole schema goes.
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    else:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    assert migrate.database_tables(engine) == set() and not migrate.applied_revisions(engine)


def change_and_back_up(engine: Engine, statement: Executable, undo: Executable, target: Path) -> None:
    """Make a backup holding `statement`'s change, then undo the change in the live database."""
    with engine.begin() as connection:
        connection.execute(statement)
    backup.backup(engine, target)
    with engine.begin() as connection:
        connection.execute(undo)


class AuditWriter(threading.Thread):
    """Appends audit events, one committed transaction each, until stopped: writes that go on during a backup."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(daemon=True)
        self.runtime = runtime
        self.written = 0
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                with self.runtime.session_factory.begin() as session:
                    subject = f"w:{self.written}"
                    audit.record(session=session, actor="test:writer", action="backup.write", subject=subject)
                self.written += 1
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        assert self.error is None, self.error
