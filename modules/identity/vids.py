"""Virtual IDs: revocable 16-digit aliases a resident gives instead of the national ID.

Temporary VIDs expire and allow a limited number of authentications; a
perpetual VID lasts until revoked, and issuing a new one revokes the old.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.errors import Conflict, NotFound, Problem
from ...core.i18n import _
from ...core.models import utcnow
from . import idnumbers
from .config import IdentitySettings
from .models import Person, VirtualId

VID_LENGTH = 16


def create_vid(*, session: Session, national_id: str, kind: str, settings: IdentitySettings, actor: str) -> VirtualId:
    now = utcnow()
    if kind == "perpetual":
        for old in session.scalars(
            select(VirtualId).where(
                VirtualId.national_id == national_id, VirtualId.kind == "perpetual", VirtualId.revoked.is_(False)
            )
        ):
            old.revoked = True
        expires_at, uses_left = None, None
    else:
        expires_at, uses_left = now + timedelta(seconds=settings.vid_temporary_seconds), settings.vid_temporary_uses
    vid = VirtualId(
        vid=_unused_vid(session, settings.restricted_ids),
        national_id=national_id,
        kind=kind,
        expires_at=expires_at,
        uses_left=uses_left,
        revoked=False,
    )
    session.add(vid)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="identity.vid.created",
        subject=f"person:{national_id}",
        detail={"kind": kind},
    )
    return vid


def revoke_vid(*, session: Session, national_id: str, vid: str, actor: str) -> VirtualId:
    row = session.scalar(select(VirtualId).where(VirtualId.vid == vid, VirtualId.national_id == national_id))
    if row is None:
        raise NotFound("vid: " + _("'{vid}' is not one of this resident's VIDs").format(vid=vid))
    if row.revoked:
        raise Conflict("vid: " + _("'{vid}' is already revoked").format(vid=vid))
    row.revoked = True
    audit.record(
        session=session,
        actor=actor,
        action="identity.vid.revoked",
        subject=f"person:{national_id}",
        detail={"kind": row.kind},
    )
    return row


def list_vids(*, session: Session, national_id: str) -> list[VirtualId]:
    return list(session.scalars(select(VirtualId).where(VirtualId.national_id == national_id).order_by(VirtualId.id)))


def usable_vid(*, session: Session, vid: str) -> VirtualId:
    """The VID row, if it may be used now; raises saying why not otherwise."""
    idnumbers.validate(vid, length=VID_LENGTH)
    row = session.scalar(select(VirtualId).where(VirtualId.vid == vid))
    if row is None:
        raise NotFound("individual_id: " + _("no such VID '{vid}'").format(vid=vid))
    if row.revoked:
        raise Problem(
            "individual_id: " + _("VID '{vid}' has been revoked").format(vid=vid), kind="vid-revoked", status=409
        )
    if row.expires_at is not None and aware(row.expires_at) <= utcnow():
        raise Problem("individual_id: " + _("VID '{vid}' has expired").format(vid=vid), kind="vid-expired", status=409)
    if row.uses_left is not None and row.uses_left <= 0:
        raise Problem(
            "individual_id: " + _("VID '{vid}' has no uses left").format(vid=vid), kind="vid-used-up", status=409
        )
    return row


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _unused_vid(session: Session, restricted: list[str]) -> str:
    while True:
        candidate = idnumbers.generate(VID_LENGTH, restricted=restricted)
        taken = session.scalar(select(VirtualId.id).where(VirtualId.vid == candidate)) or session.scalar(
            select(Person.id).where(Person.national_id == candidate)
        )
        if not taken:
            return candidate
