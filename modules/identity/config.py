"""Identity settings (env prefix IDENTITY_) and the module's section of country.yml."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ...core.deps import settings_dependency


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", env_file=("deployment.env", ".env"), extra="ignore")

    dedup_threshold: int = Field(default=90, ge=50, le=100)
    restricted_ids: list[str] = Field(default_factory=list)
    biometric_adapter: str = Field(
        default="local", description="'local' (template-hash match) or 'package.module:Class' of an ABIS adapter"
    )
    auth_name_threshold: int = Field(
        default=100, ge=50, le=100, description="fuzzy score a demographic name must reach (100: exact once normalised)"
    )
    otp_length: int = Field(default=6, ge=4, le=10)
    otp_ttl_seconds: int = Field(default=180, ge=30, le=3600)
    otp_per_id_max: int = Field(default=3, ge=1, le=100, description="OTPs one ID may be sent in the window")
    otp_per_id_window_seconds: int = Field(default=600, ge=1, le=86400)
    otp_per_partner_max: int = Field(default=60, ge=1, description="OTPs one partner may request in the window")
    otp_per_partner_window_seconds: int = Field(default=60, ge=1, le=86400)
    auth_max_failures: int = Field(
        default=5, ge=1, le=100, description="failures per ID and partner in the window before lock-out"
    )
    auth_failure_window_seconds: int = Field(default=600, ge=1)
    auth_lockout_seconds: int = Field(default=900, ge=1)
    resident_session_seconds: int = Field(default=900, ge=60, le=86400)
    vid_temporary_seconds: int = Field(default=1800, ge=60, description="life of a temporary VID")
    vid_temporary_uses: int = Field(default=1, ge=1, description="authentications a temporary VID allows")


class IdentityCountry(BaseModel):
    """`identity:` in country.yml."""

    id_name: str = Field(
        default="National ID number",
        min_length=1,
        json_schema_extra={
            "pattern": r"\S",
            "x-hint": 'the name of the national ID number, e.g. "National Identification Number"',
        },
    )
    id_length: int = Field(
        default=10,
        ge=8,
        le=20,
        description="digits including the Verhoeff check digit",
        json_schema_extra={"x-hint": "the number of digits, check digit included"},
    )
    name_scripts: list[str] = Field(
        default_factory=list,
        description="ISO 15924 codes of scripts a name may also be written in (e.g. Arab, Jpan); empty: any",
    )


identity_settings = settings_dependency(IdentitySettings)
IdentitySettingsDep = Annotated[IdentitySettings, Depends(identity_settings)]
