"""A loan product's terms, written as data: what an officer creates and every loan keeps a copy of.

Rates are decimal-fraction strings ("0.18" for 18 % a year), amounts integer minor units, so no
value passes through a float. A loan copies its product's terms when it is disbursed: changing a
product later never changes a loan already made.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...core.eligibility import MAX_AMOUNT, Rule
from ...core.i18n import _
from ...core.schemas import Integer

Component = Literal["fees", "penalties", "interest", "principal"]
COMPONENTS: tuple[Component, ...] = ("fees", "penalties", "interest", "principal")
Frequency = Literal["weekly", "fortnightly", "monthly"]
PERIODS_PER_YEAR: dict[str, int] = {"weekly": 52, "fortnightly": 26, "monthly": 12}
# At most 1 (100 %), said by the pattern itself so the OpenAPI document states it.
RATE_PATTERN = r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$"

Rate = Annotated[str, Field(pattern=RATE_PATTERN, description='A decimal fraction written as a string: "0.18" is 18 %')]


class Penalty(BaseModel):
    """Charged once on each instalment still unpaid `after_days` days past its due date."""

    model_config = ConfigDict(extra="forbid")

    rate: Rate = Field(default="0", description="Share of the instalment's unpaid amount")
    flat: Integer = Field(default=0, ge=0, le=MAX_AMOUNT, description="Minor units added to the rate's amount")
    after_days: Integer = Field(default=0, ge=0, le=365, description="Days of grace past the due date")


class Terms(BaseModel):
    """Interest, term, repayment frequency, fees, grace, limits, penalty, eligibility and allocation order."""

    model_config = ConfigDict(extra="forbid")

    interest_method: Literal["flat", "declining"] = Field(
        description="flat: on the whole principal for the whole term; declining: on the balance outstanding"
    )
    annual_rate: Rate
    instalments: Integer = Field(ge=1, le=520, description="Number of repayments")
    frequency: Frequency
    grace_instalments: Integer = Field(
        default=0, ge=0, le=52, description="First instalments that repay no principal (interest and fees only)"
    )
    fee_rate: Rate = Field(default="0", description="Origination fee as a share of the principal")
    fee_flat: Integer = Field(
        default=0, ge=0, le=MAX_AMOUNT, description="Origination fee in minor units, added to the rate's fee"
    )
    min_principal: Integer = Field(ge=1, le=MAX_AMOUNT)
    max_principal: Integer = Field(ge=1, le=MAX_AMOUNT)
    penalty: Penalty = Field(default_factory=Penalty)
    eligibility: list[Rule] = Field(default_factory=list, max_length=50)
    # Each component once, in any order: a permutation, which JSON Schema states with these bounds.
    allocation: list[Component] = Field(
        default=list(COMPONENTS),
        min_length=len(COMPONENTS),
        max_length=len(COMPONENTS),
        json_schema_extra={"uniqueItems": True},
        description="The order a repayment settles what an instalment owes",
    )

    @field_validator("allocation")
    @classmethod
    def _each_component_once(cls, value: list[Component]) -> list[Component]:
        if len(set(value)) != len(value):
            raise ValueError(_("allocation lists each of fees, penalties, interest and principal once"))
        return value

    def inconsistencies(self) -> list[str]:
        """What the fields say against each other (JSON Schema cannot compare two fields), each with its field."""
        found = []
        if self.min_principal > self.max_principal:
            found.append("min_principal: " + _("it is more than max_principal"))
        if self.grace_instalments >= self.instalments:
            found.append("grace_instalments: " + _("it must leave at least one instalment that repays principal"))
        return found

    @property
    def annual(self) -> Fraction:
        return Fraction(Decimal(self.annual_rate))

    @property
    def periodic(self) -> Fraction:
        """The rate of one repayment period."""
        return self.annual / PERIODS_PER_YEAR[self.frequency]
