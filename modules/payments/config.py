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
    # G2P Connect mapper adapter (g2p.py; docs/standards.md)
    g2p_receiver_id: str = Field(
        default="nation-stack-mapper",
        min_length=1,
        max_length=99,
        description="Our id in G2P Connect headers: senders address us by it; our callbacks are sent under it",
    )
    g2p_id_provider: str = Field(
        default="nid",
        pattern=r"^[a-z0-9.-]{1,40}$",
        description="The provider part of the id addresses this mapper takes (`nid:<national ID>@<provider>`)",
    )
    g2p_message_window_seconds: int = Field(
        default=300, ge=10, le=86_400, description="How far a message's message_ts may be from our clock"
    )
    g2p_max_items: int = Field(default=1000, ge=1, le=10_000, description="Requests one G2P Connect message may hold")
    g2p_token_seconds: int = Field(default=3600, ge=60, le=86_400, description="Lifetime of an OAuth2 access token")
    g2p_callback_attempts: int = Field(default=6, ge=1, le=20, description="Deliveries of one callback before it fails")
    g2p_callback_backoff_seconds: int = Field(
        default=5, ge=1, le=3600, description="Wait before the second delivery of a callback; doubled each time after"
    )
    g2p_callback_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="One callback POST's timeout")


payments_settings = settings_dependency(PaymentsSettings)
PaymentsSettingsDep = Annotated[PaymentsSettings, Depends(payments_settings)]
