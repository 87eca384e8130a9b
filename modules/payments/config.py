"""Payments settings (env prefix PAYMENTS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ACCOUNT_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{2,31}$"


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", env_file=("deployment.env", ".env"), extra="ignore")

    funding_account: str = Field(
        default="TREASURY",
        pattern=ACCOUNT_CODE_PATTERN,
        description="Ledger code of the government account every transfer is paid from (3-32 of A-Z, 0-9, _)",
    )


@lru_cache
def payments_settings() -> PaymentsSettings:
    return PaymentsSettings()
