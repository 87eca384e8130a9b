"""Payments settings (env prefix PAYMENTS_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ...core.deps import settings_dependency

ACCOUNT_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{2,31}$"


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", env_file=("deployment.env", ".env"), extra="ignore")

    funding_account: str = Field(
        default="TREASURY",
        pattern=ACCOUNT_CODE_PATTERN,
        description="Ledger code of the government account every transfer is paid from (3-32 of A-Z, 0-9, _)",
    )
    revenue_account: str = Field(
        default="REVENUE",
        pattern=ACCOUNT_CODE_PATTERN,
        description="Ledger code of the government account collections (tax) are paid into",
    )
    chunk_size: int = Field(default=1000, ge=1, le=100_000, description="Instructions per disbursement chunk")
    rail: Literal["simulated", "file"] = Field(
        default="simulated",
        description="simulated: the built-in bank answers at once; file: pain.001 files go to `outbox`",
    )
    outbox: Path = Field(default=Path("payments-outbox"), description="Folder the file rail writes pain.001 to")
    inbox: Path | None = Field(
        default=None,
        description="Folder the worker polls for the bank's pain.002/camt.054 files (moved to done/ or failed/)",
    )
    simulated_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Share the simulated bank rejects")
    simulated_seed: int = Field(default=2020, description="Seed of the simulated bank's rejections")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Sends of one payment before it is returned")
    max_wrong_control_totals: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Wrong control totals one approver may enter for a cycle; then they may no longer approve it",
    )
    debtor_name: str = Field(default="Government of the Republic", min_length=1, max_length=140)


payments_settings = settings_dependency(PaymentsSettings)
PaymentsSettingsDep = Annotated[PaymentsSettings, Depends(payments_settings)]
