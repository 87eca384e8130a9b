"""Partner API keys: issued once, stored as a SHA-256 hash, checked against scopes and expiry.

A key is `nsk_<prefix>_<secret>`; the prefix finds the row without scanning,
the secret is only ever compared by hash in constant time. Issuing, rotating and revoking a
key each append an audit event naming the operator (`operator:<name>`) who did it. A key holding a
scope that moves money works only once enough people other than its requester approved it
(four-eyes, `approve_partner_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import approvals, audit
from .approvals import Signatory, Tally
from .errors import Conflict, NotFound, Problem
from .i18n import _
from .models import Partner, utcnow
from .registry import money_scopes

KEY_SCHEME = "nsk"
PARTNER_KEY_ACTION = "core.partner_key"  # the key of its count in APPROVALS_REQUIRED
SYSTEM = Signatory(person="system", actor="system")  # code issuing a key on nobody's request (a benchmark)


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
    requester: Signatory = SYSTEM,
    expires_in: timedelta | None = None,
) -> IssuedKey:
    """Register a partner with a new key (valid for `expires_in`, or until revoked); audited.

    A key holding a scope that moves money (a module's `money_scopes`) is issued awaiting approval:
    it works only once enough people other than `requester` approved it (`approve_partner_key`).
    """
    prefix, key = _new_key()
    expires_at = utcnow() + expires_in if expires_in is not None else None
    granted = sorted(set(scopes))
    money = sorted(set(granted) & money_scopes())
    partner = Partner(
        name=name,
        key_prefix=prefix,
        key_hash=_hash(key),
        scopes=granted,
        active=True,
        created_at=utcnow(),
        expires_at=expires_at,
        awaiting_approval=bool(money),
        requested_by=requester.person,
    )
    session.add(partner)
    session.flush()
    _audit(
        session,
        requester.actor,
        "partner.created",
        partner,
        scopes=partner.scopes,
        expires_at=iso_utc(expires_at),
        money_scopes=money,
    )
    return IssuedKey(partner=partner, key=key)


def approve_partner_key(*, session: Session, partner_id: int, approver: Signatory, required: int) -> Tally:
    """One person's approval of a key awaiting it; the key works once `required` distinct people approved.

    The requester is refused, and so is a person who already approved this key. The approval is of
    the key as it is (name, scopes, expiry, the key itself): a rotation voids the approvals given.
    The partner's row is locked first, so concurrent approvals queue and exactly one releases the key.
    """
    partner = _partner(session, partner_id, for_update=True)
    subject = f"partner:{partner.id}"
    approvals.check_not_maker(subject=subject, maker=partner.requested_by, approver=approver)
    if not partner.awaiting_approval:
        raise Conflict(
            _("partner {id} ({name}) awaits no approval").format(id=partner.id, name=partner.name),
            field="partner_id",
        )
    fingerprint = _key_fingerprint(partner)
    tally = approvals.approve(
        session=session,
        action=PARTNER_KEY_ACTION,
        subject=subject,
        fingerprint=fingerprint,
        maker=partner.requested_by,
        approver=approver,
        required=required,
    )
    if tally.reached:
        partner.awaiting_approval = False
        session.flush()
        approvers = approvals.approvers_of(
            session=session, action=PARTNER_KEY_ACTION, subject=subject, fingerprint=fingerprint
        )
        _audit(session, approver.actor, "partner.approved", partner, approvers=approvers)
    return tally


def partner_key_tally(*, session: Session, partner: Partner, required: int) -> Tally:
    """The live approvals of the key as it is now against the number required."""
    approved = approvals.tally_of(
        session=session,
        action=PARTNER_KEY_ACTION,
        subject=f"partner:{partner.id}",
        fingerprint=_key_fingerprint(partner),
    )
    return Tally(approved, required)


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
    if partner.awaiting_approval:
        raise AuthenticationFailed(
            _("the API key holds a scope that moves money and awaits its approvals (partner {id})").format(
                id=partner.id
            )
        )
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


def _partner(session: Session, partner_id: int, *, for_update: bool = False) -> Partner:
    partner = session.get(Partner, partner_id, with_for_update=for_update)
    if partner is None:
        raise NotFound(_("no partner with id {id}").format(id=partner_id))
    return partner


def _audit(session: Session, actor: str, action: str, partner: Partner, **detail: object) -> None:
    detail = {"name": partner.name, "prefix": partner.key_prefix, **detail}
    audit.record(session=session, actor=actor, action=action, subject=f"partner:{partner.id}", detail=detail)


def _key_fingerprint(partner: Partner) -> str:
    """The key as its approvers see it: who holds it, what it may do, until when, and which key it is."""
    content = {
        "name": partner.name,
        "scopes": sorted(partner.scopes),
        "expires_at": iso_utc(partner.expires_at),
        "key_hash": partner.key_hash,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


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
