"""Request and response bodies of the tax API. Money is an integer of minor units plus its currency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator

MAX_MINOR_UNITS = 10**18  # fits a signed 64-bit column with room to add


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back naive (they are stored in UTC): answer the same either way.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class TaxpayerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["individual", "business"]
    name: str = Field(min_length=1, max_length=200)
    national_id: str | None = Field(
        default=None, max_length=20, description="Individuals only; kept as the tax sector token, never stored"
    )
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]*$",
        description="Business registration number, or an individual's number in an existing national register",
    )

    @model_validator(mode="after")
    def _one_identifier(self) -> TaxpayerRequest:
        if self.kind == "business":
            if self.national_id is not None:
                raise ValueError("national_id: a business registers with external_id (its registration number)")
            if self.external_id is None:
                raise ValueError("external_id: a business needs its registration number")
        elif (self.national_id is None) == (self.external_id is None):
            raise ValueError("an individual registers with exactly one of national_id or external_id")
        return self


class TaxpayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tin: str
    kind: str
    name: str
    reference: str
    registered_at: UtcDatetime


class ReturnRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tin: str = Field(min_length=1, max_length=20)
    year: StrictInt = Field(ge=1900, le=2200, description="Fiscal year (it starts on the country's fiscal_year_start)")
    income: StrictInt = Field(ge=0, le=MAX_MINOR_UNITS, description="Taxable income in minor units (cents, fils, yen)")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code; must be the country's currency")


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
