"""Replicas migrating together: real `python -m <package> db upgrade` processes on one fresh database.

Each process imports the stack first and then waits for a shared start signal, so the four
runs reach the database within milliseconds of each other (import time would otherwise spread
them over seconds and hide a missing lock). The database lock in migrations/env.py must make
them take turns: every run exits 0 and the schema is there exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from ..conftest import PROJECT_ROOT, TEST_SECRET
from ..core import migrate
from ..core.db import make_engine

pytestmark = pytest.mark.country_independent

PACKAGE = __name__.split(".")[0]
REPLICAS = 4

# Imports the stack, waits for the start file, then runs the CLI exactly as `python -m <package>` does.
RUN_WHEN_TOLD = """
import os, runpy, sys, time
import {package}.cli
start = os.environ["MIGRATION_START_FILE"]
while not os.path.exists(start):
    time.sleep(0.005)
sys.argv = ["{package}", "db", "upgrade"]
runpy.run_module("{package}", run_name="__main__", alter_sys=True)
"""


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test: a new SQLite file, or a new PostgreSQL database."""
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if not server_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'replicas.db'}"
        return
    name = f"test_lock_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stack_environment(database_url: str, test_country_profile: Path, tmp_path: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET,
        ENVIRONMENT="test",
        COUNTRY_PROFILE=str(test_country_profile),
        BACKUP_DIR=str(tmp_path / "backups"),
        NATION_STACK_LOCALE="en",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT / "src"), env.get("PYTHONPATH")])),
    )
    return env


def upgrade_together(env: dict[str, str], start_file: Path) -> list[subprocess.CompletedProcess[str]]:
    script = RUN_WHEN_TOLD.format(package=PACKAGE)
    runs = [
        subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", script],
            env={**env, "MIGRATION_START_FILE": str(start_file)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(REPLICAS)
    ]
    time.sleep(_import_allowance(env))
    start_file.touch()
    results = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr))
    return results


def _import_allowance(env: dict[str, str]) -> float:
    """How long one process takes to import the stack here, plus a margin, so all four are waiting."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", f"import {PACKAGE}.cli"], env=env, check=True)  # noqa: S603
    return (time.monotonic() - began) * 1.5 + 0.5


def test_replicas_upgrading_together_all_succeed_and_leave_one_schema(
    fresh_database_url: str, test_country_profile: Path, tmp_path: Path
) -> None:
    env = stack_environment(fresh_database_url, test_country_profile, tmp_path)
    results = upgrade_together(env, tmp_path / "start")

    failures = [(result.returncode, result.stderr[-2000:]) for result in results if result.returncode != 0]
    assert failures == []
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert sorted(versions) == sorted(set(versions))  # one row per branch head, none written twice
        assert len(versions) == len(migrate.branch_names())
        assert migrate.pending_heads(engine) == set()
        assert migrate.database_tables(engine) == set(migrate.target_metadata().tables)
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()
    check = subprocess.run(  # noqa: S603 - this interpreter, the stack's own CLI
        [sys.executable, "-m", PACKAGE, "db", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
