"""The shipped profiles' `tax:` sections, copied as data: a generated stack holds only its own country.yml."""

from __future__ import annotations

import copy
from typing import Any

from ..config import TaxCountry
from ..law import IncomeTaxLaw

KENYA: dict[str, Any] = {
    "fiscal_year_start": "01-01",
    "tin_length": 9,
    "income_tax": {
        "scale": [
            {
                "since": "2021-01-01",
                "brackets": [
                    {"from": "0", "rate": "0.10"},
                    {"from": "288000", "rate": "0.25"},
                    {"from": "388000", "rate": "0.30"},
                ],
            },
            {
                "since": "2023-07-01",
                "brackets": [
                    {"from": "0", "rate": "0.10"},
                    {"from": "288000", "rate": "0.25"},
                    {"from": "388000", "rate": "0.30"},
                    {"from": "6000000", "rate": "0.325"},
                    {"from": "9600000", "rate": "0.35"},
                ],
            },
        ],
        "relief": [{"since": "2021-01-01", "amount": "28800"}],
        "allowance": [{"since": "2021-01-01", "amount": "0"}],
        "rounding": {"base": {"mode": "half_up", "quantum": "0.01"}, "tax": {"mode": "half_up", "quantum": "0.01"}},
    },
}

JAPAN: dict[str, Any] = {
    "fiscal_year_start": "01-01",
    "tin_length": 9,
    "income_tax": {
        "scale": [
            {
                "since": "2015-01-01",
                "brackets": [
                    {"from": "0", "rate": "0.05"},
                    {"from": "1950000", "rate": "0.10"},
                    {"from": "3300000", "rate": "0.20"},
                    {"from": "6950000", "rate": "0.23"},
                    {"from": "9000000", "rate": "0.33"},
                    {"from": "18000000", "rate": "0.40"},
                    {"from": "40000000", "rate": "0.45"},
                ],
            }
        ],
        "allowance": [{"since": "2015-01-01", "amount": "380000"}, {"since": "2020-01-01", "amount": "480000"}],
        "relief": [{"since": "2015-01-01", "amount": "0"}],
        "rounding": {"base": {"mode": "down", "quantum": "1000"}, "tax": {"mode": "down", "quantum": "100"}},
    },
}

JORDAN: dict[str, Any] = {
    "fiscal_year_start": "01-01",
    "tin_length": 9,
    "income_tax": {
        "scale": [
            {
                "since": "2020-01-01",
                "brackets": [
                    {"from": "0", "rate": "0.05"},
                    {"from": "5000", "rate": "0.10"},
                    {"from": "10000", "rate": "0.15"},
                    {"from": "15000", "rate": "0.20"},
                    {"from": "20000", "rate": "0.25"},
                    {"from": "1000000", "rate": "0.30"},
                ],
            }
        ],
        "allowance": [{"since": "2020-01-01", "amount": "9000"}],
        "relief": [{"since": "2020-01-01", "amount": "0"}],
        "rounding": {"base": {"mode": "half_up", "quantum": "0.001"}, "tax": {"mode": "half_up", "quantum": "0.001"}},
    },
}

SHIPPED = {"KES": KENYA, "JPY": JAPAN, "JOD": JORDAN}


def section(data: dict[str, Any]) -> TaxCountry:
    return TaxCountry.model_validate(data)


def law(currency: str, data: dict[str, Any] | None = None) -> IncomeTaxLaw:
    return IncomeTaxLaw.from_country(section(data if data is not None else SHIPPED[currency]), currency)


def changed(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the value at `path` replaced."""
    result = copy.deepcopy(data)
    target: Any = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return result
