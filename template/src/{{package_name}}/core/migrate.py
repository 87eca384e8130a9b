"""One Alembic environment; the core and every installed module own a labelled branch.

The version locations are built from the installed modules, so `upgrade heads`
works for whichever combination this deployment has.

Every table is named after its branch (`core_...`, `<module>_...`), so the tables a
branch owns can be found in a database even when its migrations are gone (a module
folder deleted while its tables stayed): that is how an unknown revision is traced to
the module it likely came from.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, inspect

from . import audit
from .db import Base
from .i18n import _
from .jobs import QUEUE_TABLE_PREFIX
from .registry import installed_parts

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"


class MigrationRefused(Exception):
    """A schema change that was not made; the (translated) message says why and what to do."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = [part.migrations for part in installed_parts()]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _join(locations))
    config.attributes["engine"] = engine
    config.attributes["target_metadata"] = target_metadata()
    config.attributes["include_name"] = _models_only
    # The core migration that re-keys a chain written with plain SHA-256 asks for the chain's key
    # (only when there are events to re-key, so migrating an empty database needs no secret).
    config.attributes["audit_chain_key"] = audit.configured_key
    return config


def target_metadata():
    installed_parts()  # importing each module registers its tables on Base.metadata
    return Base.metadata


def branch_names() -> list[str]:
    return [part.name for part in installed_parts()]


def upgrade(engine: Engine, revision: str = "heads") -> None:
    _require_known_revisions(engine)
    try:
        command.upgrade(alembic_config(engine), revision)
    except CommandError as error:
        raise MigrationRefused(_("the upgrade failed: {error}").format(error=error)) from error


def downgrade(engine: Engine, revision: str, *, backup_dir: Path) -> Path:
    """Revert migrations down to `revision`, after backing the database up; returns the backup.

    A downgrade drops tables with their rows (`<module>@base` drops a module's ledger),
    so there is no way to run one here without a backup first.
    """
    _require_known_revisions(engine)
    _require_target(engine, revision)
    made = backup(engine, backup_dir, label=f"before-downgrade-{revision}")
    try:
        command.downgrade(alembic_config(engine), revision)
    except CommandError as error:
        message = _("the downgrade failed: {error} (the backup made first: {path})")
        raise MigrationRefused(message.format(error=error, path=made)) from error
    return made


def _require_target(engine: Engine, revision: str) -> None:
    """Refuse a target Alembic cannot resolve before a backup is made for nothing."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    branch, at, _relative = revision.rpartition("@")
    try:
        script.get_revisions(revision)
        # `get_revisions` accepts `<anything>@base`; the part before `@` must name a branch or revision.
        if at and branch not in branch_names():
            script.get_revision(branch)
    except CommandError as error:
        raise MigrationRefused(_("no such revision: {error}").format(error=error)) from error


def applied_revisions(engine: Engine) -> set[str]:
    """The revisions recorded in the database's alembic_version table (one per applied branch)."""
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def pending_heads(engine: Engine) -> set[str]:
    """Heads not yet applied to the database (empty when it is up to date)."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    return set(script.get_heads()) - applied_revisions(engine)


def database_tables(engine: Engine) -> set[str]:
    """The branches' tables: not Alembic's, nor the job queue's (procrastinate's own, core_0008)."""
    return {
        table
        for table in inspect(engine).get_table_names()
        if table != VERSION_TABLE and not table.startswith(QUEUE_TABLE_PREFIX)
    }


def _models_only(name: str | None, type_: str, parent_names) -> bool:
    """Autogenerate and `db check` compare the models with their own tables, not the job queue's."""
    return not (type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX))


@dataclass(frozen=True)
class Branch:
    name: str
    applied: str | None  # the branch's revision in alembic_version; None when not applied
    tables: tuple[str, ...]  # tables in the database named after the branch


