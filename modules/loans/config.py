"""Loans settings (env prefix LOANS_) and the module's section of country.yml (`loans:`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ...core.deps import settings_dependency
from ...core.money import MoneyError, Rounding, RoundingMode, to_minor

DECIMAL_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"


class LoansSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOANS_", env_file=("deployment.env", ".env"), extra="ignore")

    four_eyes_above: str = Field(
        default="100000",
        pattern=DECIMAL_PATTERN,
        description="Principal (major units) above which a second officer must approve an application",
    )
    income_share: str = Field(
        default="0.25",
        pattern=r"^(0|1)(\.[0-9]{1,6})?$",
        description="With the tax module: the credit limit as a share of the applicant's last assessed income",
    )
    rail_outbox: Path = Field(
        default=Path("loans-outbox"),
        description="Without the payments module: the folder the module's own rail writes payment orders to",
    )
    accrual_chunk: int = Field(default=20_000, ge=100, le=1_000_000, description="Loans per daily-accrual chunk")


class LoansRounding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: RoundingMode = RoundingMode.HALF_UP
    quantum: str | None = Field(
        default=None, pattern=DECIMAL_PATTERN, description="Major units amounts round to (absent: one minor unit)"
    )

    def for_currency(self, currency: str) -> Rounding:
        """The rounding in minor units; a quantum finer than the currency's minor unit raises MoneyError."""
        if self.quantum is None:
            return Rounding(self.mode)
        if Decimal(self.quantum) <= 0:
            raise MoneyError(f"loans.rounding.quantum must be positive, got {self.quantum}")
        return Rounding(self.mode, to_minor(self.quantum, currency))


class LoansCountry(BaseModel):
    """`loans:` in country.yml: how the country's law rounds loan interest, fees and instalments."""

    model_config = ConfigDict(extra="forbid")

    rounding: LoansRounding = Field(default_factory=LoansRounding)

    @model_validator(mode="after")
    def _rounding_fits_the_currency(self, info: ValidationInfo) -> LoansCountry:
        currency = (info.context or {}).get("currency")
        if currency:
            try:
                self.rounding.for_currency(currency)
            except MoneyError as error:
                raise ValueError(f"rounding.quantum: {error}") from None
        return self


loans_settings = settings_dependency(LoansSettings)
LoansSettingsDep = Annotated[LoansSettings, Depends(loans_settings)]
