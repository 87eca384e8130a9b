"""The `tax:` section of country.yml: mistakes are refused at start-up, naming the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ....conftest import PROJECT_ROOT
from ....core.country import CountryProfileError, LoadedCountry, load_country
from ..config import TaxCountry
from ..law import IncomeTaxLaw, TaxLawMisconfigured
from ..service import configuration_findings, income_tax_law
from .laws import JAPAN, JORDAN, KENYA, changed, section


def load_with_tax(tmp_path: Path, tax: Any) -> LoadedCountry:
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    profile["tax"] = tax
    profile["currency"] = "KES"  # the sections under test are written in shillings (or whole units)
    profile.pop("currency_minor_units", None)  # stated for the deployment's own currency
    path = tmp_path / "country.yml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return load_country(path, {"tax": TaxCountry})


def test_the_deployments_own_tax_law_is_valid_and_fits_its_currency() -> None:
    """The deployment's country.yml itself (the other tests run with the test law of tests/country.yml)."""
    country = load_country(PROJECT_ROOT / "country.yml", {"tax": TaxCountry})
    tax = country.section("tax")
    law = income_tax_law(country=country)
    assert law.currency == country.profile.currency
    if tax.income_tax is None:
        findings = configuration_findings(country)
        assert [finding.failing for finding in findings] == [not tax.levies_no_income_tax]
        return
    latest = max(scale.since for scale in tax.income_tax.scale)
    assert law.calculate(income=0, year=latest.year + 1).tax_due == 0


@pytest.mark.parametrize("data", [KENYA, JAPAN, JORDAN])
def test_the_shipped_sections_are_valid(data: dict[str, Any]) -> None:
    assert section(data).tin_length == 9


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("income_tax", "scale", 1, "brackets", 2, "from"),
            "200000",
            "tax.income_tax.scale[1].brackets[2].from: 200000 is not above the previous threshold 288000",
        ),
        (
            ("income_tax", "scale", 0, "brackets", 1, "rate"),
            "1.5",
            "tax.income_tax.scale[0].brackets[1].rate: 1.5 is outside [0, 1]",
        ),
        (
            ("income_tax", "scale", 0, "brackets", 1, "rate"),
            "-0.1",
            "tax.income_tax.scale[0].brackets[1].rate: -0.1 is outside [0, 1]",
        ),
        (
            ("income_tax", "rounding", "base", "mode"),
            "bankers",
            "tax.income_tax.rounding.base.mode: 'bankers' is not a rounding mode; allowed: down, up, half_up",
        ),
        (
            ("income_tax", "rounding", "tax", "quantum"),
            "0",
            "tax.income_tax.rounding.tax.quantum: 0 must be above zero",
        ),
        (
            ("income_tax", "scale", 0, "brackets", 0, "from"),
            "1000",
            'tax.income_tax.scale[0].brackets[0].from: the first bracket must start from "0"',
        ),
        (
            ("income_tax", "relief", 0, "amount"),
            "-5",
            "tax.income_tax.relief[0].amount: -5 is negative",
        ),
        (
            ("income_tax", "scale", 0, "brackets", 1, "rate"),
            0.25,
            "tax.income_tax.scale[0].brackets[1].rate: 0.25 must be written as a quoted decimal string",
        ),
        (
            ("income_tax", "scale", 0, "brackets", 1, "from"),
            "lots",
            "tax.income_tax.scale[0].brackets[1].from: 'lots' is not a decimal number",
        ),
        (("fiscal_year_start",), "13-01", "tax.fiscal_year_start: '13-01' is not a month-day"),
        (("fiscal_year_start",), "02-29", "tax.fiscal_year_start: '02-29' is not a month-day"),
        (("tin_length",), 3, "tax.tin_length: Input should be greater than or equal to 6"),
        (
            ("income_tax", "scale", 1, "since"),
            "2021-01-01",
            "tax.income_tax.scale[1].since: 2021-01-01 is already the since date of scale[0]",
        ),
    ],
)
def test_each_mistake_is_refused_at_start_up_naming_its_key(
    tmp_path: Path, path: tuple[str | int, ...], value: Any, message: str
) -> None:
    with pytest.raises(CountryProfileError) as error:
        load_with_tax(tmp_path, changed(KENYA, path, value))
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems


def test_duplicate_allowance_dates_are_refused(tmp_path: Path) -> None:
    doubled = changed(JAPAN, ("income_tax", "allowance", 1, "since"), "2015-01-01")
    with pytest.raises(CountryProfileError) as error:
        load_with_tax(tmp_path, doubled)
    assert error.value.problems == [
        "tax.income_tax.allowance[1].since: 2015-01-01 is already the since date of allowance[0]; "
        "each dated value needs its own date"
    ]


def test_unknown_keys_are_reported(tmp_path: Path) -> None:
    with pytest.raises(CountryProfileError) as error:
        load_with_tax(tmp_path, {"tin_length": 9, "income_taxes": {}})
    assert [problem.split(":")[0] for problem in error.value.problems] == ["tax.income_taxes"]


def test_a_law_that_is_not_a_mapping_or_none_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CountryProfileError) as error:
        load_with_tax(tmp_path, {"income_tax": "zero"})
    assert [problem.split(":")[0] for problem in error.value.problems] == ["tax.income_tax"]


