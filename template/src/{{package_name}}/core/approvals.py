"""Four-eyes approval: an action on a subject takes effect only once enough distinct people approved it.

An approval is given to one version of the subject, named by a fingerprint of its approvable
content (the caller computes it). Approving refuses the maker (the person recorded as having made
the subject) and a person who already approved the current version, whatever role they act in
now (`Signatory.person` is one string per person); it voids every approval of another version, so
a change after a step voids it. The database backs the "one person, one approval" rule with a
partial unique index, so two concurrent requests of one person cannot both count.

Whether the required number is reached is exact under concurrency only when the caller holds a
lock on the subject for the transaction (payments locks the cycle's row): the service counts live
approvals after its own insert, and two unlocked transactions could each count the other's miss.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit
from .callers import Caller
from .errors import Problem
from .i18n import _
from .models import Approval, utcnow

DEFAULT_REQUIRED = 2  # distinct people, the maker never among them, for any action the settings do not name


@dataclass(frozen=True)
class Signatory:
    """Who makes or approves a subject: the person four-eyes counts, the audit's name for them, their role."""

    person: str
    actor: str
    role: str | None = None

    @classmethod
    def of(cls, caller: Caller) -> Signatory:
        return cls(person=caller.person, actor=caller.actor, role=caller.role)

    @classmethod
    def operator(cls, name: str) -> Signatory:
        """An operator at the command line, by the name they give (`--as`).

        The name is a claim, not a proof: whoever runs the CLI holds the database's credentials and
        could claim any name. The audit log records the operating-system account beside it.
        """
        return cls(person=f"operator:{name}", actor=f"operator:{name} (os:{_os_user()})")


@dataclass(frozen=True)
class Tally:
    """Live approvals of the subject's current version against the number its action needs."""

    approvals: int
    required: int

    @property
    def reached(self) -> bool:
        return self.approvals >= self.required


def required_for(required: Mapping[str, int], action: str) -> int:
    """The number of distinct approvers `action` needs (the settings' `approvals_required`, else the default)."""
    return required.get(action, DEFAULT_REQUIRED)


def approve(
    *,
    session: Session,
    action: str,
    subject: str,
    fingerprint: str,
    maker: str | None,
    approver: Signatory,
    required: int,
) -> Tally:
    """Record `approver`'s approval of `subject` as it is now (`fingerprint`); the tally says whether it is enough.

    `maker` is the person recorded as having made the subject (None for subjects made before makers
    were recorded: nobody is then refused as the maker).
    """
    check_not_maker(subject=subject, maker=maker, approver=approver)
    void_changed(session=session, action=action, subject=subject, fingerprint=fingerprint, actor=approver.actor)
    if _has_approved(session, action, subject, fingerprint, approver.person):
        raise _already_approved(subject)
    approval = Approval(
        action=action,
        subject=subject,
        fingerprint=fingerprint,
        person=approver.person,
        actor=approver.actor,
        role=approver.role,
    )
    try:
        with session.begin_nested():
            session.add(approval)
    except IntegrityError:  # a concurrent request of the same person got there first
        raise _already_approved(subject) from None
    tally = Tally(tally_of(session=session, action=action, subject=subject, fingerprint=fingerprint), required)
    audit.record(
        session=session,
        actor=approver.actor,
        action="approval.given",
        subject=subject,
        detail={
            "action": action,
            "person": approver.person,
            "role": approver.role,
            "approvals": tally.approvals,
            "required": required,
        },
    )
    return tally


def check_not_maker(*, subject: str, maker: str | None, approver: Signatory) -> None:
    """Refuse the maker (callers check it before anything else, so the maker learns nothing more)."""
    if maker is not None and approver.person == maker:
        raise Problem(
            _("you made {subject}: someone else must approve it").format(subject=subject),
            kind="maker-cannot-approve",
            status=403,
            field="approver",
        )


