"""Adjudicating a held enrolment under four-eyes: a decision takes effect once enough distinct people
approved that same decision on the same version of the application.

Each decision (issue; reject as a duplicate of one candidate) is its own four-eyes subject, so a
second adjudicator who decides otherwise voids nothing: their decision waits beside the first one,
and the answer lists every decision pending; the decision that takes effect voids the others'
approvals. The fingerprint is the application's canonical content (demographics, request hash,
candidates) with the decision: an application changed after a step counts none of the earlier
approvals, and the next approval of that decision voids them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import approvals, audit
from ...core.approvals import Signatory, Tally
from ...core.country import LoadedCountry
from ...core.errors import Conflict, Unprocessable
from ...core.i18n import _
from . import service
from .applications import Application
from .config import IdentitySettings
from .models import Enrolment, EnrolmentStatus

ACTION = "identity.adjudicate"  # the key of its count in APPROVALS_REQUIRED
ISSUE = "issue"
REJECT = "reject_duplicate"


@dataclass(frozen=True)
class Decision:
    decision: str  # ISSUE or REJECT
    duplicate_of: str | None = None  # for REJECT: the candidate it duplicates

    @property
    def key(self) -> str:
        return self.decision if self.decision == ISSUE else f"{REJECT}:{self.duplicate_of}"

    @classmethod
    def of_key(cls, key: str) -> Decision:
        decision, _sep, duplicate_of = key.partition(":")
        return cls(decision, duplicate_of or None)


@dataclass(frozen=True)
class Pending:
    """A decision with live approvals of the application as it is now."""

    decision: Decision
    approvals: int


@dataclass(frozen=True)
class Adjudication:
    enrolment: Enrolment
    decision: Decision
    tally: Tally
    pending: list[Pending]


def adjudicate(
    *,
    session: Session,
    application_id: str,
    decision: Decision,
    note: str,
    country: LoadedCountry,
    settings: IdentitySettings,
    approver: Signatory,
    required: int,
) -> Adjudication:
    """One adjudicator's approval of `decision`; the decision takes effect when it reaches `required`.

    The enrolment's row is locked first, so concurrent approvals queue and exactly one applies it.
    Its maker is refused, and so is a person who already approved this decision.
    """
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.application_id == application_id).with_for_update()
    ) or service.missing(application_id)
    subject = _subject(application_id, decision)
    approvals.check_not_maker(subject=subject, maker=enrolment.made_by, approver=approver)
    _check_decidable(enrolment, decision)
    fingerprint = _fingerprint(enrolment, decision)
    tally = approvals.approve(
        session=session,
        action=ACTION,
        subject=subject,
        fingerprint=fingerprint,
        maker=enrolment.made_by,
        approver=approver,
        required=required,
    )
    if tally.reached:
        _apply(session, enrolment, decision, country=country, settings=settings)
        approvers = approvals.approvers_of(session=session, action=ACTION, subject=subject, fingerprint=fingerprint)
        approvals.void_other_decisions(
            session=session, action=ACTION, prefix=_prefix(application_id), decided=subject, actor=approver.actor
        )
        audit.record(
            session=session,
            actor=approver.actor,
            action=f"identity.adjudication.{decision.decision}",
            subject=f"person:{enrolment.national_id or decision.duplicate_of}",
            detail={
                "application_id": application_id,
                "duplicate_of": decision.duplicate_of,
                "note": note,
                "approvers": approvers,
            },
        )
    return Adjudication(enrolment, decision, tally, pending_decisions(session=session, enrolment=enrolment))


def pending_decisions(*, session: Session, enrolment: Enrolment) -> list[Pending]:
    """The decisions awaiting more approvals of the application as it is now (none once it is decided)."""
    if enrolment.status != EnrolmentStatus.HELD:
        return []
    prefix = _prefix(enrolment.application_id)
    pending = []
    for subject, fingerprint, count in approvals.live_by_subject(session=session, action=ACTION, prefix=prefix):
        decision = Decision.of_key(subject.removeprefix(prefix))
        if fingerprint == _fingerprint(enrolment, decision):  # approvals of an older version count for nothing
            pending.append(Pending(decision, count))
    return pending


def _check_decidable(enrolment: Enrolment, decision: Decision) -> None:
    if enrolment.status != EnrolmentStatus.HELD:
        raise Conflict(
            "application_id: "
            + _("'{application_id}' is {status}, not held for adjudication").format(
                application_id=enrolment.application_id, status=enrolment.status
            )
        )
    if decision.decision == REJECT and decision.duplicate_of not in enrolment.candidates:
        raise Unprocessable(
            "duplicate_of: "
            + _("'{duplicate_of}' is not a candidate; choose one of {candidates}").format(
                duplicate_of=decision.duplicate_of or "", candidates=", ".join(enrolment.candidates)
            )
        )


def _apply(
    session: Session,
    enrolment: Enrolment,
    decision: Decision,
    *,
    country: LoadedCountry,
    settings: IdentitySettings,
) -> None:
    if decision.decision == ISSUE:
        service.issue_held(session=session, enrolment=enrolment, country=country, settings=settings)
    else:
        enrolment.status = EnrolmentStatus.REJECTED
    session.flush()


def _prefix(application_id: str) -> str:
    """What the subjects of every decision on the application start with."""
    return f"enrolment:{application_id}:"


def _subject(application_id: str, decision: Decision) -> str:
    return f"{_prefix(application_id)}{decision.key}"


def _fingerprint(enrolment: Enrolment, decision: Decision) -> str:
    """The application as it is now and the decision: what the adjudicators approve."""
    content = {
        "application": Application.from_demographics(enrolment.demographics).demographics(),
        "request_hash": enrolment.request_hash,
        "candidates": sorted(enrolment.candidates),
        "decision": decision.decision,
        "duplicate_of": decision.duplicate_of,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
