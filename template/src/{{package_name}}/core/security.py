"""Partner API keys: issued once, stored as a SHA-256 hash, checked against scopes.

A key is `nsk_<prefix>_<secret>`; the prefix finds the row without scanning,
the secret is only ever compared by hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Problem
from .i18n import _
from .models import Partner

KEY_SCHEME = "nsk"


class AuthenticationFailed(Problem):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="unauthenticated")


class NotPermitted(Problem):
    status = 403

    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="forbidden")


@dataclass(frozen=True)
class IssuedKey:
    partner: Partner
    key: str  # shown once, never stored


def issue_partner_key(*, session: Session, name: str, scopes: Iterable[str]) -> IssuedKey:
    prefix = secrets.token_hex(6)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    partner = Partner(name=name, key_prefix=prefix, key_hash=_hash(key), scopes=sorted(set(scopes)), active=True)
    session.add(partner)
    session.flush()
    return IssuedKey(partner=partner, key=key)


def authenticate(*, session: Session, key: str | None) -> Partner:
    if not key:
        raise AuthenticationFailed(_("an API key is required: send it in the X-API-Key header"))
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME:
        raise AuthenticationFailed(_("the API key is malformed; keys look like nsk_<prefix>_<secret>"))
    partner = session.scalars(select(Partner).where(Partner.key_prefix == parts[1])).one_or_none()
    if partner is None or not partner.active or not hmac.compare_digest(partner.key_hash, _hash(key)):
        raise AuthenticationFailed(_("the API key is not valid or has been revoked"))
    return partner


def authorise(partner: Partner, scope: str) -> None:
    if scope not in partner.scopes:
        raise NotPermitted(
            _("partner '{partner}' lacks the scope '{scope}' this endpoint requires").format(
                partner=partner.name, scope=scope
            )
        )


def revoke_partner(*, session: Session, partner_id: int) -> None:
    partner = session.get(Partner, partner_id)
    if partner is not None:
        partner.active = False


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
