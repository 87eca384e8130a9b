"""Objections: a taxpayer contests an assessment within the legal window; a decision re-assesses.

States: lodged -> under_review -> allowed | partially_allowed | disallowed. An allowed
or partially allowed objection files the next version of the return with the income
decided (the taxpayer's claim when allowed in full) and re-assesses it, superseding the
assessment objected to; a disallowed one changes nothing. The window is
`tax.objections.window_days`, the value in force on the day of the assessment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.i18n import _
from ...core.schemas import as_utc
from . import service
from .models import Assessment, AssessmentState, Objection, ObjectionState, ReturnKind

OPEN = (ObjectionState.LODGED, ObjectionState.UNDER_REVIEW)
DECISIONS = (ObjectionState.ALLOWED, ObjectionState.PARTIALLY_ALLOWED, ObjectionState.DISALLOWED)


def lodge(
    *,
    session: Session,
    assessment_id: int,
    grounds: str,
    claimed_income: int | None,
    country: LoadedCountry,
    actor: str,
    today: date | None = None,
) -> Objection:
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
    )
    session.add(objection)
    session.flush()
    _audit(session, objection, actor, "tax.objection.lodged")
    return objection


def get(*, session: Session, objection_id: int) -> Objection:
    objection = session.get(Objection, objection_id)
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


def decide(
    *,
    session: Session,
    objection_id: int,
    outcome: str,
    income: int | None,
    note: str,
    country: LoadedCountry,
    actor: str,
) -> Objection:
    objection = get(session=session, objection_id=objection_id)
    if objection.state != ObjectionState.UNDER_REVIEW:
        raise Conflict(
            _("objection {objection_id} is {state}; it must be under review to decide").format(
                objection_id=objection_id, state=objection.state
            ),
            field="state",
        )
    decision = ObjectionState(outcome)
    if decision not in DECISIONS:
        raise Unprocessable(
            _("'{outcome}'; allowed: {allowed}").format(outcome=outcome, allowed=", ".join(DECISIONS)), field="outcome"
        )
    assessment = session.get(Assessment, objection.assessment_id)
    assert assessment is not None
    if decision == ObjectionState.DISALLOWED:
        if income is not None:
            raise Unprocessable(_("a disallowed objection keeps the assessment; give no income"), field="income")
    else:
        if decision == ObjectionState.ALLOWED:
            income = objection.claimed_income if income is None else income
            if income is None or income != objection.claimed_income:
                raise Unprocessable(
                    _(
                        "allowed in full means the income the taxpayer claimed; "
                        "use partially_allowed for another figure"
                    ),
                    field="income",
                )
        elif income is None:
            raise Unprocessable(_("a partially allowed objection needs the income decided"), field="income")
        if assessment.state != AssessmentState.CURRENT:
            raise Conflict(
                _("assessment {assessment_id} was superseded since the objection; decide on the new one").format(
                    assessment_id=assessment.id
                )
            )
        new = service.amend_return(
            session=session,
            tin=assessment.tin,
            kind=ReturnKind.INCOME,
            period=assessment.period or str(assessment.year),
            income=income,
            country=country,
            actor=f"objection:{objection.id}",
        )
        objection.new_assessment_id = new.id
    objection.state = decision
    objection.decided_income = income
    objection.decision_note = note
    objection.decided_at = datetime.now(UTC)
    session.flush()
    _audit(session, objection, actor, f"tax.objection.{decision.value}")
    return objection


def _day(moment: datetime) -> date:
    return as_utc(moment).date()


def _audit(session: Session, objection: Objection, actor: str, action: str) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        subject=f"taxpayer:{objection.tin}",
        detail={
            "objection_id": objection.id,
            "assessment_id": objection.assessment_id,
            "new_assessment_id": objection.new_assessment_id,
        },
    )
