"""The resident's own view: a session opened with an OTP, then who used my ID, my contacts, my locks.

Choice: the resident portal (or kiosk, or USSD gateway) is a partner holding the
scope `identity:resident`. It asks for an OTP to the resident's phone, then
exchanges the code for a short-lived session token (only its hash is stored),
sent as `X-Resident-Session` on every resident request. The partner alone
cannot act for anyone: each session is proof that the resident read the OTP.
A session is bound to the partner that opened it: through any other partner's key
it is answered exactly as an unknown session is (401), so a leaked token is no use
elsewhere and its existence is not revealed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.i18n import _
from ...core.models import AuditEvent, Partner, utcnow
from ...core.security import AuthenticationFailed
from . import auth, vids
from .config import IdentitySettings
from .models import ResidentSession

# A VID used through the SectorTokens port (tokens.py) is shown too: it is a use of the resident's ID by a partner.
AUTH_ACTIONS = ("identity.auth", "identity.ekyc", "identity.resident.session", "identity.vid.used")


def open_session(
    *,
    session: Session,
    individual_id: str,
    id_type: str,
    transaction_id: str,
    otp: str,
    partner: Partner,
    country: LoadedCountry,
    settings: IdentitySettings,
    secret: str,
) -> tuple[str, datetime] | None:
    """Exchange an OTP for a session token and its expiry; None (the failure counted and audited) when refused."""
    national_id = verify_sign_in(
        session=session,
        individual_id=individual_id,
        id_type=id_type,
        transaction_id=transaction_id,
        otp=otp,
        partner=partner,
        settings=settings,
        country=country,
        secret=secret,
    )
    if national_id is None:
        return None
    return start_session(session=session, national_id=national_id, partner=partner, settings=settings)


def verify_sign_in(
    *,
    session: Session,
    individual_id: str,
    id_type: str,
    transaction_id: str,
    otp: str,
    partner: Partner,
    country: LoadedCountry,
    settings: IdentitySettings,
    secret: str,
) -> str | None:
    """The national ID of the resident who read the OTP sent for `transaction_id` through `partner`;
    None when the code is wrong, expired or used, or the ID is locked out for the partner (the failure
    counted towards the lock-out). Audited either way."""
    person, _vid = auth.resolve(session=session, individual_id=individual_id, id_type=id_type, country=country)
    national_id = person.national_id
    ok = not auth.is_locked_out(session=session, national_id=national_id, partner_id=partner.id) and auth.verify_otp(
        session=session,
        national_id=national_id,
        transaction_id=transaction_id,
        partner_id=partner.id,
        code=otp,
        secret=secret,
    )
    audit.record(
        session=session,
        actor=partner.name,
        action="identity.resident.session",
        subject=f"person:{national_id}",
        detail={
            "transaction_id": transaction_id,
            "partner_id": partner.id,
            "factors": ["otp"],
            "result": "success" if ok else "failure",
            "reason": None if ok else "OTP did not match or locked out",
        },
    )
    if not ok:
        auth.record_failure(session=session, national_id=national_id, partner_id=partner.id, settings=settings)
        return None
    return national_id


def start_session(
    *, session: Session, national_id: str, partner: Partner, settings: IdentitySettings
) -> tuple[str, datetime]:
    """A new session of `national_id` through `partner` (whoever calls it has checked who the resident is)."""
    token = secrets.token_urlsafe(32)
    row = ResidentSession(
        token_hash=token_hash(token),
        national_id=national_id,
        partner_id=partner.id,
        expires_at=utcnow() + timedelta(seconds=settings.resident_session_seconds),
    )
    session.add(row)
    return token, row.expires_at


def session_holder(*, session: Session, token: str | None, partner: Partner) -> str:
    """The national ID whose session `token` is; 401 when missing, unknown, expired or opened by another partner
    (the same answer in all three cases)."""
    if not token:
        raise AuthenticationFailed(_("a resident session is required: send it in the X-Resident-Session header"))
    row = session.scalar(
        select(ResidentSession).where(
            ResidentSession.token_hash == token_hash(token), ResidentSession.partner_id == partner.id
        )
    )
    if row is None or vids.aware(row.expires_at) <= utcnow():
        raise AuthenticationFailed(_("the resident session is unknown or has expired; open a new one with an OTP"))
    return row.national_id


def authentication_history(*, session: Session, national_id: str, limit: int = 100) -> list[AuditEvent]:
    """Who authenticated this resident, when, with which factor and result (newest first)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.subject == f"person:{national_id}", AuditEvent.action.in_(AUTH_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256 (a token is 256 random bits, so no key or salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
