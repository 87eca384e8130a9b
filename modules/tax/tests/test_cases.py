"""Every YAML case file in `cases/` (one per country), run against the calculator.

A case file names its country, currency and law (`law: shipped` for the shipped
profile's `tax:` section, or an inline `tax:` mapping) and lists cases with amounts
in major units; each case must cite how its figure was checked by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ....core.money import to_minor
from ..config import TaxCountry
from ..law import IncomeTaxLaw
from .laws import SHIPPED

CASES = Path(__file__).resolve().parents[1] / "cases"


def _files() -> list[Path]:
    return sorted(CASES.glob("*.yml"))


def _law(document: dict[str, Any]) -> IncomeTaxLaw:
    currency = document["currency"]
    data = SHIPPED[currency] if document.get("law") == "shipped" else document["tax"]
    return IncomeTaxLaw.from_country(TaxCountry.model_validate(data), currency)


def _cases() -> list[Any]:
    params = []
    for path in _files():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            params.append(pytest.param(document, case, id=f"{path.stem}: {case['name']}"))
    return params


def test_every_shipped_country_has_a_case_file_citing_its_source() -> None:
    assert {path.stem for path in _files()} >= {"JP", "KE", "JO"}
    for path in _files():
        text = path.read_text(encoding="utf-8")
        assert "Source:" in text, f"{path.name} must cite the published table it was taken from"
        document = yaml.safe_load(text)
        assert document["cases"], path.name
        for case in document["cases"]:
            assert set(case) >= {"name", "year", "income", "tax", "check"}, (path.name, case)
            for key in ("income", "tax"):
                assert isinstance(case[key], str), f"{path.name}: {case['name']}: quote {key} so it is exact"


def test_the_cases_cover_amounts_above_two_to_the_24_minor_units() -> None:
    for path in _files():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        largest = max(to_minor(case["income"], document["currency"]) for case in document["cases"])
        assert largest > 2**24, path.name


@pytest.mark.parametrize(("document", "case"), _cases())
def test_case(document: dict[str, Any], case: dict[str, Any]) -> None:
    currency = document["currency"]
    result = _law(document).calculate(income=to_minor(case["income"], currency), year=case["year"])
    assert result.tax_due == to_minor(case["tax"], currency), case["check"]
    assert isinstance(result.tax_due, int)
