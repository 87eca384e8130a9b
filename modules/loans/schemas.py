"""Request and response bodies of the loans API."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ...core.country import LoadedCountry
from ...core.eligibility import MAX_AMOUNT
from ...core.ports import Disbursements, SectorTokens
from ...core.registry import installed_modules
from ...core.schemas import Integer, Line, deployment_value
from .rails import ACCOUNT_PATTERN
from .terms import Terms

NATIONAL_ID_PATTERN = r"^[0-9]{6,20}$"
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
PRODUCT_CODE_PATTERN = r"^[A-Z][A-Z0-9_-]{1,39}$"
APPLICATION_PATTERN = r"^LA-[0-9A-F]{12}$"
LOAN_PATTERN = r"^LN-[0-9A-F]{12}$"
# XML's other registered media type: payments takes bank messages as application/xml, and the OpenAPI fuzz
# gives each media type one strategy, so the loans camt.054 is stated under this one (any XML type is read).
BANK_CREDITS_MEDIA_TYPE = "text/xml"

NationalId = Annotated[
    str,
    Field(
        pattern=NATIONAL_ID_PATTERN,
        json_schema_extra={"format": "national-id"},
        description="The applicant's national ID (needs the identity module)",
    ),
]
ExternalId = Annotated[str, Field(pattern=EXTERNAL_ID_PATTERN, description="An ID another system gives the applicant")]
AMOUNT = "Minor units of the deployment's currency"
ProductCode = Annotated[str, Field(pattern=PRODUCT_CODE_PATTERN)]
PaymentReference = Annotated[str, Field(pattern=REFERENCE_PATTERN, description="Your reference: a retry reuses it")]


class ProductRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProductCode
    name: Annotated[Line, Field(min_length=1, max_length=200)]
    terms: Terms


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    currency: str
    terms: dict[str, Any]
    active: bool


class ApplicationRequest(BaseModel):
    """An application by national ID (with the eKYC consent's reference) or by external ID."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["national_id", "consent"],
                    "not": {"required": ["external_id"]},
                    **deployment_value("loans-by-national-id"),
                },
                {"required": ["external_id"], "not": {"required": ["national_id"]}},
            ],
            "allOf": [deployment_value("loans-account")],
        },
    )

    product: ProductCode
    principal: Integer = Field(ge=1, le=MAX_AMOUNT, description=AMOUNT)
    national_id: NationalId = Field(default=None)  # type: ignore[assignment]
    external_id: ExternalId = Field(default=None)  # type: ignore[assignment]
    consent: Annotated[str, Field(pattern=REFERENCE_PATTERN, description="Reference of the eKYC consent")] = Field(
        default=None  # type: ignore[assignment]
    )
    account: Annotated[
        str,
        Field(pattern=ACCOUNT_PATTERN, description="Without the payments module: the account the loan is paid into"),
    ] = Field(default=None)  # type: ignore[assignment]


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reference: str
    product_code: str
    principal: int
    currency: str
    credit_limit: int | None
    state: str
    reasons: list[str]
    region: str | None
    submitted_at: datetime
    decided_at: datetime | None
    loan: str | None = None


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[Line, Field(min_length=1, max_length=300)]


class InstalmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    due_on: date
    principal: int
    interest: int
    fees: int
    penalties: int
    paid_principal: int
    paid_interest: int
    paid_fees: int
    paid_penalties: int
    settled_on: date | None


class LoanOut(BaseModel):
    reference: str
    product_code: str
    currency: str
    principal: int
    disbursed_on: date
    state: str
    days_past_due: int
    arrears_bucket: str
    accrued_interest: int
    owed: dict[str, int]
    schedule: list[InstalmentOut]


class RepaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Integer = Field(ge=1, le=MAX_AMOUNT, description=AMOUNT)
    payment_reference: PaymentReference


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    reference: str
    amount: int
    booked_on: date
    channel: str
    transfer_state: str | None


def openapi_values(country: LoadedCountry) -> dict[str, dict[str, Any]]:
    """What this deployment adds to the loans schemas: national IDs with identity; an account without payments."""
    provided = {port for module in installed_modules() for port in module.provides}
    values: dict[str, dict[str, Any]] = {}
    if SectorTokens not in provided:
        values["loans-by-national-id"] = {"not": {}}
    values["loans-account"] = (
        {"not": {"required": ["account"]}} if Disbursements in provided else {"required": ["account"]}
    )
    return values


# ---------------------------------------------------------------- servicing


class PayoffOut(BaseModel):
    """What settles the loan today: principal outstanding, interest accrued to date, fees and penalties owed."""

    reference: str
    currency: str
    on: date
    principal: int
    interest: int
    fees: int
    penalties: int
    rebate: int = Field(description="Interest booked but not earned, no longer owed when the loan is paid off")
    total: int


class RestructureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instalments: Integer = Field(ge=1, le=520, description="Instalments the outstanding principal is rescheduled over")


class WriteOffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[Line, Field(min_length=1, max_length=300)]


class StatementEventOut(BaseModel):
    kind: str
    reference: str
    booked_on: date
    amount: int
    channel: str
    transfer_state: str | None
    lines: dict[str, int] = Field(description="The event's lines by account: they sum to zero")
    balances: dict[str, int] = Field(description="What the borrower owes per component after this event")


class StatementOut(BaseModel):
    reference: str
    currency: str
    state: str
    principal: int
    disbursed_on: date
    events: list[StatementEventOut]
    owed: dict[str, int]


class PortfolioOut(BaseModel):
    on: date
    currency: str
    active_loans: int
    outstanding_principal: int
    at_risk_30: int = Field(description="Outstanding principal of active loans more than 30 days past due")
    at_risk_90: int = Field(description="Outstanding principal of active loans more than 90 days past due")
    par30: str | None = Field(description="at_risk_30 / outstanding_principal, as a decimal fraction")
    par90: str | None = Field(description="at_risk_90 / outstanding_principal, as a decimal fraction")
    paid_to_date: int
    due_to_date: int
    repayment_rate: str | None = Field(description="paid_to_date / due_to_date, as a decimal fraction")


class BankCreditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_reference: str
    loan_reference: str | None
    amount: int
    currency: str
    booked_on: date
    state: str
    reason: str | None


class BankCreditsOut(BaseModel):
    read: int
    matched: int
    unmatched: int
    already: int = Field(description="Credits known from an earlier file: nothing changed for them")
    credits: list[BankCreditOut]


def fraction_text(value: Fraction | None, places: int = 4) -> str | None:
    """A ratio as a decimal fraction string rounded half up to `places` (0.1234), or None."""
    if value is None:
        return None
    scaled = value * 10**places
    units = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    whole, part = divmod(units, 10**places)
    return f"{whole}.{part:0{places}d}"
