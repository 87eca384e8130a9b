"""Answers that must be refused at generation, with a message naming the question; nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .catalogue import catalogue
from .conftest import generate_stack

CUSTOM = {"country": "custom"}

MUST_FAIL: list[tuple[str, dict[str, Any], str]] = [
    ("no module", {"modules": []}, "modules: choose at least one module"),
    ("unknown module", {"modules": ["identity", "weather"]}, "modules"),
    ("package name with a dash", {"package_name": "my-stack"}, 'package_name: "my-stack" is not a Python identifier'),
    ("package name starting with a digit", {"package_name": "9lives"}, 'package_name: "9lives"'),
    ("package name that is a keyword", {"package_name": "class"}, 'package_name: "class" is reserved'),
    ("unshipped country profile", {"country": "ZZ"}, "country"),
    (
        "malformed country code",
        {**CUSTOM, "custom_country_code": "Kenya"},
        'custom_country_code: "Kenya" is not an ISO 3166-1',
    ),
    ("lowercase country code", {**CUSTOM, "custom_country_code": "gh"}, 'custom_country_code: "gh"'),
    ("unknown currency", {**CUSTOM, "custom_currency": "GHX"}, 'custom_currency: "GHX" is not an ISO 4217'),
    ("currency without minor unit", {**CUSTOM, "custom_currency": "XAU"}, 'custom_currency: "XAU"'),
    ("unknown language", {**CUSTOM, "custom_languages": ["english"]}, 'custom_languages: "english"'),
    ("no language", {**CUSTOM, "custom_languages": []}, "custom_languages: must be a non-empty list"),
    ("unknown time zone", {**CUSTOM, "custom_timezone": "Africa/Atlantis"}, 'custom_timezone: "Africa/Atlantis"'),
    ("unknown database", {"database": "oracle"}, "database"),
    ("empty licensee", {"licensee_name": "  "}, "licensee_name must not be empty"),
    ("malformed licence reference", {"licence_reference": "bad ref!"}, "licence_reference must be"),
    ("dedup threshold out of range", {"identity_dedup_threshold": 10}, "identity_dedup_threshold: 10 is out of range"),
    ("lowercase funding account", {"payments_funding_account": "treasury"}, 'payments_funding_account: "treasury"'),
    ("tax brackets not a list", {**CUSTOM, "custom_income_tax_brackets": {"from": "0"}}, "custom_income_tax_brackets"),
    ("no tax bracket", {**CUSTOM, "custom_income_tax_brackets": []}, "custom_income_tax_brackets"),
    (
        "tax thresholds going down",
        {**CUSTOM, "custom_income_tax_brackets": [{"from": "0", "rate": "0.1"}, {"from": "0", "rate": "0.2"}]},
        "custom_income_tax_brackets",
    ),
    (
        "tax rate above 100 %",
        {**CUSTOM, "custom_income_tax_brackets": [{"from": "0", "rate": "1.5"}]},
        "custom_income_tax_brackets",
    ),
]


@pytest.mark.parametrize(("answers", "message"), [case[1:] for case in MUST_FAIL], ids=[case[0] for case in MUST_FAIL])
def test_wrong_answer_is_refused_naming_the_field(answers: dict[str, Any], message: str, tmp_path: Path) -> None:
    destination = tmp_path / "stack"
    with pytest.raises(ValueError) as refusal:
        generate_stack(destination, **{"modules": catalogue(), **answers})
    assert message in str(refusal.value)
    assert not destination.exists() or not any(destination.iterdir()), "files were written despite the refusal"
