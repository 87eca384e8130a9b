"""A deployment without an income-tax law assesses nothing and says so: API, CLI, `check` and /meta.

A custom country generated without its scale has no `tax.income_tax`; a country that levies no
personal income tax writes `income_tax: none`. Neither may fall back to a placeholder scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from ....app import create_app
from ....cli import app as stack_cli
from ....conftest import TEST_SECRET
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.registry import installed_modules
from ....core.runtime import load_profile
from ....core.settings import Settings, get_settings
from .. import bulk
from ..law import IncomeTaxLawMissing
from ..scopes import FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from ..service import VAT_PERIOD_PATTERNS, openapi_values, tax_country

Headers = Callable[..., dict[str, str]]
NOT_GIVEN = "country.yml gives no income-tax law (tax.income_tax)"
NOT_LEVIED = "this country levies no personal income tax"


def without_law(settings: Settings, tmp_path: Path, income_tax: str | None = None) -> Settings:
    """`settings` with the test profile's income-tax law removed, or replaced by `income_tax`."""
    profile = yaml.safe_load(Path(settings.country_profile).read_text(encoding="utf-8"))
    profile["tax"].pop("income_tax")
    if income_tax is not None:
        profile["tax"]["income_tax"] = income_tax
    path = tmp_path / "country.yml"
    path.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    return settings.model_copy(update={"country_profile": path})


@pytest.fixture
def lawless(settings: Settings, tmp_path: Path) -> Settings:
    return without_law(settings, tmp_path)


@pytest.fixture
def lawless_client(lawless: Settings, engine) -> Iterator[TestClient]:
    with TestClient(create_app(lawless), headers={"Accept-Language": "en"}) as client:
        yield client


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], None]]:
    """Point the stack's CLI at `settings` through the environment, as an operator would."""

    def point(settings: Settings) -> None:
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
        monkeypatch.setenv("COUNTRY_PROFILE", str(settings.country_profile))
        monkeypatch.setenv("ENVIRONMENT", "test")
        monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
        monkeypatch.setenv("NATION_STACK_LOCALE", "en")
        get_settings.cache_clear()

    yield point
    get_settings.cache_clear()


def test_filing_is_refused_with_a_problem_saying_the_law_is_missing(
    lawless_client: TestClient, api_headers: Headers, country: LoadedCountry
) -> None:
    headers = api_headers(REGISTER_SCOPE, FILE_SCOPE)
    registered = lawless_client.post(
        "/tax/taxpayers", json={"kind": "individual", "name": "Amina Njeri", "external_id": "EXT-1"}, headers=headers
    )
    assert registered.status_code == 201, registered.text  # the register works without a law
    body = {"tin": registered.json()["tin"], "year": 2024, "income": 5_000_000, "currency": country.profile.currency}
    refused = lawless_client.post("/tax/returns", json=body, headers=headers)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("/tax-law-missing")
    assert NOT_GIVEN in problem["detail"] and "add the country's scale" in problem["detail"]
    stored = lawless_client.get(f"/tax/taxpayers/{body['tin']}/assessments", headers=api_headers(READ_SCOPE))
    assert stored.json() == [], "nothing is written for a refused return"


def test_bulk_assessment_is_refused_before_any_work(lawless: Settings, engine: Engine) -> None:
    country = load_profile(lawless, installed_modules())
    with pytest.raises(IncomeTaxLawMissing):
        bulk.assess_all(session_factory=make_session_factory(engine), country=country, year=2024, actor="test")


def test_calc_is_refused(lawless: Settings, operator_env) -> None:
    operator_env(lawless)
    result = CliRunner().invoke(stack_cli, ["tax", "calc", "--year", "2024", "--income", "100"])
    assert result.exit_code == 1
    assert NOT_GIVEN in " ".join(result.output.split())


def test_check_fails_naming_the_missing_law_and_meta_reports_it(
    lawless: Settings, lawless_client: TestClient, api_headers: Headers, operator_env
) -> None:
    operator_env(lawless)
    result = CliRunner().invoke(stack_cli, ["check"])
    assert result.exit_code == 1
    assert f"tax: {NOT_GIVEN}" in " ".join(result.output.split())
    meta = lawless_client.get("/meta", headers=api_headers("meta:read")).json()
    tax = next(module for module in meta["modules"] if module["name"] == "tax")
    assert [(NOT_GIVEN in finding["message"], finding["failing"]) for finding in tax["configuration"]] == [(True, True)]


def test_a_country_without_income_tax_passes_check_and_says_so(
    settings: Settings, tmp_path: Path, operator_env, engine: Engine
) -> None:
    untaxed = without_law(settings, tmp_path, income_tax="none")
    operator_env(untaxed)
    result = CliRunner().invoke(stack_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert f"tax: {NOT_LEVIED}" in " ".join(result.output.split())
    country = load_profile(untaxed, installed_modules())
    with pytest.raises(IncomeTaxLawMissing, match=NOT_LEVIED):
        bulk.assess_all(session_factory=make_session_factory(engine), country=country, year=2024, actor="test")


def test_the_law_of_the_test_profile_passes_check(settings: Settings, operator_env) -> None:
    operator_env(settings)
    result = CliRunner().invoke(stack_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "tax:" not in result.output


def test_without_a_vat_law_no_vat_return_is_schema_valid(country: LoadedCountry) -> None:
    """The OpenAPI document states the refusal: a VAT period accepts nothing, so clients see it up front."""
    section = tax_country(country)
    vatless = country.model_copy(
        update={"sections": {**country.sections, "tax": section.model_copy(update={"vat": None})}}
    )
    assert openapi_values(vatless)["tax-vat-period"] == {"not": {}}
    assert "tax-vat-category" not in openapi_values(vatless)
    if section.vat is not None:  # a custom country's test profile may have no VAT law either
        assert openapi_values(country)["tax-vat-period"] == {"pattern": VAT_PERIOD_PATTERNS[section.vat.period]}
