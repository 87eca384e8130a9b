"""Runtime settings, read from the environment and `.env`.

A placeholder secret is refused outside development: sector tokens and API key
hashes derive from it, so a shared default would let anyone forge them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse, not a secret

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=("deployment.env", ".env"), extra="ignore")

    environment: Environment = "development"
    database_url: str = "sqlite:///./nation-stack.db"
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    country_profile: Path = Path("country.yml")
    licence_dir: Path = Path("licence")
    backup_dir: Path = Path("backups")  # where `db downgrade` writes the backup it makes first
    database_echo: bool = False

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        secret = self.secret_key.get_secret_value()
        if self.environment != "development" and (secret == PLACEHOLDER_SECRET or len(secret) < 16):
            raise ValueError(
                f"SECRET_KEY must be set to a random value of at least 16 characters "
                f"when ENVIRONMENT={self.environment}; generate one with "
                f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
