"""The resident web portal: a partner of its own, and the core's `ResidentSessions` port on its sessions.

Choice: resident sessions are bound to the partner that opened them (resident.py), so the web
portal is a partner like a kiosk or a USSD gateway: one built-in row of `core_partner`, named
"resident web portal", holding the scope `identity:resident`. Its key is random and never shown
to anyone, so the row can only be used from inside the stack; the OTP limits per partner, the
lock-outs per ID and partner, and each resident's authentication history then treat the portal
exactly as the API treats any other channel. The row is created on first use and recognised by
the person recorded as having requested it (`WEB_PORTAL.person`), so a partner someone issues
under the same name is never taken for it. Revoking it on the partners page switches the portal
off: resident sign-in is refused and every portal session stops working at once.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ...core.approvals import Signatory
from ...core.errors import Problem
from ...core.i18n import _
from ...core.models import Partner, utcnow
from ...core.runtime import Runtime
from ...core.security import issue_partner_key
from . import resident, vids
from .config import IdentitySettings
from .models import ResidentSession

WEB_PORTAL_NAME = "resident web portal"
RESIDENT_SCOPE = "identity:resident"  # the router's, written out: the router is an entry point (roles.py)
WEB_PORTAL = Signatory(person="system:identity-web-portal", actor="system:identity (resident web portal)")


class PortalClosed(Problem):
    def __init__(self) -> None:
        super().__init__(
            _("resident sign-in on this site is switched off: the resident web portal's partner key was revoked"),
            kind="portal-closed",
            status=403,
        )


def existing_web_portal(session: Session) -> Partner | None:
    """The web portal's partner row, revoked or not; None before its first use."""
    query = select(Partner).where(Partner.requested_by == WEB_PORTAL.person).order_by(Partner.id).limit(1)
    return session.scalars(query).first()


def web_portal_partner(session: Session) -> Partner:
    """The web portal's partner row, created on first use (its key is thrown away); PortalClosed when revoked."""
    partner = existing_web_portal(session)
    if partner is None:
        # Two first requests at once may each create one: the lowest id is the one used from then on.
        issue_partner_key(session=session, name=WEB_PORTAL_NAME, scopes=[RESIDENT_SCOPE], requester=WEB_PORTAL)
        partner = existing_web_portal(session)
        assert partner is not None
    if not partner.active:
        raise PortalClosed()
    return partner


class PortalSessions:
    """`core.ports.ResidentSessions`: the sessions of the resident web portal, in identity's session table."""

    def __init__(self, settings: IdentitySettings) -> None:
        self._settings = settings

    def open(self, *, session: Session, national_id: str) -> str:
        partner = web_portal_partner(session)
        token, _expires_at = resident.start_session(
            session=session, national_id=national_id, partner=partner, settings=self._settings
        )
        return token

    def holder(self, *, session: Session, token: str) -> str | None:
        partner = existing_web_portal(session)
        if partner is None or not partner.active:
            return None
        row = session.scalar(
            select(ResidentSession).where(
                ResidentSession.token_hash == resident.token_hash(token), ResidentSession.partner_id == partner.id
            )
        )
        if row is None or vids.aware(row.expires_at) <= utcnow():
            return None
        return row.national_id

    def close(self, *, session: Session, token: str) -> None:
        session.execute(delete(ResidentSession).where(ResidentSession.token_hash == resident.token_hash(token)))


def portal_sessions(runtime: Runtime) -> PortalSessions:
    return PortalSessions(runtime.settings_of(IdentitySettings))