def branches(engine: Engine) -> list[Branch]:
    """Each installed branch (core, then every module): its applied revision and its tables in the database."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    known = {revision.revision for revision in script.walk_revisions()}
    applied: dict[str, str] = {}
    for revision in applied_revisions(engine) & known:
        # Alembic gives every revision the labels of the branch base it descends from.
        for label in script.get_revision(revision).branch_labels:
            applied[label] = revision
    tables = database_tables(engine)
    return [
        Branch(name, applied.get(name), tuple(sorted(t for t in tables if t.startswith(f"{name}_"))))
        for name in branch_names()
    ]


@dataclass(frozen=True)
class UnknownRevisions:
    """Revisions the database records that no installed branch provides."""

    revisions: tuple[str, ...]
    modules: tuple[str, ...]  # likely owners: the prefixes of tables no installed branch owns

    def describe(self) -> str:
        revisions = ", ".join(self.revisions)
        if not self.modules:
            return _(
                "the database has migrations this code does not know: {revisions}; "
                "is this the code that migrated this database?"
            ).format(revisions=revisions)
        return _(
            "the database has migrations this code does not know: {revisions}, likely from the removed "
            "module {modules} whose tables are still in the database; put the module back at the same "
            "release, run `db downgrade <module>@base --yes` (it makes a backup), then remove the module"
        ).format(revisions=revisions, modules=", ".join(self.modules))


def unknown_revisions(engine: Engine) -> UnknownRevisions | None:
    """What the database has applied that this code cannot migrate from (None when everything is known)."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    known = {revision.revision for revision in script.walk_revisions()}
    unknown = applied_revisions(engine) - known
    if not unknown:
        return None
    owned = tuple(f"{name}_" for name in branch_names())
    leftover = {table.split("_", 1)[0] for table in database_tables(engine) if not table.startswith(owned)}
    return UnknownRevisions(revisions=tuple(sorted(unknown)), modules=tuple(sorted(leftover)))


def _require_known_revisions(engine: Engine) -> None:
    # Alembic would fail deep inside its revision map with a long traceback.
    unknown = unknown_revisions(engine)
    if unknown is not None:
        raise MigrationRefused(unknown.describe())


# ---------------------------------------------------------------- backups


def backup(engine: Engine, folder: Path, *, label: str) -> Path:
    """A consistent copy of the whole database in `folder`, named after it, the time and `label`."""
    url = engine.url
    stem = Path(url.database or "memory").stem if url.get_backend_name() == "sqlite" else str(url.database)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{stem}-{stamp}-{label}")
    folder = folder.resolve()  # the path printed to the operator works from any directory
    folder.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        return write_whole(folder / f"{name}.sqlite", write_sqlite_backup, engine)
    if url.get_backend_name() == "postgresql":
        return write_whole(folder / f"{name}.dump", write_postgresql_dump, engine)
    raise MigrationRefused(
        _("no backup method for {backend} databases; nothing was changed").format(backend=url.get_backend_name())
    )


def write_whole(target: Path, write, engine: Engine) -> Path:
    # Written under a temporary name and renamed when complete: a file with the final
    # name is always a whole backup.
    partial = target.with_name(target.name + ".partial")
    try:
        write(engine, partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial.replace(target)


def write_sqlite_backup(engine: Engine, target: Path) -> None:
    # SQLite's online backup API copies a consistent snapshot, the WAL's committed pages
    # included; copying the file alone could miss them or catch a half-written page.
    raw = engine.raw_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(destination)
            # The copy is one self-contained file: out of WAL mode, so reading it never needs a -wal beside it.
            destination.execute("PRAGMA journal_mode=DELETE")
        finally:
            destination.close()
    finally:
        raw.close()


def write_postgresql_dump(engine: Engine, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise MigrationRefused(
            _(
                "pg_dump is not installed (or not on PATH): install the PostgreSQL client tools, "
                "at least the server's major version; nothing was changed"
            )
        )
    url = engine.url
    environment = dict(os.environ)
    if url.password is not None:  # through the environment: a command line is visible to every user
        environment["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run(  # noqa: S603 - pg_dump found on PATH, arguments are not a shell line
        [pg_dump, "--format=custom", f"--file={target}", f"--dbname={dsn}"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
        raise MigrationRefused(_("pg_dump failed: {error}; nothing was changed").format(error=lines[-1]))


def schema_differences(engine: Engine) -> list[str]:
    """Differences between the models and the migrated database (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": _models_only})
        return [repr(diff) for diff in compare_metadata(context, target_metadata())]


def revision(engine: Engine, *, branch: str, message: str, autogenerate: bool = True) -> None:
    """Write a new revision on `branch` (core or a module name) into that branch's folder."""
    config = alembic_config(engine)
    folder = _migrations_of(branch)
    command.revision(
        config, message=message, autogenerate=autogenerate, head=f"{branch}@head", version_path=str(folder)
    )


def _migrations_of(branch: str) -> Path:
    for part in installed_parts():
        if part.name == branch:
            return part.migrations
    raise ValueError(f"no installed part is called {branch!r}")


def _join(paths: list[Path]) -> str:
    return os.pathsep.join(str(path) for path in paths)
