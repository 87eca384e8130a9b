"""Eligibility rules and entitlements written as data, and the attributes they read.

A rule is `{"attribute": "age", "op": ">=", "value": 18}`; an entitlement is a flat
amount plus per-bracket and per-unit additions, all in integer minor units:
`{"flat": 10000, "brackets": [{"attribute": "age", "min": 65, "add": 5000}],
"per_unit": [{"attribute": "household_size", "amount": 1000, "max_units": 5}]}`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ...core.eligibility import MAX_AMOUNT, Attribute, Rule
from ...core.schemas import Integer


class Bracket(BaseModel):
    """Adds `add` when min <= attribute < max (either bound may be left out)."""

    model_config = ConfigDict(extra="forbid")

    attribute: Attribute
    min: Integer | None = None
    max: Integer | None = None
    add: Integer = Field(ge=0, le=MAX_AMOUNT)


class PerUnit(BaseModel):
    """Adds `amount` per unit of a counted attribute (e.g. per household member), up to `max_units`."""

    model_config = ConfigDict(extra="forbid")

    attribute: Attribute
    amount: Integer = Field(ge=0, le=MAX_AMOUNT)
    max_units: Integer = Field(default=100, ge=0, le=10_000)


class Entitlement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flat: Integer = Field(ge=0, le=MAX_AMOUNT, description="Minor units every eligible beneficiary gets")
    brackets: list[Bracket] = Field(default_factory=list, max_length=50)
    per_unit: list[PerUnit] = Field(default_factory=list, max_length=20)

    def amount_for(self, attributes: Mapping[str, Any]) -> int:
        total = self.flat
        for bracket in self.brackets:
            value = attributes.get(bracket.attribute)
            if not isinstance(value, int):
                continue
            if (bracket.min is None or value >= bracket.min) and (bracket.max is None or value < bracket.max):
                total += bracket.add
        for unit in self.per_unit:
            count = attributes.get(unit.attribute)
            if isinstance(count, int) and count > 0:
                total += unit.amount * min(count, unit.max_units)
        return min(total, MAX_AMOUNT)


def attributes_used(rules: list[Rule], entitlement: Entitlement) -> set[str]:
    used = {rule.attribute for rule in rules}
    used |= {bracket.attribute for bracket in entitlement.brackets}
    used |= {unit.attribute for unit in entitlement.per_unit}
    return used


def eligible_amount(rules: list[Rule], entitlement: Entitlement, attributes: Mapping[str, Any]) -> int:
    """The entitlement in minor units, or 0 when a rule excludes the beneficiary."""
    if all(rule.holds(attributes) for rule in rules):
        return entitlement.amount_for(attributes)
    return 0


_NUMERIC = ("<", "<=", ">", ">=")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda found, value: found in value,
    "not_in": lambda found, value: found not in value,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def amount_function(rules: list[Rule], entitlement: Entitlement) -> Callable[[Mapping[str, Any]], int]:
    """`eligible_amount` for fixed rules and entitlement, prepared once for a cycle of millions.

    Same results as `eligible_amount` (a test compares the two); only the per-beneficiary work is smaller.
    """
    checks = [
        (rule.attribute, _COMPARE[rule.op], rule.value, rule.if_missing == "eligible", rule.op in _NUMERIC)
        for rule in rules
    ]
    flat = entitlement.flat
    brackets = [(b.attribute, b.min, b.max, b.add) for b in entitlement.brackets]
    units = [(u.attribute, u.amount, u.max_units) for u in entitlement.per_unit]

    def amount(attributes: Mapping[str, Any]) -> int:
        get = attributes.get
        for attribute, compare, value, missing_ok, numeric in checks:
            found = get(attribute)
            if found is None or (numeric and not isinstance(found, int)):
                if not missing_ok:
                    return 0
            elif not compare(found, value):
                return 0
        total = flat
        for attribute, low, high, add in brackets:
            value = get(attribute)
            if isinstance(value, int) and (low is None or value >= low) and (high is None or value < high):
                total += add
        for attribute, each, max_units in units:
            count = get(attribute)
            if isinstance(count, int) and count > 0:
                total += each * min(count, max_units)
        return min(total, MAX_AMOUNT)

    return amount
