"""The four-eyes machinery on its own: any action, any subject, versions named by a fingerprint."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import approvals
from ..core.approvals import DEFAULT_REQUIRED, Signatory, required_for
from ..core.callers import Caller
from ..core.errors import Problem
from ..core.models import Approval, AuditEvent

pytestmark = pytest.mark.country_independent  # the four-eyes machinery reads no country data

ACTION, SUBJECT = "test.thing.approve", "thing:1"
MAKER = "staff:1"
AMINA = Caller(kind="staff", id=7, name="amina", role="registrar")
JUMA = Caller(kind="staff", id=8, name="juma", role="registrar")


def _approve(session: Session, caller: Caller, fingerprint: str = "v1", required: int = 2) -> approvals.Tally:
    return approvals.approve(
        session=session,
        action=ACTION,
        subject=SUBJECT,
        fingerprint=fingerprint,
        maker=MAKER,
        approver=Signatory.of(caller),
        required=required,
    )


def test_two_distinct_people_reach_the_default_of_two(session: Session) -> None:
    first, second = _approve(session, AMINA), _approve(session, JUMA)
    assert (first.approvals, first.reached, second.approvals, second.reached) == (1, False, 2, True)
    given = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "approval.given").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor, e.detail["person"]) for e in given] == [
        ("staff:amina (registrar)", "staff:7"),
        ("staff:juma (registrar)", "staff:8"),
    ]


def test_the_maker_is_refused_whatever_the_role(session: Session) -> None:
    maker = Caller(kind="staff", id=1, name="maker", role="supervisor")
    with pytest.raises(Problem, match="someone else must approve") as refused:
        _approve(session, maker)
    assert (refused.value.status, refused.value.kind, refused.value.field) == (403, "maker-cannot-approve", "approver")
    assert session.scalars(select(Approval)).all() == []


def test_one_person_counts_once_across_roles(session: Session) -> None:
    _approve(session, AMINA)
    with pytest.raises(Problem, match="already approved") as refused:
        _approve(session, Caller(kind="staff", id=7, name="amina", role="auditor"))
    assert (refused.value.status, refused.value.kind) == (409, "already-approved")


def test_a_new_version_voids_the_approvals_of_the_old_one(session: Session) -> None:
    _approve(session, AMINA, "v1")
    tally = _approve(session, JUMA, "v2")
    assert (tally.approvals, tally.reached) == (1, False)
    assert approvals.tally_of(session=session, action=ACTION, subject=SUBJECT, fingerprint="v1") == 0
    assert _approve(session, AMINA, "v2").reached  # a voided approval does not stop its person approving again
    voided = session.scalars(select(AuditEvent).where(AuditEvent.action == "approval.voided")).all()
    assert [(e.subject, e.detail["voided"]) for e in voided] == [(SUBJECT, 1)]


def test_the_required_number_comes_from_the_settings_or_the_default() -> None:
    assert required_for({ACTION: 3}, ACTION) == 3
    assert required_for({ACTION: 3}, "other.action") == DEFAULT_REQUIRED == 2


def test_an_operator_is_named_by_the_claim_and_the_system_user() -> None:
    operator = Signatory.operator("amina")
    assert operator.person == "operator:amina" and operator.role is None
    assert operator.actor.startswith("operator:amina (os:") and operator.actor.endswith(")")


def test_decisions_on_one_object_are_listed_each_with_its_approvals(session: Session) -> None:
    for subject, caller, fingerprint in [
        ("case:1_a:issue", AMINA, "i"),
        ("case:1_a:reject", JUMA, "r"),
        ("case:1_a:issue", JUMA, "i"),
        ("case:1xa:issue", AMINA, "i"),  # `_` is not a wildcard: another object's decision
    ]:
        approvals.approve(
            session=session,
            action=ACTION,
            subject=subject,
            fingerprint=fingerprint,
            maker=MAKER,
            approver=Signatory.of(caller),
            required=3,
        )
    listed = approvals.live_by_subject(session=session, action=ACTION, prefix="case:1_a:")
    assert listed == [("case:1_a:issue", "i", 2), ("case:1_a:reject", "r", 1)]
    approvers = approvals.approvers_of(session=session, action=ACTION, subject="case:1_a:issue", fingerprint="i")
    assert approvers == [
        {"person": "staff:7", "actor": "staff:amina (registrar)", "role": "registrar"},
        {"person": "staff:8", "actor": "staff:juma (registrar)", "role": "registrar"},
    ]


def test_the_decision_that_takes_effect_voids_the_others(session: Session) -> None:
    for subject, caller in [("case:2:issue", AMINA), ("case:2:reject", JUMA), ("case:20:reject", JUMA)]:
        approvals.approve(
            session=session,
            action=ACTION,
            subject=subject,
            fingerprint="v",
            maker=MAKER,
            approver=Signatory.of(caller),
            required=2,
        )
    voided = approvals.void_other_decisions(
        session=session, action=ACTION, prefix="case:2:", decided="case:2:issue", actor="staff:amina (registrar)"
    )
    assert voided == 1
    live = session.scalars(select(Approval.subject).where(Approval.voided_at.is_(None)).order_by(Approval.id)).all()
    assert live == ["case:2:issue", "case:20:reject"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "approval.voided")).one()
    assert (event.subject, event.detail["reason"]) == ("case:2:issue", "another decision took effect")


def test_a_replaced_subject_loses_every_live_approval(session: Session) -> None:
    _approve(session, AMINA)
    other = approvals.approve(
        session=session,
        action=ACTION,
        subject="thing:2",
        fingerprint="v1",
        maker=MAKER,
        approver=Signatory.of(JUMA),
        required=2,
    )
    assert approvals.void_replaced(session=session, action=ACTION, subject=SUBJECT, actor="staff:1") == 1
    assert approvals.tally_of(session=session, action=ACTION, subject=SUBJECT, fingerprint="v1") == 0
    assert other.approvals == approvals.tally_of(session=session, action=ACTION, subject="thing:2", fingerprint="v1")
    assert approvals.void_replaced(session=session, action=ACTION, subject=SUBJECT, actor="staff:1") == 0
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "approval.voided")).one()
    assert (event.subject, event.detail["reason"]) == (SUBJECT, "replaced")
