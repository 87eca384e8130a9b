import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from ..cli import app
from ..conftest import PROJECT_ROOT, TEST_SECRET
from ..core.db import make_engine
from ..core.registry import installed_modules
from ..core.settings import get_settings

pytestmark = pytest.mark.selection  # depends on which modules are installed

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_country_profile: Path) -> Iterator[Path]:
    """Point the CLI at a fresh SQLite database through the environment, as an operator would."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTRY_PROFILE", str(test_country_profile))
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")  # English output whatever the profile's locale
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.country_independent
def test_check_fails_before_migration_and_passes_after(cli_env: Path) -> None:
    before = invoke("check")
    assert before.exit_code == 1
    assert "pending migrations" in before.output
    assert invoke("db", "upgrade").exit_code == 0
    after = invoke("check")
    assert after.exit_code == 0, after.output
    assert "all checks passed" in after.output


@pytest.mark.country_independent
def test_db_check_confirms_models_match_migrations(cli_env: Path) -> None:
    invoke("db", "upgrade")
    result = invoke("db", "check")
    assert result.exit_code == 0, result.output
    assert "schema matches" in result.output


@pytest.mark.country_independent
def test_downgrading_a_module_branch_drops_only_its_tables(cli_env: Path) -> None:
    invoke("db", "upgrade")
    module = installed_modules()[0].name
    result = invoke("db", "downgrade", f"{module}@base", "--yes")
    assert result.exit_code == 0, result.output
    tables = set(inspect(make_engine(os.environ["DATABASE_URL"])).get_table_names())
    assert not any(table.startswith(f"{module}_") for table in tables)
    assert "core_partner" in tables
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("db", "check").exit_code == 0


@pytest.mark.country_independent
def test_partner_create_prints_a_key_once_and_refuses_unknown_scopes(cli_env: Path) -> None:
    invoke("db", "upgrade")
    created = invoke("partner", "create", "--name", "Bank", "--scope", "meta:read")
    assert created.exit_code == 0
    assert created.stdout.strip().startswith("nsk_")
    assert "evaluation deployment" in created.stderr
    refused = invoke("partner", "create", "--name", "Bank", "--scope", "everything")
    assert refused.exit_code == 2
    assert "unknown scope(s) everything" in refused.output


def test_seed_prints_a_demo_key(cli_env: Path) -> None:
    invoke("db", "upgrade")
    result = invoke("seed")
    assert result.exit_code == 0, result.output
    assert "demo partner API key: nsk_" in result.output


@pytest.mark.country_independent
def test_invalid_country_profile_is_a_clear_configuration_error(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = cli_env / "country.yml"
    broken.write_text(
        (PROJECT_ROOT / "country.yml").read_text(encoding="utf-8").replace("currency:", "currency: XYZ #")
    )
    monkeypatch.setenv("COUNTRY_PROFILE", str(broken))
    get_settings.cache_clear()
    result = invoke("check")
    assert result.exit_code == 2
    assert "Configuration error" in result.output
    assert "currency: 'XYZ' is not an ISO 4217 currency code" in result.output


@pytest.mark.country_independent
def test_the_worker_refuses_to_start_before_db_upgrade(cli_env: Path) -> None:
    result = invoke("worker")
    assert result.exit_code == 1
    assert "pending migrations" in result.output and "db upgrade" in result.output
