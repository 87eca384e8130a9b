"""Request and response bodies of the tax API. Money is an integer of minor units plus its currency."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...core.schemas import WHOLE_NUMBER, Currency, Integer, Line, Text, UtcDatetime, deployment_value
from . import vat
from .parties import NewTaxpayer, identifier_problem
from .returns import IncomeReturn, VatDeclaration, VatReturn

MAX_MINOR_UNITS = 10**18  # fits a signed 64-bit column with room to add
MinorUnits = Annotated[int, Field(ge=0, le=MAX_MINOR_UNITS), WHOLE_NUMBER]

TIN_DESCRIPTION = (
    "Taxpayer identification number: digits only, as many as the deployment's tax.tin_length (6 to 20), "
    "the last a Luhn check digit over the others"
)
Tin = Annotated[
    Line,
    Field(
        description=TIN_DESCRIPTION,
        json_schema_extra={"format": "tin", "pattern": r"^[0-9]{6,20}$", **deployment_value("tax-tin")},
    ),
]
"""A TIN as the API takes it: `tins.validate` checks digits, length and check digit, saying which is wrong; the
OpenAPI states all three (format `tin`, and the deployment's length)."""

ADDRESS_LEVELS = 20
AddressPart = Annotated[Line, Field(min_length=1, max_length=200)]

# National IDs and external IDs are not `Line`s: their own patterns are stricter (and a pattern given
# around an Annotated `Line` would not reach the OpenAPI, where Line's own pattern would stand instead).
NationalId = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6,20}$",
        description="National ID number (identity module): digits ending in a Verhoeff check digit",
        json_schema_extra={"format": "national-id"},
    ),
]
VatPeriod = Annotated[
    Line,
    Field(
        max_length=10,
        description='"2024-03", "2024-Q1" or "2024", as the VAT law\'s period says (month, quarter or year)',
        # The law's own pattern is checked by the service, which says which form the law wants.
        json_schema_extra={"pattern": r"^[0-9]{4}(-(0[1-9]|1[0-2]|Q[1-4]))?$", **deployment_value("tax-vat-period")},
    ),
]
ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]*$",
        description="Business registration number, or an individual's number in an existing national register",
    ),
]


def _absent(name: str) -> dict[str, Any]:
    return {"properties": {name: {"type": "null"}}}


def _present(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """`name` required and not null, with every constraint of its property."""
    prop = schema["properties"][name]
    given = next(option for option in prop.get("anyOf", [prop]) if option.get("type") != "null")
    return {"required": [name], "properties": {name: given}}


def _when(field: str, value: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"const": value}}}


def _one_identifier_schema(schema: dict[str, Any]) -> None:
    """State `_one_identifier` in the JSON Schema: which identifier each kind of taxpayer registers with."""
    schema["anyOf"] = [
        {"allOf": [_when("kind", "business"), _present(schema, "external_id"), _absent("national_id")]},
        {"allOf": [_when("kind", "individual"), _present(schema, "external_id"), _absent("national_id")]},
        {
            "allOf": [_when("kind", "individual"), _present(schema, "national_id"), _absent("external_id")],
            **deployment_value("tax-register-by-national-id"),
        },
    ]


def _income_by_outcome_schema(schema: dict[str, Any]) -> None:
    """State what `objections.decide` checks of the income: none when disallowed, one when partially allowed."""
    schema["anyOf"] = [
        {"allOf": [_when("outcome", "disallowed"), _absent("income")]},
        {"allOf": [_when("outcome", "partially_allowed"), _present(schema, "income")]},
        _when("outcome", "allowed"),
    ]


