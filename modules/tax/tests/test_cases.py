"""Every YAML case file in `cases/` (one per country), run against the law this deployment applies.

A case file names its country and currency, and its law: `law: shipped` means the `tax:`
section of that country's shipped profile, which is only present in a deployment generated
from it. So the file whose `country` is this deployment's is run against the deployment's
own country.yml, loaded as at start-up (this file's `country` fixture) and applied by the same
`TaxRules` the API uses; other countries' shipped-law files are skipped, and run in their
own country's stack (the template's tests generate every shipped profile and run its
suite). A file may instead carry an inline `tax:` mapping; it then runs everywhere.

Sections: `cases` (income tax), `penalty_cases` (late filing), `interest_cases` (late
payment) and `objection_cases` (the window). Amounts are quoted strings in major units;
every case says in `check` how its figure was worked out by hand.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from ....conftest import PROJECT_ROOT
from ....core.country import LoadedCountry
from ....core.money import to_minor
from ....core.registry import installed_modules
from ....core.runtime import load_profile
from ....core.settings import Settings
from ..config import TaxCountry
from ..rules import TaxRules

CASES = Path(__file__).resolve().parents[1] / "cases"
SECTIONS = {
    "cases": {"name", "year", "income", "tax", "check"},
    "penalty_cases": {"name", "year", "tax", "filed_on", "deadline", "penalty", "check"},
    "interest_cases": {"name", "tax", "due", "as_of", "interest", "check"},
    "objection_cases": {"name", "assessed_on", "last_day", "check"},
}
AMOUNTS = {"income", "tax", "penalty", "interest"}


@pytest.fixture(scope="module")
def country(settings: Settings) -> LoadedCountry:
    """The deployment's own country.yml: the other tests run with the test law laid over it."""
    return load_profile(
        settings.model_copy(update={"country_profile": PROJECT_ROOT / "country.yml"}), installed_modules()
    )


def _files() -> list[Path]:
    return sorted(CASES.glob("*.yml"))


def _document(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules_for_document(document: dict[str, Any], country: LoadedCountry) -> TaxRules:
    """The law a case file is checked against: its inline `tax:`, or this deployment's own profile."""
    if "tax" in document:
        currency = document["currency"]
        section = TaxCountry.model_validate(document["tax"], context={"currency": currency})
        return TaxRules.build(section, currency)
    assert document.get("law") == "shipped", "give `law: shipped` or an inline `tax:` mapping"
    here = country.profile.country
    if document["country"] != here:
        pytest.skip(
            f"cases/{document['country']}.yml applies the shipped law of {document['country']}; this deployment's "
            f"country.yml is {here}'s, so they run in a stack generated from countries/{document['country']}.yml"
        )
    assert document["currency"] == country.profile.currency, "the case file's currency is not the profile's"
    return TaxRules.for_country(country)


def _params(section: str) -> list[Any]:
    params = []
    for path in _files():
        document = _document(path)
        for case in document.get(section) or []:
            params.append(pytest.param(document, case, id=f"{path.stem}: {case['name']}"))
    return params


def test_every_shipped_country_has_a_case_file_citing_its_source() -> None:
    assert {path.stem for path in _files()} >= {"JP", "KE", "JO"}
    for path in _files():
        text = path.read_text(encoding="utf-8")
        assert "Source:" in text, f"{path.name} must cite the published table it was taken from"
        document = yaml.safe_load(text)
        assert document.get("law") == "shipped" or isinstance(document.get("tax"), dict), path.name
        for section, keys in SECTIONS.items():
            assert document.get(section), f"{path.name}: give {section} (the country's law has them too)"
            for case in document[section]:
                assert set(case) >= keys, (path.name, section, case)
                for key in AMOUNTS & set(case):
                    assert isinstance(case[key], str), f"{path.name}: {case['name']}: quote {key} so it is exact"
                for payment in case.get("payments", []):
                    assert set(payment) == {"date", "amount"} and isinstance(payment["amount"], str), (path.name, case)


def test_the_cases_cover_amounts_above_two_to_the_24_minor_units() -> None:
    for path in _files():
        document = _document(path)
        largest = max(to_minor(case["income"], document["currency"]) for case in document["cases"])
        assert largest > 2**24, path.name


@pytest.mark.parametrize(("document", "case"), _params("cases"))
def test_case(document: dict[str, Any], case: dict[str, Any], country: LoadedCountry) -> None:
    currency = document["currency"]
    result = rules_for_document(document, country).income.calculate(
        income=to_minor(case["income"], currency), year=case["year"]
    )
    assert result.tax_due == to_minor(case["tax"], currency), case["check"]
    assert isinstance(result.tax_due, int)


@pytest.mark.parametrize(("document", "case"), _params("penalty_cases"))
def test_penalty_case(document: dict[str, Any], case: dict[str, Any], country: LoadedCountry) -> None:
    """The late-filing penalty on a year's income-tax return, as filing it assesses it."""
    currency = document["currency"]
    rules = rules_for_document(document, country)
    deadline = rules.income_deadline(case["year"])
    assert deadline == _day(case["deadline"]), f"the {case['year']} return is due on {deadline}: {case['check']}"
    penalty = rules.late_filing_penalty(
        tax=to_minor(case["tax"], currency), filed_on=_day(case["filed_on"]), deadline=deadline
    )
    assert penalty.amount == to_minor(case["penalty"], currency), f"{case['check']} | {penalty.trace[0].note}"


@pytest.mark.parametrize(("document", "case"), _params("interest_cases"))
def test_interest_case(document: dict[str, Any], case: dict[str, Any], country: LoadedCountry) -> None:
    """Late-payment interest on tax due on `due`, after `payments`, as the account statement computes it."""
    currency = document["currency"]
    rules = rules_for_document(document, country)
    interest, detail = rules.interest(
        debts=[(_day(case["due"]), to_minor(case["tax"], currency))],
        payments=[(_day(p["date"]), to_minor(p["amount"], currency)) for p in case.get("payments", [])],
        as_of=_day(case["as_of"]),
    )
    assert interest == to_minor(case["interest"], currency), f"{case['check']} | {detail}"


@pytest.mark.parametrize(("document", "case"), _params("objection_cases"))
def test_objection_case(document: dict[str, Any], case: dict[str, Any], country: LoadedCountry) -> None:
    """The last day an objection to an assessment of `assessed_on` is accepted (lodging refuses later days)."""
    last_day, _days = rules_for_document(document, country).objection_deadline(_day(case["assessed_on"]))
    assert last_day == _day(case["last_day"]), case["check"]


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
