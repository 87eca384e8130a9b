import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ....cli import app
from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTRY_PROFILE", str(PROJECT_ROOT / "country.yml"))
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")  # English output whatever the profile's locale
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_synth_then_import_then_rerun(cli_env: Path) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    population, rejects = cli_env / "pop.csv", cli_env / "rejects.csv"
    made = invoke(
        "identity",
        "synth",
        "--count",
        "300",
        "--seed",
        "4",
        "--duplicates",
        "0.05",
        "--out",
        str(population),
        "--locale",
        "en_US",
    )
    assert made.exit_code == 0, made.output
    with population.open() as handle:
        rows = list(csv.DictReader(handle))
    duplicates = sum(1 for row in rows if row["duplicate_of"])
    first = invoke("identity", "import", str(population), "--rejects", str(rejects), "--chunk-size", "100")
    assert first.exit_code == 0, first.output
    assert f"enrolled {300 - duplicates}, held for adjudication {duplicates}, rejected 0" in " ".join(
        first.output.split()
    )
    again = invoke("identity", "import", str(population), "--rejects", str(rejects))
    assert "resumed after line 301" in again.output and "enrolled 0" in again.output


def test_policy_command_refuses_unknown_factors(cli_env: Path) -> None:
    invoke("db", "upgrade")
    bad = invoke("identity", "policy", "--partner-id", "1", "--auth", "iris")
    assert bad.exit_code == 2 and "iris" in bad.output
    missing = invoke("identity", "policy", "--partner-id", "999", "--auth", "demo")
    assert missing.exit_code == 1


@pytest.mark.country_independent
def test_bench_runs_small(cli_env: Path) -> None:
    invoke("db", "upgrade")
    result = invoke(
        "identity", "bench", "--count", "300", "--chunk-size", "100", "--auth-requests", "100", "--clients", "2"
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert (
        "residents/s" in output and "identity.enrolment" in output and "verifications/s" in output and "p99" in output
    )
    assert "0 not authenticated" in output
    assert "machine yardstick: raw insert of 300 rows with a unique key" in output
    assert "scaled to the reference machine: enrolment" in output and "verifications/s" in output.split("scaled")[-1]


def test_a_bad_configuration_is_one_message_not_a_traceback(bad_configuration: str) -> None:
    result = invoke("identity", "show", "1234567890")
    assert result.exit_code == 2
    assert "Configuration error" in result.output
    assert bad_configuration in result.output
