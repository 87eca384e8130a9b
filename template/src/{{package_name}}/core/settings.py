"""Runtime settings, read from the environment and `.env`.

`ENVIRONMENT` defaults to production: development (which accepts the placeholder secret,
with a warning) must be asked for. Outside development `SECRET_KEY` must pass the strength
rule of `secret_weakness`: sector tokens, API key hashes, the audit chain's HMAC and its
checkpoint signing key all derive from it, so a guessable secret would let anyone forge them.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .i18n import _

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse, not a secret
MIN_SECRET_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 12
MIN_SECRET_BITS = 128
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105 - a command, not a secret

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's error would otherwise print every input, the secret too.
    model_config = SettingsConfigDict(env_file=("deployment.env", ".env"), extra="ignore", hide_input_in_errors=True)

    environment: Environment = "production"
    database_url: str = "sqlite:///./nation-stack.db"
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    country_profile: Path = Path("country.yml")
    licence_dir: Path = Path("licence")
    backup_dir: Path = Path("backups")  # where `db downgrade` writes the backup it makes first
    database_echo: bool = False
    # Where `audit checkpoint` appends signed heads of the audit chain: a folder OUTSIDE the
    # database (another disk, a write-once bucket mount), so rewriting the database is not enough.
    audit_checkpoint_dir: Path = Path("audit-checkpoints")
    # Observability (docs/observability.md): the level of the JSON log lines, and the bearer token
    # /metrics asks for (unset: open, for a scraper on the same host or a private network).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_token: SecretStr | None = None
    # Staff sign-in (core/staff.py): failed sign-ins before a lock-out, and how long it lasts.
    staff_max_failed_sign_ins: int = Field(5, ge=1)
    staff_lockout_minutes: int = Field(15, ge=1)
    # A cookie session ends after this long unused, and in any case this long after sign-in;
    # a bearer token is short-lived whatever its use (scripts sign in again).
    staff_cookie_idle_minutes: int = Field(15, ge=1)
    staff_cookie_absolute_minutes: int = Field(8 * 60, ge=1)
    staff_bearer_minutes: int = Field(15, ge=1)
    # Sign-in forms (staff and resident) each accept this many attempts a minute from one client address.
    web_sign_in_attempts_per_minute: int = Field(20, ge=1)

    # Background jobs (core/jobs.py, core/worker.py). With WORKER_HANDOFF on (PostgreSQL only) the API
    # hands long work (a cycle's disbursement) to a `worker` process and answers 202 at once.
    worker_handoff: bool = False
    # The worker serves its Prometheus metrics here (0: not at all); the API serves its own at /metrics.
    worker_metrics_port: int = Field(9464, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # A job's cron line by name, replacing the one its part declares ("off": not periodic here), e.g.
    # JOB_SCHEDULES='{"core.audit_checkpoint": "0 * * * *"}'.
    job_schedules: dict[str, str] = {}
    job_poll_seconds: float = Field(5.0, gt=0)  # how often a worker looks for due jobs (PostgreSQL also notifies)
    job_heartbeat_seconds: float = Field(10.0, gt=0)
    # A job whose worker sent no heartbeat for this long is put back in the queue (the worker died mid-job).
    job_stalled_seconds: float = Field(60.0, gt=0)
    job_retention_hours: int = Field(7 * 24, ge=1)  # finished jobs are kept this long for their status
    # Sessions and codes are deleted this long after they expired (kept a little for investigations).
    purge_grace_hours: int = Field(24, ge=0)

    # Four-eyes: distinct approvers (never the maker) each action needs, e.g. APPROVALS_REQUIRED=
    # '{"payments.cycle.approve": 3}'; an action not named needs core.approvals.DEFAULT_REQUIRED (2).
    approvals_required: dict[str, Annotated[int, Field(ge=1, le=9)]] = {}

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Settings:
        weakness = secret_weakness(self.secret_key.get_secret_value())
        if weakness is not None and self.environment != "development":
            raise ValueError(secret_rule_message(weakness, self.environment))
        return self

    def secret_warning(self) -> str | None:
        """The start-up warning for a weak secret accepted only because this is development."""
        weakness = secret_weakness(self.secret_key.get_secret_value())
        if weakness is None:
            return None
        return _(
            "WARNING: SECRET_KEY is {weakness}; accepted only because ENVIRONMENT=development. "
            "Never use it with real data; generate one with `{command}`"
        ).format(weakness=weakness, command=GENERATE_SECRET)


def secret_weakness(secret: str) -> str | None:
    """Why `secret` is too weak to protect a deployment, or None when it passes the rule.

    The rule: not the placeholder, at least 32 characters, at least 12 distinct characters,
    not one shorter string repeated, and at least 128 bits of estimated entropy (length times the
    Shannon entropy of its character frequencies). `secrets.token_urlsafe(32)` passes with room.
    """
    if secret == PLACEHOLDER_SECRET:
        return _("the placeholder '{placeholder}'").format(placeholder=PLACEHOLDER_SECRET)
    if len(secret) < MIN_SECRET_LENGTH:
        return _("only {length} characters long").format(length=len(secret))
    counts = Counter(secret)
    if len(counts) < MIN_DISTINCT_CHARACTERS:
        return _("made of only {count} distinct characters").format(count=len(counts))
    if any(
        len(secret) % period == 0 and secret == secret[:period] * (len(secret) // period)
        for period in range(1, len(secret) // 2 + 1)
    ):
        return _("a shorter string repeated")
    bits = -sum(count * math.log2(count / len(secret)) for count in counts.values())
    if bits < MIN_SECRET_BITS:
        return _("too predictable (about {bits} bits of entropy)").format(bits=int(bits))
    return None


def secret_rule_message(weakness: str, environment: str) -> str:
    return _(
        "SECRET_KEY is {weakness}, which is refused when ENVIRONMENT={environment}: it must be at least "
        "{length} characters with at least {distinct} distinct characters, not a repeated pattern, and "
        "about {bits} bits of entropy or more. Generate one with `{command}` (or set ENVIRONMENT=development "
        "on a developer's machine)"
    ).format(
        weakness=weakness,
        environment=environment,
        length=MIN_SECRET_LENGTH,
        distinct=MIN_DISTINCT_CHARACTERS,
        bits=MIN_SECRET_BITS,
        command=GENERATE_SECRET,
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
