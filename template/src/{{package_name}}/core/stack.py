"""What this deployment is: written at generation time into `stack.yml`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import yaml
from pydantic import BaseModel

from .licence import Compliance, Coverage, Grant, GrantError, assess, read_deployment_grant, read_revocations

if TYPE_CHECKING:
    from .runtime import Runtime

licence_log = structlog.get_logger("nation_stack.licence")
STACK_FILE = Path(__file__).resolve().parent.parent / "stack.yml"


class StackInfo(BaseModel):
    deployment_name: str
    package_name: str
    template_version: str
    template_commit: str
    licensee: str
    licence_reference: str
    database: str


@cache
def stack_info() -> StackInfo:
    return StackInfo.model_validate(yaml.safe_load(STACK_FILE.read_text(encoding="utf-8")))


def licence_coverage(*, licence_dir: Path, country: str, modules: list[str], today: date | None = None) -> Coverage:
    """This deployment's licence coverage, checked against the licensor key it ships with."""
    public_key = (licence_dir / "licensor-public.pem").read_bytes()
    try:
        grant = read_deployment_grant(licence_dir / "grant.yml")
        revocations = read_revocations(licence_dir / "revocations.yml", public_key)
    except GrantError as error:
        return Coverage(Compliance.SIGNATURE_INVALID, str(error))
    return assess(
        grant,
        public_key_pem=public_key,
        revocations=revocations,
        country=country,
        modules=modules,
        template_version=stack_info().template_version,
        today=today or date.today(),
    )


def licence_grant(licence_dir: Path) -> Grant | None:
    try:
        return read_deployment_grant(licence_dir / "grant.yml")
    except GrantError:
        return None


@dataclass(frozen=True)
class LicenceStatus:
    """What /meta, the start-up log and the metrics say of the licence: never a reason to stop serving."""

    valid: bool  # a grant that verifies and covers this deployment
    status: str  # a `Compliance` value
    licensee: str
    expires: str | None  # the grant's last day (ISO date), when there is a grant
    days_to_expiry: int | None
    reason: str  # what the check found, valid or not
    problem: str | None  # why it is not valid (evaluation included)


def licence_status(*, licence_dir: Path, country: str, modules: list[str], today: date | None = None) -> LicenceStatus:
    """The deployment's licence, checked now; an unreadable key or grant is a problem reported, not raised."""
    try:
        coverage = licence_coverage(licence_dir=licence_dir, country=country, modules=modules, today=today)
    except (OSError, ValueError) as error:  # no licensor key, or not a key: nothing can be verified
        coverage = Coverage(Compliance.SIGNATURE_INVALID, f"cannot verify the grant: {type(error).__name__}: {error}")
    grant = licence_grant(licence_dir)
    return LicenceStatus(
        valid=coverage.covered,
        status=str(coverage.status),
        licensee=grant.licensee if grant is not None else stack_info().licensee,
        expires=grant.valid_until.isoformat() if grant is not None else None,
        days_to_expiry=coverage.days_to_expiry,
        reason=coverage.reason,
        problem=None if coverage.covered else coverage.reason,
    )


def runtime_licence_status(runtime: Runtime) -> LicenceStatus:
    return licence_status(
        licence_dir=runtime.settings.licence_dir,
        country=runtime.country.profile.country,
        modules=[module.name for module in runtime.modules],
    )


def log_licence_status(runtime: Runtime) -> LicenceStatus:
    """Log the licence status: a WARNING when a grant fails (the deployment keeps serving), INFO otherwise.

    `serve` calls it at start; schedule it daily (the worker) so an approaching expiry is seen in the logs.
    """
    status = runtime_licence_status(runtime)
    fields = {
        "valid": status.valid,
        "status": status.status,
        "expires": status.expires,
        "days_to_expiry": status.days_to_expiry,
        "problem": status.problem,
    }
    if status.valid or status.status == Compliance.EVALUATION:
        licence_log.info("licence.status", **fields)
    else:
        licence_log.warning("licence.invalid", **fields)
    return status
