"""What this deployment is: written at generation time into `stack.yml`."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from .licence import Compliance, Coverage, Grant, GrantError, assess, read_deployment_grant, read_revocations

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
