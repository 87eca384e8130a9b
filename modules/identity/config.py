"""Identity settings (env prefix IDENTITY_) and the module's section of country.yml."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", env_file=("deployment.env", ".env"), extra="ignore")

    dedup_threshold: int = Field(default=90, ge=50, le=100)
    restricted_ids: list[str] = Field(default_factory=list)


class IdentityCountry(BaseModel):
    """`identity:` in country.yml."""

    id_name: str = "National ID number"
    id_length: int = Field(default=10, ge=8, le=20, description="digits including the Verhoeff check digit")


@lru_cache
def identity_settings() -> IdentitySettings:
    return IdentitySettings()
