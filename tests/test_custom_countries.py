"""A country that is not shipped: `country=custom` generates a stack whose own suite passes, for a
currency of every minor-unit digit count ISO 4217 has, and whose tax module refuses to assess until
the law is entered instead of assessing with a placeholder.
"""

from __future__ import annotations

from pathlib import Path

import iso4217
import pytest
import yaml

from .catalogue import catalogue
from .conftest import Generate
from .test_combinations import assert_ok, run, run_stack_suite
from .test_countries import custom_country_scope, shipped_digit_counts

# A real country per digit count (any pairing generates; real ones keep the locales real).
EXAMPLES = {
    0: {
        "custom_country_code": "KR",
        "custom_currency": "KRW",
        "custom_languages": ["ko"],
        "custom_timezone": "Asia/Seoul",
    },
    2: {
        "custom_country_code": "TZ",
        "custom_currency": "TZS",
        "custom_languages": ["sw", "en"],
        "custom_timezone": "Africa/Dar_es_Salaam",
    },
    3: {
        "custom_country_code": "BH",
        "custom_currency": "BHD",
        "custom_languages": ["ar"],
        "custom_timezone": "Asia/Bahrain",
    },
    4: {
        "custom_country_code": "UY",
        "custom_currency": "UYW",
        "custom_languages": ["es"],
        "custom_timezone": "America/Montevideo",
    },
}


MISSING_LAW = "tax: country.yml gives no income-tax law (tax.income_tax)"


def test_the_examples_cover_every_digit_count_iso_4217_has() -> None:
    digit_counts = {currency.exponent for currency in iso4217.Currency if currency.exponent is not None}
    assert set(EXAMPLES) == digit_counts
    for digits, answers in EXAMPLES.items():
        assert iso4217.Currency(answers["custom_currency"]).exponent == digits


@pytest.mark.parametrize(
    "digits",
    [
        pytest.param(
            digits,
            marks=pytest.mark.stack_suite("selection" if digits in shipped_digit_counts() else "per_country"),
            id=f"{digits}-digit currency",
        )
        for digits in sorted(EXAMPLES)
    ],
)
def test_a_custom_country_generates_a_stack_whose_suite_passes_and_which_names_its_missing_law(
    digits: int, generate: Generate, python: Path, tmp_path: Path
) -> None:
    # Currencies matter to payments and tax; identity, the same in every country, runs once (2 digits).
    modules = catalogue() if digits == 2 else ["payments", "tax"]
    package = f"custom_{digits}"
    stack = generate(country="custom", modules=modules, package_name=package, **EXAMPLES[digits])
    profile = yaml.safe_load((stack / "country.yml").read_text(encoding="utf-8"))
    assert profile["currency"] == EXAMPLES[digits]["custom_currency"]
    assert "income_tax" not in profile["tax"], "no law was answered, so none may be written"
    assert "generated without an income-tax law" in (stack / "README.md").read_text(encoding="utf-8")
    assert_ok(run([str(python), "-m", "ruff", "check", "."], stack), "ruff check")

    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'custom.db'}", "ENVIRONMENT": "development"}
    assert_ok(run([str(python), "-m", package, "db", "upgrade"], stack, **database), "db upgrade")
    checked = run([str(python), "-m", package, "check"], stack, NATION_STACK_LOCALE="en", **database)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert MISSING_LAW in " ".join((checked.stdout + checked.stderr).split())
    calc = run([str(python), "-m", package, "tax", "calc", "--year", "2025", "--income", "1000"], stack, **database)
    assert calc.returncode == 1 and "tax.income_tax" in calc.stdout + calc.stderr

    assert run_stack_suite(python, stack, *custom_country_scope(digits)) > 0
