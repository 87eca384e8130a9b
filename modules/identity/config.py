"""Identity settings (env prefix IDENTITY_) and the module's section of country.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ...core.deps import settings_dependency
from .models import MESSAGE_EXPIRY_SECONDS


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IDENTITY_", env_file=("deployment.env", ".env"), extra="ignore", hide_input_in_errors=True
    )

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

    # Messages to residents (notifier.py, delivery.py): each channel's transport. 'outbox' leaves a
    # channel's messages in the outbox table for a demo or an outside drain to read.
    notify_email: Literal["outbox", "smtp"] = "outbox"
    notify_sms: Literal["outbox", "sms-http"] = "outbox"
    smtp_host: str | None = Field(default=None, description="the mail relay's host (needed with notify_email=smtp)")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="no-reply@localhost", description="the From address of e-mail to residents")
    smtp_starttls: bool = Field(default=True, description="upgrade the connection with STARTTLS before sending")
    smtp_ca_file: Path | None = Field(default=None, description="CA certificates to trust for STARTTLS (private CA)")
    smtp_timeout_seconds: float = Field(default=10, gt=0, le=120)
    sms_gateway_url: str | None = Field(default=None, description="HTTP(S) URL the SMS gateway takes a JSON POST at")
    sms_gateway_token: SecretStr | None = Field(default=None, description="bearer token for the SMS gateway")
    sms_gateway_timeout_seconds: float = Field(default=10, gt=0, le=120)
    notify_max_attempts: int = Field(default=5, ge=1, le=100, description="attempts before a message is failed")
    notify_backoff_seconds: int = Field(
        default=30, ge=1, le=86400, description="wait after the first failed attempt; doubled after each further one"
    )
    notify_expiry_seconds: int = Field(
        default=MESSAGE_EXPIRY_SECONDS, ge=60, description="how long a message without its own expiry may wait"
    )

    # MOSIP ID Authentication adapter (mosip.py). Without files, a key pair is generated once and
    # kept in the database, sealed under SECRET_KEY (`identity mosip certificate` prints it).
    mosip_ida_key_file: Path | None = Field(
        default=None, description="PEM private key (RSA) the MOSIP adapter decrypts requests and signs answers with"
    )
    mosip_ida_certificate_file: Path | None = Field(
        default=None, description="PEM certificate of that key, which relying parties encrypt their requests to"
    )
    mosip_request_window_seconds: int = Field(
        default=300, ge=10, le=86400, description="how far a MOSIP request's requestTime may be from the server's clock"
    )

    @model_validator(mode="after")
    def _refuse_incomplete_transports(self) -> IdentitySettings:
        if self.notify_email == "smtp" and not self.smtp_host:
            raise ValueError("IDENTITY_NOTIFY_EMAIL=smtp needs IDENTITY_SMTP_HOST")
        if self.notify_sms == "sms-http" and not self.sms_gateway_url:
            raise ValueError("IDENTITY_NOTIFY_SMS=sms-http needs IDENTITY_SMS_GATEWAY_URL")
        if self.sms_gateway_url and not self.sms_gateway_url.startswith(("https://", "http://")):
            raise ValueError("IDENTITY_SMS_GATEWAY_URL must be an http:// or https:// URL")
        # A password sent before STARTTLS crosses the network in clear.
        if self.smtp_user and not self.smtp_starttls:
            raise ValueError("IDENTITY_SMTP_USER needs IDENTITY_SMTP_STARTTLS=true: the password would travel in clear")
        if (self.mosip_ida_key_file is None) != (self.mosip_ida_certificate_file is None):
            raise ValueError("IDENTITY_MOSIP_IDA_KEY_FILE and IDENTITY_MOSIP_IDA_CERTIFICATE_FILE go together")
        return self


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
