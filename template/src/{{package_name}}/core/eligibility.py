"""Eligibility rules written as data, and the attributes they read about a resident.

A rule is `{"attribute": "age", "op": ">=", "value": 18}`; a person is eligible when every rule
holds. Payment programmes and loan products share this vocabulary, so a rule an officer learnt
for one reads the same in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .i18n import _
from .ports import Resident
from .schemas import WHOLE_NUMBER, Line

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