@pytest.mark.parametrize(("income_tax", "provision"), [(None, "not_given"), ("none", "not_levied")])
def test_no_law_and_no_income_tax_load_and_stay_apart(tmp_path: Path, income_tax: str | None, provision: str) -> None:
    tax = {} if income_tax is None else {"income_tax": income_tax}
    loaded = load_with_tax(tmp_path, tax)
    assert income_tax_law(country=loaded).provision == provision
    dumped = loaded.section("tax").model_dump(by_alias=True, mode="json")
    assert TaxCountry.model_validate(dumped).levies_no_income_tax == (income_tax == "none")


def test_a_valid_section_loads(tmp_path: Path) -> None:
    loaded = load_with_tax(tmp_path, KENYA)
    assert loaded.section("tax").income_tax.scale[1].brackets[3].rate == Decimal("0.325")


@pytest.mark.parametrize(
    ("currency", "data", "message"),
    [
        (
            "KES",
            changed(KENYA, ("income_tax", "rounding", "tax", "quantum"), "0.001"),
            "tax.income_tax.rounding.tax.quantum: 0.001 is not a whole number of KES minor units (0.01)",
        ),
        (
            "JPY",
            changed(JAPAN, ("income_tax", "rounding", "base", "quantum"), "0.5"),
            "tax.income_tax.rounding.base.quantum: 0.5 is not a whole number of JPY minor units (1)",
        ),
        (
            "JPY",
            changed(JAPAN, ("income_tax", "scale", 0, "brackets", 1, "from"), "1950000.5"),
            "tax.income_tax.scale[0].brackets[1].from: 1950000.5 JPY has more than 0 decimal places",
        ),
        (
            "KES",
            changed(KENYA, ("income_tax", "relief", 0, "amount"), "28800.001"),
            "tax.income_tax.relief[0].amount: 28800.001 KES has more than 2 decimal places",
        ),
    ],
)
def test_values_finer_than_the_currency_are_refused_naming_the_key(
    currency: str, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaxLawMisconfigured) as error:
        IncomeTaxLaw.from_country(section(data), currency)
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
    assert error.value.status == 500
    # The same check runs inside validation when the currency is given as context.
    with pytest.raises(ValidationError) as invalid:
        TaxCountry.model_validate(data, context={"currency": currency})
    assert message.split(": ", 1)[1] in str(invalid.value)


def test_a_jod_quantum_of_one_fils_fits_but_not_in_yen() -> None:
    assert IncomeTaxLaw.from_country(section(JORDAN), "JOD").tax_rounding.rule.quantum == 1
    with pytest.raises(TaxLawMisconfigured, match=r"rounding\.base\.quantum"):
        IncomeTaxLaw.from_country(section(JORDAN), "JPY")


VAT = {"rate": [{"since": "2020-01-01", "rate": "0.16"}], "exempt": ["medical"]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"vat": {**VAT, "rate": [{"since": "2020-01-01", "rate": "16"}]}},
            "tax.vat.rate[0].rate: 16 is outside [0, 1]",
        ),
        ({"vat": {**VAT, "rate": []}}, "tax.vat.rate: List should have at least 1 item"),
        ({"vat": {**VAT, "exempt": ["medical", "medical"]}}, "tax.vat.exempt[1]: 'medical' is listed twice"),
        (
            {"vat": {**VAT, "reduced": {"medical": [{"since": "2020-01-01", "rate": "0.08"}]}}},
            "tax.vat.reduced.medical: 'medical' is also listed as exempt",
        ),
        ({"vat": {**VAT, "period": "week"}}, "tax.vat.period: Input should be 'month', 'quarter' or 'year'"),
        ({"vat": {**VAT, "rounding": {"mode": "down", "quantum": "0.001"}}}, "tax.vat.rounding.quantum: 0.001 is not"),
        ({"filing_deadline": "02-30"}, "tax.filing_deadline.month_day: '02-30' is not a month-day"),
        (
            {"filing_deadline": {"months_after_year_end": 3, "month_day": "03-15"}},
            "tax.filing_deadline: give exactly one of months_after_year_end",
        ),
        (
            {"penalties": {"late_filing": [{"since": "2021-01-01", "fixed": "0.001"}]}},
            "tax.penalties.late_filing[0].fixed: 0.001 KES has more than 2 decimal places",
        ),
        (
            {"penalties": {"interest": [{"since": "2021-01-01", "monthly_rate": 0.01}]}},
            "tax.penalties.interest[0].monthly_rate: 0.01 must be written as a quoted decimal string",
        ),
        (
            {"penalties": {"late_filing": [{"since": "2021-01-01"}, {"since": "2021-01-01", "rate": "0.1"}]}},
            "tax.penalties.late_filing[1].since: 2021-01-01 is already the since date of late_filing[0]",
        ),
        ({"objections": {"window_days": [{"since": "2021-01-01", "days": 0}]}}, "tax.objections.window_days[0].days"),
    ],
)
def test_the_new_keys_are_refused_at_start_up_naming_the_key(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CountryProfileError) as error:
        load_with_tax(tmp_path, {**KENYA, **changes})
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
    assert str(error.value.path).endswith("country.yml")


def test_a_section_without_the_new_keys_gets_the_defaults(tmp_path: Path) -> None:
    tax = load_with_tax(tmp_path, KENYA).section("tax")
    assert tax.vat is None
    assert tax.filing_deadline.months_after_year_end == 6
    assert (tax.penalties.late_filing, tax.penalties.interest) == ([], [])
    assert tax.objections.window_days[0].days == 30
    with_vat = load_with_tax(tmp_path, {**KENYA, "vat": VAT, "filing_deadline": "06-30"}).section("tax")
    assert with_vat.vat.rate[0].rate == Decimal("0.16")
    assert with_vat.filing_deadline.month_day == "06-30"
