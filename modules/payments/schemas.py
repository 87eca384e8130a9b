"""Request and response bodies of the payments API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Largest integer a JSON client can carry exactly (2**53 - 1): amounts are minor units.
MAX_AMOUNT = 9_007_199_254_740_991
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands datetimes back naive (they are stored in UTC): answer in UTC either way.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class BeneficiaryRef(BaseModel):
    """Who is paid: by national ID (needs the identity module) or by an external ID."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$", description="Needs the identity module")
    external_id: str | None = Field(
        default=None, pattern=EXTERNAL_ID_PATTERN, description="An ID another system gives the beneficiary"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> BeneficiaryRef:
        if (self.national_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of national_id or external_id")
        return self


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["iban", "bank_account", "mobile_money"]
    number: str = Field(min_length=1, max_length=40, description="IBAN, account digits or mobile number")
    bank_code: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9]{2,11}$", description="Bank or operator code (required for bank_account)"
    )


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary: BeneficiaryRef
    account: AccountIn


class AccountOut(BaseModel):
    beneficiary: str = Field(description="token:<sector token> or ext:<external ID>")
    kind: str
    number: str
    bank_code: str | None
    linked_at: UtcDatetime
    updated_at: UtcDatetime


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_reference: str = Field(
        pattern=REFERENCE_PATTERN, description="Chosen by the client; repeating it returns the original outcome"
    )
    beneficiary: BeneficiaryRef
    amount: int = Field(strict=True, gt=0, le=MAX_AMOUNT, description="Integer minor units (cents), never a float")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code: the country's currency")


class TransferOut(BaseModel):
    client_reference: str
    state: str
    beneficiary: str
    amount: int
    currency: str
    reason: str | None
    received_at: UtcDatetime
    completed_at: UtcDatetime | None


class BalanceOut(BaseModel):
    beneficiary: str
    account: str
    currency: str
    balance: int = Field(description="Integer minor units, the sum of the account's entries")
