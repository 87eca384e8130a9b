"""Objections: a taxpayer contests an assessment within the legal window; a decision re-assesses.

States: lodged -> under_review -> allowed | partially_allowed | disallowed; a decision takes
effect once enough distinct officers approved it (four-eyes), never the one who lodged it. An allowed
or partially allowed objection files the next version of the return with the income
decided (the taxpayer's claim when allowed in full) and re-assesses it, superseding the
assessment objected to; a disallowed one changes nothing. The window is
`tax.objections.window_days`, the value in force on the day of the assessment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import approvals, audit
from ...core.approvals import Signatory, Tally
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.i18n import _
from ...core.schemas import as_utc
from . import service
from .models import Assessment, AssessmentState, Objection, ObjectionState, ReturnKind

OPEN = (ObjectionState.LODGED, ObjectionState.UNDER_REVIEW)
DECISIONS = (ObjectionState.ALLOWED, ObjectionState.PARTIALLY_ALLOWED, ObjectionState.DISALLOWED)
APPROVAL_ACTION = "tax.decide_objection"  # the key of its count in APPROVALS_REQUIRED


def lodge(
    *,
    session: Session,
    assessment_id: int,
    grounds: str,
    claimed_income: int | None,
    country: LoadedCountry,
    maker: Signatory,
    today: date | None = None,
) -> Objection:
    """Lodge an objection; its maker (the taxpayer's agent or partner) is recorded, and four-eyes refuses them."""
    assessment = service.get_assessment(session=session, assessment_id=assessment_id)
    if assessment.kind != ReturnKind.INCOME:
        raise Unprocessable(
            _("objections here are to income-tax assessments; amend a VAT return instead"), field="assessment_id"
        )
    if assessment.state != AssessmentState.CURRENT:
        raise Conflict(
            _("assessment {assessment_id} was superseded by {superseded_by}; object to that one").format(
                assessment_id=assessment_id, superseded_by=assessment.superseded_by
            ),
            superseded_by=assessment.superseded_by,
            field="assessment_id",
        )
    assessed_on = _day(assessment.assessed_at)
    deadline, days = service.rules_for(country).objection_deadline(assessed_on)
    today = today or date.today()
    if today > deadline:
        raise Unprocessable(
            _(
                "the {days}-day objection window (tax.objections.window_days) for assessment "
                "{assessment_id} of {assessed_on} closed on {deadline}"
            ).format(days=days, assessment_id=assessment_id, assessed_on=assessed_on, deadline=deadline),
            kind="objection-window-closed",
            field="assessment_id",
        )
    open_one = session.scalar(
        select(Objection.id).where(Objection.assessment_id == assessment_id, Objection.state.in_(OPEN))
    )
    if open_one is not None:
        raise Conflict(
            _("objection {objection_id} to this assessment is still open").format(objection_id=open_one),
            objection_id=open_one,
            field="assessment_id",
        )
    objection = Objection(
        assessment_id=assessment_id,
        tin=assessment.tin,
        state=ObjectionState.LODGED,
        grounds=grounds,
        claimed_income=claimed_income,
        lodged_by=maker.person,
    )
    session.add(objection)
    session.flush()
    _audit(session, objection, maker.actor, "tax.objection.lodged")
    return objection


def get(*, session: Session, objection_id: int, for_update: bool = False) -> Objection:
    objection = session.get(Objection, objection_id, with_for_update=for_update)
    if objection is None:
        raise NotFound(_("no objection {objection_id}").format(objection_id=objection_id), field="id")
    return objection


def review(*, session: Session, objection_id: int, actor: str) -> Objection:
    objection = get(session=session, objection_id=objection_id)
    if objection.state != ObjectionState.LODGED:
        raise Conflict(
            _("objection {objection_id} is {state}; only a lodged one goes under review").format(
                objection_id=objection_id, state=objection.state
            ),
            field="state",
        )
    objection.state = ObjectionState.UNDER_REVIEW
    session.flush()
    _audit(session, objection, actor, "tax.objection.under_review")
    return objection


@dataclass(frozen=True)
class Decision:
    outcome: ObjectionState  # one of DECISIONS
    income: int | None  # minor units: the income decided (None when disallowed)

    @property
    def key(self) -> str:
        return f"{self.outcome.value}:{'' if self.income is None else self.income}"

    @classmethod
    def of_key(cls, key: str) -> Decision:
        outcome, _sep, income = key.partition(":")
        return cls(ObjectionState(outcome), int(income) if income else None)


@dataclass(frozen=True)
class Pending:
    """A decision with live approvals of the objection as it is now."""

    decision: Decision
    approvals: int


@dataclass(frozen=True)
class Deciding:
    objection: Objection
    decision: Decision
    tally: Tally
    pending: list[Pending]


def decide(
    *,
    session: Session,
    objection_id: int,
    outcome: str,
    income: int | None,
    note: str,
    country: LoadedCountry,
    approver: Signatory,
    required: int,
) -> Deciding:
    """One officer's approval of a decision; it takes effect once `required` distinct people approved it.

    Each decision (outcome and income) collects its own approvals, so an officer who decides
    otherwise voids nobody's: both wait, and the answer lists them; the one that takes effect voids
    the others' approvals. The objection's row is locked
    first, so concurrent approvals queue and exactly one applies the decision. The person who
    lodged the objection is refused, and so is a person who already approved this decision.
    """
    objection = get(session=session, objection_id=objection_id, for_update=True)
    approvals.check_not_maker(subject=f"objection:{objection.id}", maker=objection.lodged_by, approver=approver)
    decision = _decision(objection, outcome, income)
    subject = _subject(objection, decision)
    assessment = _decidable(session, objection, decision)
    fingerprint = _fingerprint(objection, assessment, decision)
    tally = approvals.approve(
        session=session,
        action=APPROVAL_ACTION,
        subject=subject,
        fingerprint=fingerprint,
        maker=objection.lodged_by,
        approver=approver,
        required=required,
    )
    if tally.reached:
        _apply(session, objection, assessment, decision, note=note, country=country)
        approvers = approvals.approvers_of(
            session=session, action=APPROVAL_ACTION, subject=subject, fingerprint=fingerprint
        )
        approvals.void_other_decisions(
            session=session, action=APPROVAL_ACTION, prefix=_prefix(objection), decided=subject, actor=approver.actor
        )
        _audit(session, objection, approver.actor, f"tax.objection.{decision.outcome.value}", approvers=approvers)
    return Deciding(objection, decision, tally, pending_decisions(session=session, objection=objection))


def pending_decisions(*, session: Session, objection: Objection) -> list[Pending]:
    """The decisions awaiting more approvals of the objection as it is now (none once it is decided)."""
    if objection.state not in OPEN:
        return []
    assessment = session.get(Assessment, objection.assessment_id)
    prefix = _prefix(objection)
    pending = []
    for subject, fingerprint, count in approvals.live_by_subject(
        session=session, action=APPROVAL_ACTION, prefix=prefix
    ):
        decision = Decision.of_key(subject.removeprefix(prefix))
        if fingerprint == _fingerprint(objection, assessment, decision):  # an older version's approvals count 0
            pending.append(Pending(decision, count))
    return pending


def _decision(objection: Objection, outcome: str, income: int | None) -> Decision:
    """The decision asked for, its income resolved (allowed in full: the claimed income), or refused."""
    decision = ObjectionState(outcome)
    if decision not in DECISIONS:
        raise Unprocessable(
            _("'{outcome}'; allowed: {allowed}").format(outcome=outcome, allowed=", ".join(DECISIONS)), field="outcome"
        )
    if decision == ObjectionState.DISALLOWED:
        if income is not None:
            raise Unprocessable(_("a disallowed objection keeps the assessment; give no income"), field="income")
    elif decision == ObjectionState.ALLOWED:
        income = objection.claimed_income if income is None else income
        if income is None or income != objection.claimed_income:
            raise Unprocessable(
                _("allowed in full means the income the taxpayer claimed; use partially_allowed for another figure"),
                field="income",
            )
    elif income is None:
        raise Unprocessable(_("a partially allowed objection needs the income decided"), field="income")
    return Decision(decision, income)


def _decidable(session: Session, objection: Objection, decision: Decision) -> Assessment:
    """The assessment objected to, when the objection can take the decision now."""
    if objection.state != ObjectionState.UNDER_REVIEW:
        raise Conflict(
            _("objection {objection_id} is {state}; it must be under review to decide").format(
                objection_id=objection.id, state=objection.state
            ),
            field="state",
        )
    assessment = session.get(Assessment, objection.assessment_id)
    assert assessment is not None
    if decision.outcome != ObjectionState.DISALLOWED and assessment.state != AssessmentState.CURRENT:
        raise Conflict(
            _("assessment {assessment_id} was superseded since the objection; decide on the new one").format(
                assessment_id=assessment.id
            )
        )
    return assessment


def _apply(
    session: Session,
    objection: Objection,
    assessment: Assessment,
    decision: Decision,
    *,
    note: str,
    country: LoadedCountry,
) -> None:
    """Record the decision; allowing re-assesses with the income decided."""
    if decision.outcome != ObjectionState.DISALLOWED:
        new = service.amend_return(
            session=session,
            tin=assessment.tin,
            kind=ReturnKind.INCOME,
            period=assessment.period or str(assessment.year),
            income=decision.income,
            country=country,
            actor=f"objection:{objection.id}",
        )
        objection.new_assessment_id = new.id
    objection.state = decision.outcome
    objection.decided_income = decision.income
    objection.decision_note = note
    objection.decided_at = datetime.now(UTC)
    session.flush()


def _prefix(objection: Objection) -> str:
    """What the subjects of every decision on the objection start with."""
    return f"objection:{objection.id}:"


def _subject(objection: Objection, decision: Decision) -> str:
    return f"{_prefix(objection)}{decision.key}"


def _fingerprint(objection: Objection, assessment: Assessment, decision: Decision) -> str:
    """The objection and the assessment objected to as they are now, and the decision: what the officers approve."""
    content = {
        "objection": [objection.id, objection.tin, objection.state, objection.grounds, objection.claimed_income],
        "assessment": [assessment.id, assessment.state, assessment.taxable, assessment.tax_due, assessment.currency],
        "decision": [decision.outcome.value, decision.income],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _day(moment: datetime) -> date:
    return as_utc(moment).date()


def _audit(session: Session, objection: Objection, actor: str, action: str, **more: Any) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        subject=f"taxpayer:{objection.tin}",
        detail={
            "objection_id": objection.id,
            "assessment_id": objection.assessment_id,
            "new_assessment_id": objection.new_assessment_id,
            **more,
        },
    )