class TaxpayerRequest(BaseModel):
    """A business registers with external_id; an individual with exactly one of national_id or external_id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_one_identifier_schema)

    kind: Literal["individual", "business"]
    name: Line = Field(min_length=1, max_length=200)
    national_id: NationalId | None = Field(
        default=None,
        description="Individuals only, where the identity module is installed; kept as the tax sector token, "
        "never stored",
    )
    external_id: ExternalId | None = None
    address: dict[str, AddressPart] = Field(
        default_factory=dict,
        max_length=ADDRESS_LEVELS,
        description="Address parts keyed by the country's address levels (GET /meta); its first level is the "
        "taxpayer's region, the only part kept",
        json_schema_extra=deployment_value("tax-address-levels"),
    )

    @model_validator(mode="after")
    def _one_identifier(self) -> TaxpayerRequest:
        problem = identifier_problem(self.kind, national_id=self.national_id, external_id=self.external_id)
        if problem is not None:
            raise ValueError(problem)
        return self

    def as_new_taxpayer(self) -> NewTaxpayer:
        return NewTaxpayer(
            kind=self.kind,
            name=self.name,
            national_id=self.national_id,
            external_id=self.external_id,
            address=self.address,
        )


class TaxpayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tin: str
    kind: str
    name: str
    reference: str
    registered_at: UtcDatetime


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tin: Tin
    year: Integer = Field(ge=1900, le=2200, description="Fiscal year (it starts on the country's fiscal_year_start)")
    income: Integer = Field(ge=0, le=MAX_MINOR_UNITS, description="Taxable income in minor units (cents, fils, yen)")
    currency: Currency

    def as_income_return(self) -> IncomeReturn:
        return IncomeReturn(tin=self.tin, year=self.year, income=self.income, currency=self.currency)


class AssessmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    return_id: int
    tin: str
    year: int
    taxable: int
    tax_due: int = Field(description="minor units")
    currency: str
    trace: list[dict[str, Any]]
    assessed_at: UtcDatetime
    kind: str
    period: str | None
    penalty: int = Field(description="minor units, late filing")
    due_on: date | None
    state: str = Field(description="current or superseded")
    superseded_by: int | None


class TaxpayerOutFull(TaxpayerOut):
    status: str
    status_changed_at: UtcDatetime | None = None
    region: str | None = Field(default=None, description="The address's first level; None: reached nationally only")


class StatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "deregistered", "deceased"]


class VatLine(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Line = Field(
        default="standard",
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9_]+$",
        description="A category of the VAT law: exempt ones carry no VAT, reduced ones their own rate",
        json_schema_extra=deployment_value("tax-vat-category"),
    )
    amount: Integer = Field(ge=0, le=MAX_MINOR_UNITS, description="minor units, VAT excluded")

    def as_line(self) -> vat.Line:
        return vat.Line(category=self.category, amount=self.amount)


class VatLines(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    currency: Currency
    sales: list[VatLine] = Field(default_factory=list, max_length=1000)
    purchases: list[VatLine] = Field(default_factory=list, max_length=1000)

    def as_declaration(self) -> VatDeclaration:
        return VatDeclaration(
            currency=self.currency,
            sales=tuple(line.as_line() for line in self.sales),
            purchases=tuple(line.as_line() for line in self.purchases),
        )


class VatReturnRequest(VatLines):
    tin: Tin
    period: VatPeriod

    def as_vat_return(self) -> VatReturn:
        return VatReturn(tin=self.tin, period=self.period, declaration=self.as_declaration())


class IncomeAmendment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    income: Integer = Field(ge=0, le=MAX_MINOR_UNITS, description="Corrected income in minor units")


REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tin: Tin
    amount: Integer = Field(gt=0, le=MAX_MINOR_UNITS, description="minor units")
    currency: Currency
    reference: Line = Field(pattern=REFERENCE_PATTERN, description="The payer's reference; repeating it is harmless")
    national_id: NationalId | None = Field(default=None, description="For a taxpayer registered by national ID")


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tin: Tin
    amount: Annotated[int, Field(gt=0, le=MAX_MINOR_UNITS), WHOLE_NUMBER] | None = Field(
        default=None, description="minor units; all of it"
    )
    reference: Line = Field(pattern=REFERENCE_PATTERN, description="Unique per refund; repeating it is harmless")
    national_id: NationalId | None = Field(default=None, description="For a taxpayer registered by national ID")


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    amount: int = Field(description="minor units; positive adds to what is owed")
    currency: str
    reference: str
    assessment_id: int | None
    channel: str | None
    state: str
    booked_on: date


class StatementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tin: str
    currency: str
    as_of: date
    totals: dict[str, int]
    interest: int = Field(description="accrued to as_of on tax unpaid after its due date")
    interest_detail: list[dict[str, Any]]
    balance: int = Field(description="positive: owed; negative: a credit")
    entries: list[EntryOut]


class ObjectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    assessment_id: Integer = Field(ge=1, le=2**31 - 1)
    grounds: Text = Field(min_length=1, max_length=2000)
    claimed_income: MinorUnits | None = Field(default=None, description="minor units")


class DecisionRequest(BaseModel):
    """Allowed: the claimed income (give it or not); partially allowed: the income decided; disallowed: none."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_income_by_outcome_schema)

    outcome: Literal["allowed", "partially_allowed", "disallowed"]
    income: MinorUnits | None = Field(default=None, description="minor units")
    note: Text = Field(min_length=1, max_length=2000)


class PendingDecisionOut(BaseModel):
    outcome: Literal["allowed", "partially_allowed", "disallowed"]
    income: int | None = Field(description="minor units")
    approvals: int = Field(description="Live approvals of this decision on the objection as it is now")


class ObjectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    assessment_id: int
    tin: str
    state: str
    grounds: str
    claimed_income: int | None
    decided_income: int | None
    decision_note: str | None
    lodged_at: UtcDatetime
    decided_at: UtcDatetime | None
    new_assessment_id: int | None


class ObjectionDetailOut(ObjectionOut):
    pending: list[PendingDecisionOut] = Field(
        description="Decisions awaiting more approvals (four-eyes); none once decided"
    )


class ObjectionDecisionOut(ObjectionDetailOut):
    outcome: Literal["allowed", "partially_allowed", "disallowed"]
    income: int | None = Field(description="minor units: the income of this decision")
    approvals: int = Field(description="Live approvals of this decision, this one included")
    approvals_required: int = Field(description="Distinct approvers the decision needs to take effect")
