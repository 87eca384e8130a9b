from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core.country import LoadedCountry
from ....core.money import Money
from ..service import income_tax_law
from .helpers import a_year_before_the_law

runner = CliRunner()


@pytest.fixture(autouse=True)
def deployment_settings(cli_on_test_database: Path) -> None:
    """The CLI on the test database and profile, speaking English whatever the profile's locale."""


def latest_year(country: LoadedCountry) -> int:
    return max(scale.since for scale in country.section("tax").income_tax.scale).year + 1


def test_calc_prints_the_tax_and_the_trace(country: LoadedCountry) -> None:
    year = latest_year(country)
    currency = country.profile.currency
    result = runner.invoke(stack_cli, ["tax", "calc", "--year", str(year), "--income", "5000000"])
    assert result.exit_code == 0, result.output
    law = income_tax_law(country=country)
    expected = law.calculate(income=Money.from_major("5000000", currency).amount, year=year)
    assert f"tax due for {year}: {law.format_amount(expected.tax_due)}" in result.output
    for step in expected.trace:
        assert step.note in result.output


def test_calc_refuses_an_amount_the_currency_cannot_hold(country: LoadedCountry) -> None:
    result = runner.invoke(stack_cli, ["tax", "calc", "--year", str(latest_year(country)), "--income", "1.23456"])
    assert result.exit_code == 2
    assert "decimal places" in result.output


def test_calc_refuses_a_year_before_the_law(country: LoadedCountry) -> None:
    before = a_year_before_the_law(country)
    result = runner.invoke(stack_cli, ["tax", "calc", "--year", str(before), "--income", "100"])
    assert result.exit_code == 1
    assert "in force" in result.output


@pytest.mark.parametrize("command", [["calc", "--year", "2024", "--income", "1"], ["export-incomes", "--year", "2024"]])
def test_a_bad_configuration_is_one_message_not_a_traceback(bad_configuration: str, command: list[str]) -> None:
    result = runner.invoke(stack_cli, ["tax", *command], catch_exceptions=False)
    assert result.exit_code == 2
    assert "Configuration error" in result.output
    assert bad_configuration in result.output
