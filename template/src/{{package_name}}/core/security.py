"""Partner API keys: issued once, stored as a SHA-256 hash, checked against scopes and expiry.

A key is `nsk_<prefix>_<secret>`; the prefix finds the row without scanning,
the secret is only ever compared by hash in constant time. Issuing, rotating and revoking a
key each append an audit event naming the operator (`operator:<name>`) who did it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import NotFound, Problem
from .i18n import _
from .models import Partner, utcnow

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


def issue_partner_key(
    *,
    session: Session,
    name: str,
    scopes: Iterable[str],
    actor: str = "system",
    expires_in: timedelta | None = None,
) -> IssuedKey:
    """Register a partner with a new key (valid for `expires_in`, or until revoked); audited."""
    prefix, key = _new_key()
    expires_at = utcnow() + expires_in if expires_in is not None else None
    partner = Partner(
        name=name,
        key_prefix=prefix,
        key_hash=_hash(key),
        scopes=sorted(set(scopes)),
        active=True,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(partner)
    session.flush()
    _audit(session, actor, "partner.created", partner, scopes=partner.scopes, expires_at=iso_utc(expires_at))
    return IssuedKey(partner=partner, key=key)


def rotate_partner_key(*, session: Session, partner_id: int, actor: str = "system") -> IssuedKey:
    """A new key for the partner; the old one stops working at once (no overlap). Audited."""
    partner = _partner(session, partner_id)
    old_prefix = partner.key_prefix
    partner.key_prefix, key = _new_key()
    partner.key_hash = _hash(key)
    session.flush()
    _audit(session, actor, "partner.rotated", partner, old_prefix=old_prefix)
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
    expires_at = _aware(partner.expires_at)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise AuthenticationFailed(
            _("the API key expired at {moment} (UTC); ask the operator for a new one").format(
                moment=expires_at.strftime("%Y-%m-%d %H:%M")
            )
        )
    return partner


def authorise(partner: Partner, scope: str) -> None:
    if scope not in partner.scopes:
        raise NotPermitted(
            _("partner '{partner}' lacks the scope '{scope}' this endpoint requires").format(
                partner=partner.name, scope=scope
            )
        )


def revoke_partner(*, session: Session, partner_id: int, actor: str = "system") -> Partner:
    """Deactivate the partner's key at once; audited. An unknown partner is a NotFound."""
    partner = _partner(session, partner_id)
    partner.active = False
    session.flush()
    _audit(session, actor, "partner.revoked", partner)
    return partner


def list_partners(*, session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.id)))


def _partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(_("no partner with id {id}").format(id=partner_id))
    return partner


def _audit(session: Session, actor: str, action: str, partner: Partner, **detail: object) -> None:
    detail = {"name": partner.name, "prefix": partner.key_prefix, **detail}
    audit.record(session=session, actor=actor, action=action, subject=f"partner:{partner.id}", detail=detail)


def _new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive (they are UTC).
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def iso_utc(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat() if moment is not None else None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