def void_changed(*, session: Session, action: str, subject: str, fingerprint: str, actor: str) -> int:
    """Void the live approvals given to another version of `subject`; how many were voided."""
    changed = (Approval.subject == subject, Approval.fingerprint != fingerprint)
    return _void(session, action, changed, subject=subject, actor=actor, reason="changed since approved")


def void_replaced(*, session: Session, action: str, subject: str, actor: str) -> int:
    """Void every live approval of `subject`, which a newer one replaced (a proposal superseded): none can count."""
    return _void(session, action, (Approval.subject == subject,), subject=subject, actor=actor, reason="replaced")


def tally_of(*, session: Session, action: str, subject: str, fingerprint: str) -> int:
    """How many live approvals the version `fingerprint` of `subject` holds (approvals of other versions count 0)."""
    query = select(func.count()).where(
        Approval.action == action,
        Approval.subject == subject,
        Approval.fingerprint == fingerprint,
        Approval.voided_at.is_(None),
    )
    return session.scalar(query)


def live_by_subject(*, session: Session, action: str, prefix: str) -> list[tuple[str, str, int]]:
    """(subject, fingerprint, live approvals) of every subject of `action` starting with `prefix`, by subject.

    For actions whose subject names one decision among several on the same object (an adjudication
    that may issue or reject): each decision collects its own approvals, and this lists them all.
    """
    query = (
        select(Approval.subject, Approval.fingerprint, func.count())
        .where(Approval.action == action, Approval.subject.startswith(prefix, autoescape=True))
        .where(Approval.voided_at.is_(None))
        .group_by(Approval.subject, Approval.fingerprint)
        .order_by(Approval.subject, Approval.fingerprint)
    )
    return [(subject, fingerprint, count) for subject, fingerprint, count in session.execute(query)]


def void_other_decisions(*, session: Session, action: str, prefix: str, decided: str, actor: str) -> int:
    """Once the decision `decided` took effect, void the live approvals of the other decisions under `prefix`.

    They could no longer count (the object is decided); voiding them says so in the table and the audit log.
    """
    others = (Approval.subject.startswith(prefix, autoescape=True), Approval.subject != decided)
    return _void(session, action, others, subject=decided, actor=actor, reason="another decision took effect")


def _void(session: Session, action: str, which: tuple, *, subject: str, actor: str, reason: str) -> int:
    """Void the live approvals of `action` that `which` selects, and audit it under `subject` when any were."""
    voided = session.execute(
        update(Approval)
        .where(Approval.action == action, Approval.voided_at.is_(None), *which)
        .values(voided_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if voided:
        audit.record(
            session=session,
            actor=actor,
            action="approval.voided",
            subject=subject,
            detail={"action": action, "voided": voided, "reason": reason},
        )
    return voided


def approvers_of(*, session: Session, action: str, subject: str, fingerprint: str) -> list[dict[str, str | None]]:
    """Who holds a live approval of this version of `subject`, in order, with the role each acted in."""
    query = (
        select(Approval.person, Approval.actor, Approval.role)
        .where(Approval.action == action, Approval.subject == subject, Approval.fingerprint == fingerprint)
        .where(Approval.voided_at.is_(None))
        .order_by(Approval.id)
    )
    return [{"person": person, "actor": actor, "role": role} for person, actor, role in session.execute(query)]


def _has_approved(session: Session, action: str, subject: str, fingerprint: str, person: str) -> bool:
    query = select(Approval.id).where(
        Approval.action == action,
        Approval.subject == subject,
        Approval.fingerprint == fingerprint,
        Approval.person == person,
        Approval.voided_at.is_(None),
    )
    return session.scalar(query) is not None


def _already_approved(subject: str) -> Problem:
    return Problem(
        _("you have already approved {subject}, in this or another role: someone else must approve it").format(
            subject=subject
        ),
        kind="already-approved",
        status=409,
        field="approver",
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return "unknown"
