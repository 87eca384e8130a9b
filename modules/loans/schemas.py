"""Request and response bodies of the loans API."""

from __future__ import annotations

from datetime import date, datetime
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
