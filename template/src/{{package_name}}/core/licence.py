"""Licence grants: which licensee may deploy what, where and until when — signed with Ed25519.

This file is self-contained (stdlib, PyYAML, cryptography, packaging): the deployment uses it
to report its coverage, and the licensor's tools (`scripts/grant`, `scripts/inventory`) load
the very same file, so the rules are written once.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

GRANT_FIELDS = (
    "grant_id",
    "licensor",
    "licensee",
    "territories",
    "modules",
    "valid_from",
    "valid_until",
    "template_versions",
)


class Compliance(StrEnum):
    """What a deployment's grant says about it, worst first in `ORDER`."""

    SIGNATURE_INVALID = "signature invalid"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    OUTSIDE_TERRITORY = "outside territory"
    MODULE_NOT_LICENSED = "module not licensed"
    VERSION_NOT_COVERED = "version not covered"
    EVALUATION = "evaluation"
    COVERED = "covered"


class GrantError(ValueError):
    """A grant file that cannot be read as a grant (missing or malformed fields)."""


@dataclass(frozen=True)
class Grant:
    grant_id: str
    licensor: str
    licensee: str
    territories: tuple[str, ...]
    modules: tuple[str, ...]
    valid_from: date
    valid_until: date
    template_versions: str
    signature: str = ""

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of every field but the signature."""
        content = {
            "grant_id": self.grant_id,
            "licensor": self.licensor,
            "licensee": self.licensee,
            "territories": list(self.territories),
            "modules": list(self.modules),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "template_versions": self.template_versions,
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def as_mapping(self) -> dict[str, Any]:
        data = json.loads(self.payload())
        data["signature"] = self.signature
        return {key: data[key] for key in (*GRANT_FIELDS, "signature")}


def grant_from_mapping(raw: Any, *, source: str = "grant") -> Grant:
    if not isinstance(raw, dict):
        raise GrantError(f"{source}: a grant is a mapping with {', '.join(GRANT_FIELDS)} and signature")
    missing = [key for key in (*GRANT_FIELDS, "signature") if key not in raw]
    if missing:
        raise GrantError(f"{source}: missing {', '.join(missing)}")
    try:
        versions = str(raw["template_versions"])
        SpecifierSet(versions)
        return Grant(
            grant_id=str(raw["grant_id"]),
            licensor=str(raw["licensor"]),
            licensee=str(raw["licensee"]),
            territories=tuple(str(code) for code in raw["territories"]),
            modules=tuple(str(name) for name in raw["modules"]),
            valid_from=_date(raw["valid_from"]),
            valid_until=_date(raw["valid_until"]),
            template_versions=versions,
            signature=str(raw["signature"] or ""),
        )
    except (InvalidSpecifier, TypeError, ValueError) as error:
        raise GrantError(f"{source}: {error}") from None


def read_grant(path: Path) -> Grant:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise GrantError(f"{path}: cannot read the grant: {error}") from None
    return grant_from_mapping(raw, source=str(path))


def sign(grant: Grant, private_key_pem: bytes) -> Grant:
    key = load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise GrantError("the licensor key must be an Ed25519 private key")
    signature = base64.b64encode(key.sign(grant.payload())).decode()
    return Grant(**{**grant.__dict__, "signature": signature})


def signature_valid(payload: bytes, signature: str, public_key_pem: bytes) -> bool:
    key = load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise GrantError("the licensor public key must be an Ed25519 key")
    try:
        key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Revocations:
    """The licensor's signed list of revoked grant IDs."""

    revoked: dict[str, str] = field(default_factory=dict)  # grant ID -> reason
    signature: str = ""

    def payload(self) -> bytes:
        return json.dumps(self.revoked, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def read_revocations(path: Path, public_key_pem: bytes) -> Revocations:
    """The revocation list, refused unless the licensor signed it (an unsigned list could un-revoke)."""
    if not path.is_file():
        return Revocations()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    revocations = Revocations(
        revoked={str(k): str(v) for k, v in (raw.get("revoked") or {}).items()},
        signature=str(raw.get("signature") or ""),
    )
    if revocations.revoked and not signature_valid(revocations.payload(), revocations.signature, public_key_pem):
        raise GrantError(f"{path}: the revocation list's signature is not the licensor's")
    return revocations


def sign_revocations(revocations: Revocations, private_key_pem: bytes) -> Revocations:
    key = load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise GrantError("the licensor key must be an Ed25519 private key")
    return Revocations(
        revoked=revocations.revoked, signature=base64.b64encode(key.sign(revocations.payload())).decode()
    )


@dataclass(frozen=True)
class Coverage:
    status: Compliance
    reason: str
    days_to_expiry: int | None = None

    @property
    def covered(self) -> bool:
        return self.status == Compliance.COVERED


def assess(
    grant: Grant | None,
    *,
    public_key_pem: bytes,
    revocations: Revocations,
    country: str,
    modules: list[str] | tuple[str, ...],
    template_version: str,
    today: date,
) -> Coverage:
    """The deployment's compliance: the first thing wrong, checked in a fixed order, or covered."""
    if grant is None:
        return Coverage(Compliance.EVALUATION, "no licence grant: evaluation deployment")
    days = (grant.valid_until - today).days
    if not signature_valid(grant.payload(), grant.signature, public_key_pem):
        return Coverage(Compliance.SIGNATURE_INVALID, f"grant {grant.grant_id}: the signature is not the licensor's")
    if grant.grant_id in revocations.revoked:
        reason = revocations.revoked[grant.grant_id]
        return Coverage(Compliance.REVOKED, f"grant {grant.grant_id} was revoked: {reason}", days)
    if today > grant.valid_until:
        return Coverage(Compliance.EXPIRED, f"grant {grant.grant_id} expired on {grant.valid_until}", days)
    if today < grant.valid_from:
        return Coverage(Compliance.NOT_YET_VALID, f"grant {grant.grant_id} starts on {grant.valid_from}", days)
    if country not in grant.territories:
        allowed = ", ".join(grant.territories)
        return Coverage(
            Compliance.OUTSIDE_TERRITORY, f"country {country} is outside the grant's territories ({allowed})", days
        )
    unlicensed = [name for name in modules if name not in grant.modules]
    if unlicensed:
        return Coverage(
            Compliance.MODULE_NOT_LICENSED,
            f"module(s) {', '.join(unlicensed)} not licensed by grant {grant.grant_id}",
            days,
        )
    try:
        version_ok = Version(template_version) in SpecifierSet(grant.template_versions)
    except InvalidVersion:
        version_ok = False
    if not version_ok:
        return Coverage(
            Compliance.VERSION_NOT_COVERED,
            f"template version {template_version} is not covered by {grant.template_versions!r}",
            days,
        )
    return Coverage(Compliance.COVERED, f"covered by grant {grant.grant_id} until {grant.valid_until}", days)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def read_deployment_grant(path: Path) -> Grant | None:
    """The grant a deployment keeps (`licence/grant.yml`, under `licence_grant:`), or None for evaluation."""
    if not path.is_file():
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise GrantError(f"{path}: not valid YAML: {error}") from None
    if not raw.get("licence_grant"):
        return None
    return grant_from_mapping(raw["licence_grant"], source=str(path))
