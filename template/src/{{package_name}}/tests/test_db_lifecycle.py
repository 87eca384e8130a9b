"""`db downgrade` asks and backs up first; a revision the code does not know stops `check` and `db upgrade`."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, make_url, text
from typer.testing import CliRunner

from ..cli import app
from ..conftest import PROJECT_ROOT, TEST_SECRET
from ..core import migrate
from ..core.db import make_engine
from ..core.registry import installed_modules
from ..core.settings import get_settings

# Depends on which modules are installed, reads no country data: run per module combination, not per profile.
pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

runner = CliRunner()
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRESQL = SERVER_URL.startswith("postgresql")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database the CLI is pointed at through the environment, as an operator would."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'stack.db'}"
        dropped = None
    elif not ON_POSTGRESQL:
        pytest.skip("TEST_DATABASE_URL does not point at a PostgreSQL server")
    else:
        dropped = f"test_{uuid.uuid4().hex[:12]}"
        with create_engine(SERVER_URL, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{dropped}"'))
        url = make_url(SERVER_URL).set(database=dropped).render_as_string(hide_password=False)
    for name, value in {
        "DATABASE_URL": url,
        "COUNTRY_PROFILE": str(PROJECT_ROOT / "country.yml"),
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET,
        "NATION_STACK_LOCALE": "en",
        "BACKUP_DIR": str(tmp_path / "backups"),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if dropped:
        with create_engine(SERVER_URL, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)'))


def invoke(*args: str, answer: str | None = None):
    return runner.invoke(app, list(args), input=answer, catch_exceptions=False)


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def module_tables(url: str, module: str) -> set[str]:
    return {name for name in tables(url) if name.startswith(f"{module}_")}


def backups() -> list[Path]:
    folder = Path(os.environ["BACKUP_DIR"])
    return sorted(folder.iterdir()) if folder.is_dir() else []


def flat(output: str) -> str:
    return " ".join(output.split())  # Rich wraps long lines at the terminal's width


def test_downgrade_asks_first_and_a_no_changes_nothing(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    module = installed_modules()[-1].name
    before = module_tables(database, module)

    refused = invoke("db", "downgrade", f"{module}@base", answer="n\n")

    assert refused.exit_code == 1
    assert "a backup is made first" in flat(refused.output) and "nothing was changed" in refused.output
    assert module_tables(database, module) == before and before
    assert backups() == []


def test_downgrade_backs_the_database_up_before_dropping_a_module(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("seed").exit_code == 0
    module = installed_modules()[-1].name
    dropped = module_tables(database, module)

    result = invoke("db", "downgrade", f"{module}@base", answer="y\n")

    assert result.exit_code == 0, result.output
    [made] = backups()
    assert str(made) in flat(result.output)
    assert module_tables(database, module) == set()
    assert "core_partner" in tables(database)
    if database.startswith("sqlite"):
        with sqlite3.connect(made) as copy:
            kept = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            partners = copy.execute("SELECT count(*) FROM core_partner").fetchone()[0]
        assert dropped <= kept and partners > 0, "the backup lacks what the downgrade dropped"
    else:
        pg_restore = shutil.which("pg_restore") or "pg_restore"
        listing = subprocess.run([pg_restore, "--list", str(made)], capture_output=True, text=True, check=True)  # noqa: S603
        assert all(f"TABLE public {name} " in listing.stdout for name in dropped), listing.stdout
        assert "TABLE DATA public core_partner " in listing.stdout


def test_downgrade_without_pg_dump_refuses_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it; the check comes before any connection
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")

    with pytest.raises(migrate.MigrationRefused, match="pg_dump is not installed"):
        migrate.backup(engine, tmp_path / "backups", label="before-downgrade")
    assert list((tmp_path / "backups").iterdir()) == []


def test_an_unknown_target_is_refused_before_any_backup(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0

    result = invoke("db", "downgrade", "nonsense@base", "--yes")

    assert result.exit_code == 1
    assert "no such revision" in result.output and "Traceback" not in result.output
    assert backups() == []


def forget_a_module(url: str) -> None:
    """What a module folder deleted behind the tools' back leaves: its revision and its table."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('5e0000000009')"))
        connection.execute(text("CREATE TABLE land_parcel (id INTEGER PRIMARY KEY)"))
    engine.dispose()


def test_a_revision_the_code_does_not_know_fails_check_and_upgrade_in_one_line(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    forget_a_module(database)

    checked = invoke("check")
    upgraded = invoke("db", "upgrade")
    db_checked = invoke("db", "check")

    assert checked.exit_code == 1 and "all checks passed" not in checked.output
    for result in (checked, upgraded, db_checked):
        assert result.exit_code == 1
        text_ = flat(result.output)
        assert "migrations this code does not know: 5e0000000009" in text_, result.output
        assert "removed module land" in text_
    assert "Traceback" not in upgraded.output
    assert len([line for line in upgraded.stderr.splitlines() if "5e0000000009" in line]) == 1


def test_status_reports_each_branch_and_unknown_revisions(database: str) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    forget_a_module(database)

    result = invoke("db", "status", "--json")

    report = json.loads(result.stdout)
    by_name = {branch["name"]: branch for branch in report["branches"]}
    assert set(by_name) == {"core", *(m.name for m in installed_modules())}
    assert all(branch["applied"] for branch in by_name.values())
    assert "core_partner" in by_name["core"]["tables"]
    assert report["unknown"] == {"revisions": ["5e0000000009"], "modules": ["land"]}
    human = invoke("db", "status")
    assert human.exit_code == 1
    assert all(name in human.stdout for name in by_name) and "5e0000000009" in human.stderr
