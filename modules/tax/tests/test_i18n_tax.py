"""The module's own catalogs (locales/): its problem details and CLI output follow the caller's language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core import i18n
from ....core.country import LoadedCountry
from ....core.money import Money
from .. import tins
from ..scopes import READ_SCOPE, REGISTER_SCOPE
from ..service import income_tax_law, tax_country

Headers = Callable[..., dict[str, str]]
NBSP = "\u00a0"


@pytest.fixture
def headers(api_headers: Headers) -> dict[str, str]:
    return api_headers(REGISTER_SCOPE, READ_SCOPE)


def test_a_registration_conflict_in_french_and_japanese(client: TestClient, headers: dict[str, str]) -> None:
    body = {"kind": "individual", "name": "Amina Njeri", "external_id": "EXT-I18N"}
    tin = client.post("/tax/taxpayers", json=body, headers=headers).json()["tin"]
    english = client.post("/tax/taxpayers", json=body, headers=headers)
    assert english.status_code == 409
    assert english.json()["detail"] == f"this individual is already registered with TIN {tin}"
    french = client.post("/tax/taxpayers", json=body, headers={**headers, "Accept-Language": "fr-FR"})
    assert french.json()["detail"] == f"ce particulier est déjà enregistré sous le NIF {tin}"
    assert french.json()["type"] == english.json()["type"]  # never translated
    assert french.json()["tin"] == tin
    assert french.headers["content-language"] == "fr-FR"
    japanese = client.post("/tax/taxpayers", json=body, headers={**headers, "Accept-Language": "ja"})
    assert japanese.json()["detail"] == f"この個人は納税者番号 {tin} ですでに登録されています"


def test_the_field_prefix_stays_english_and_the_tin_is_quoted_the_french_way(
    client: TestClient, headers: dict[str, str], country: LoadedCountry
) -> None:
    tin = tins.generate(tax_country(country).tin_length)
    french = client.get(f"/tax/taxpayers/{tin}", headers={**headers, "Accept-Language": "fr"})
    assert french.status_code == 404
    assert french.json()["detail"] == f"tin: aucun contribuable ne détient le NIF «{NBSP}{tin}{NBSP}»"
    japanese = client.get(f"/tax/taxpayers/{tin}", headers={**headers, "Accept-Language": "ja-JP"})
    assert japanese.json()["detail"] == f"tin: 「{tin}」を保有する納税者は登録されていません"


def test_a_request_validator_speaks_the_request_language(client: TestClient, headers: dict[str, str]) -> None:
    business = {"kind": "business", "name": "Acme Ltd"}
    french = client.post("/tax/taxpayers", json=business, headers={**headers, "Accept-Language": "fr"}).json()
    (error,) = french["errors"]
    assert error["location"] == "body"
    assert error["message"].endswith("external_id: une entreprise doit indiquer son numéro d’immatriculation")


@pytest.fixture
def no_locale(monkeypatch: pytest.MonkeyPatch, cli_on_test_database: Path) -> None:
    for name in i18n.LOCALE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def calc(country: LoadedCountry) -> tuple[list[str], int, str]:
    year = max(scale.since for scale in country.section("tax").income_tax.scale).year + 1
    law = income_tax_law(country=country)
    income = Money.from_major("5000000", country.profile.currency).amount
    tax_due = law.format_amount(law.calculate(income=income, year=year).tax_due)
    return ["tax", "calc", "--year", str(year), "--income", "5000000"], year, tax_due


def test_tax_calc_speaks_swahili_with_lang(
    no_locale: None, monkeypatch: pytest.MonkeyPatch, country: LoadedCountry
) -> None:
    monkeypatch.setenv("LANG", "sw_KE.UTF-8")
    arguments, year, tax_due = calc(country)
    result = CliRunner().invoke(stack_cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"kodi inayodaiwa kwa {year}: {tax_due}" in result.output
    assert f"mwaka wa fedha {year} unaanza tarehe" in result.output  # the trace too
    assert i18n.current_locale() == i18n.DEFAULT_LOCALE  # restored when the command ends


def test_tax_calc_without_a_locale_follows_the_profile(no_locale: None, country: LoadedCountry) -> None:
    arguments, year, tax_due = calc(country)
    result = CliRunner().invoke(stack_cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with i18n.use_locale(i18n.negotiate(None, country.profile.locale)):
        expected = i18n.gettext("tax due for {year}: {amount}").format(year=year, amount=tax_due)
    assert expected in result.output
