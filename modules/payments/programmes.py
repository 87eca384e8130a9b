"""Eligibility rules and entitlements written as data, and the attributes they read.

A rule is `{"attribute": "age", "op": ">=", "value": 18}`; an entitlement is a flat
amount plus per-bracket and per-unit additions, all in integer minor units:
`{"flat": 10000, "brackets": [{"attribute": "age", "min": 65, "add": 5000}],
"per_unit": [{"attribute": "household_size", "amount": 1000, "max_units": 5}]}`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...core.i18n import _
from ...core.ports import Resident
from ...core.schemas import WHOLE_NUMBER, Integer, Line

MAX_AMOUNT = 9_007_199_254_740_991
ATTRIBUTE_PATTERN = r"^[a-z][a-z0-9_]{0,39}(\.[a-z][a-z0-9_]{0,39})?$"
INCOME = "assessed_income"
Scalar = Annotated[int, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT), WHOLE_NUMBER] | Annotated[Line, Field(max_length=100)]
Attribute = Annotated[str, Field(pattern=ATTRIBUTE_PATTERN)]  # the pattern refuses control characters


_LIST_OPS, _ORDER_OPS = ["in", "not_in"], ["<", "<=", ">", ">="]


class Rule(BaseModel):
    """One filter over a beneficiary's attributes; a beneficiary is eligible when every rule holds."""

    # What `_value_fits_op` checks, stated for clients: lists for in/not_in only, integers to order.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"op": {"enum": _LIST_OPS}}},
                    "then": {"properties": {"value": {"type": "array"}}},
                    "else": {"properties": {"value": {"not": {"type": "array"}}}},
                },
                {
                    "if": {"properties": {"op": {"enum": _ORDER_OPS}}},
                    "then": {"properties": {"value": {"type": "integer"}}},
                },
            ]
        },
    )

    attribute: Attribute = Field(
        description="age, sex, region, address.<level>, assessed_income (minor units) or an enrolled attribute",
    )
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]
    value: Scalar | Annotated[list[Scalar], Field(max_length=1000)]
    if_missing: Literal["eligible", "ineligible"] = Field(
        default="ineligible", description="Outcome for a beneficiary who lacks the attribute (e.g. no assessment)"
    )

    @model_validator(mode="after")
    def _value_fits_op(self) -> Rule:
        if self.op in _LIST_OPS and not isinstance(self.value, list):
            raise ValueError(_("op '{op}' needs a list value").format(op=self.op))
        if self.op not in _LIST_OPS and isinstance(self.value, list):
            raise ValueError(_("op '{op}' needs a single value, not a list").format(op=self.op))
        if self.op in _ORDER_OPS and not isinstance(self.value, int):
            raise ValueError(_("op '{op}' compares numbers: value must be an integer").format(op=self.op))
        return self

    def holds(self, attributes: Mapping[str, Any]) -> bool:
        found = attributes.get(self.attribute)
        if found is None:
            return self.if_missing == "eligible"
        value = self.value
        if self.op == "==":
            return found == value
        if self.op == "!=":
            return found != value
        if self.op == "in":
            return found in value  # type: ignore[operator]
        if self.op == "not_in":
            return found not in value  # type: ignore[operator]
        if not isinstance(found, int):
            return self.if_missing == "eligible"
        return {"<": found < value, "<=": found <= value, ">": found > value, ">=": found >= value}[self.op]  # type: ignore[operator]


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


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def resident_attributes(resident: Resident, *, as_of: date, address_levels: list[str]) -> dict[str, Any]:
    """What the rules may read about a registered resident."""
    found: dict[str, Any] = {"age": age_on(resident.date_of_birth, as_of), "sex": resident.sex}
    for level, value in resident.address.items():
        found[f"address.{level}"] = value
    if address_levels and address_levels[0] in resident.address:
        found["region"] = resident.address[address_levels[0]]
    return found


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
