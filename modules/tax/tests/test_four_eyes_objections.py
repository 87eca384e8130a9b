"""Four-eyes decisions on objections: a decision takes effect once enough distinct officers, never
the one who lodged the objection, approved that same decision (outcome and income) on the same
version of the objection."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ....app import create_app
from ....core.approvals import Signatory
from ....core.country import LoadedCountry
from ....core.errors import Problem
from ....core.models import Approval, AuditEvent
from ....core.settings import Settings
from .. import objections
from ..models import Objection
from ..scopes import DECIDE_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from .helpers import CHECKERS, LODGER, a_year
from .test_objections import an_assessment

pytestmark = pytest.mark.country_independent  # four-eyes on objections: the rules are the same in every country

DISALLOW = {"outcome": "disallowed", "note": "no grounds"}


def _under_review(session: Session, country: LoadedCountry) -> Objection:
    assessment = an_assessment(session, country, external_id="4EYES")
    objection = objections.lodge(
        session=session, assessment_id=assessment.id, grounds="wrong", claimed_income=0, country=country, maker=LODGER
    )
    objections.review(session=session, objection_id=objection.id, actor="t")
    session.commit()
    return objection


def _decide(session: Session, country: LoadedCountry, objection: Objection, approver: Signatory, **decision):
    decision = {"outcome": "disallowed", "income": None, **decision}
    return objections.decide(
        session=session,
        objection_id=objection.id,
        note="n",
        country=country,
        approver=approver,
        required=2,
        **decision,
    )


def test_the_lodger_cannot_decide_in_any_role(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    with pytest.raises(Problem) as refused:
        _decide(session, country, objection, Signatory(person=LODGER.person, actor="x", role="tax.officer"))
    assert (refused.value.kind, refused.value.status, refused.value.field) == ("maker-cannot-approve", 403, "approver")


def test_one_person_cannot_approve_twice_even_in_another_role(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    _decide(session, country, objection, CHECKERS[0])
    other_role = Signatory(person=CHECKERS[0].person, actor="staff:officer2 (tax.head)", role="tax.head")
    with pytest.raises(Problem) as twice:
        _decide(session, country, objection, other_role)
    assert twice.value.kind == "already-approved"
    assert objection.state == "under_review"


def test_the_decision_takes_effect_at_the_second_approval(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    first = _decide(session, country, objection, CHECKERS[0], outcome="allowed", income=0)
    assert (first.objection.state, first.tally.approvals, first.tally.required) == ("under_review", 1, 2)
    assert [(p.decision.outcome, p.decision.income, p.approvals) for p in first.pending] == [("allowed", 0, 1)]
    second = _decide(session, country, objection, CHECKERS[1], outcome="allowed", income=0)
    assert (second.objection.state, second.objection.decided_income, second.pending) == ("allowed", 0, [])
    assert second.objection.new_assessment_id is not None


def test_another_decision_or_amount_waits_beside_the_first(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    _decide(session, country, objection, CHECKERS[0], outcome="partially_allowed", income=1000)
    other = _decide(session, country, objection, CHECKERS[1], outcome="partially_allowed", income=2000)
    assert other.objection.state == "under_review"
    assert [(p.decision.income, p.approvals) for p in other.pending] == [(1000, 1), (2000, 1)]
    decided = _decide(session, country, objection, CHECKERS[2], outcome="partially_allowed", income=1000)
    assert (decided.objection.state, decided.objection.decided_income) == ("partially_allowed", 1000)
    voided = session.scalars(select(Approval.subject).where(Approval.voided_at.is_not(None))).all()
    assert voided == [f"objection:{objection.id}:partially_allowed:2000"]


@pytest.mark.parametrize("required", [1, 3])
def test_the_required_number_is_configurable(session: Session, country: LoadedCountry, required: int) -> None:
    objection = _under_review(session, country)
    states = []
    for checker in CHECKERS[:required]:
        result = objections.decide(
            session=session,
            objection_id=objection.id,
            outcome="disallowed",
            income=None,
            note="n",
            country=country,
            approver=checker,
            required=required,
        )
        states.append(result.objection.state)
    assert states == ["under_review"] * (required - 1) + ["disallowed"]


def test_a_change_to_the_objection_voids_the_approvals_given_to_it(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    _decide(session, country, objection, CHECKERS[0])
    session.execute(update(Objection).where(Objection.id == objection.id).values(grounds="other grounds"))
    session.expire_all()
    assert objections.pending_decisions(session=session, objection=session.get(Objection, objection.id)) == []
    after = _decide(session, country, objection, CHECKERS[1])
    assert (after.objection.state, after.tally.approvals) == ("under_review", 1)
    assert len(session.scalars(select(Approval).where(Approval.voided_at.is_not(None))).all()) == 1


def test_the_audit_names_each_officer_and_role(session: Session, country: LoadedCountry) -> None:
    objection = _under_review(session, country)
    for checker in CHECKERS[:2]:
        _decide(session, country, objection, checker)
    session.commit()
    steps = ("tax.objection.lodged", "approval.given", "tax.objection.disallowed")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("tax.objection.lodged", LODGER.actor),
        ("approval.given", CHECKERS[0].actor),
        ("approval.given", CHECKERS[1].actor),
        ("tax.objection.disallowed", CHECKERS[1].actor),
    ]
    assert [(e.detail["person"], e.detail["role"]) for e in events[1:3]] == [
        ("staff:2", "tax.officer"),
        ("staff:3", "tax.officer"),
    ]
    assert [(a["person"], a["role"]) for a in events[-1].detail["approvers"]] == [
        ("staff:2", "tax.officer"),
        ("staff:3", "tax.officer"),
    ]


def _lodged_by_api(client: TestClient, filer: dict, country: LoadedCountry) -> int:
    tin = client.post(
        "/tax/taxpayers", json={"kind": "individual", "name": "O", "external_id": "4EYES-API"}, headers=filer
    ).json()["tin"]
    filed = client.post(
        "/tax/returns",
        json={"tin": tin, "year": a_year(country), "income": 10**9, "currency": country.profile.currency},
        headers=filer,
    ).json()
    lodged = client.post("/tax/objections", json={"assessment_id": filed["id"], "grounds": "wrong"}, headers=filer)
    return lodged.json()["id"]


def test_the_api_refuses_the_lodger_and_answers_the_count(
    client: TestClient, api_headers: Callable[..., dict[str, str]], country: LoadedCountry, settings: Settings
) -> None:
    filer = api_headers(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE, DECIDE_SCOPE)
    objection_id = _lodged_by_api(client, filer, country)
    url = f"/tax/objections/{objection_id}/decision"
    client.post(f"/tax/objections/{objection_id}/review", headers=filer)
    assert client.post(url, json=DISALLOW, headers=filer).status_code == 403
    first = client.post(url, json=DISALLOW, headers=api_headers(DECIDE_SCOPE)).json()
    assert (first["state"], first["approvals"], first["approvals_required"]) == ("under_review", 1, 2)
    assert first["pending"] == [{"outcome": "disallowed", "income": None, "approvals": 1}]
    assert client.get(f"/tax/objections/{objection_id}", headers=filer).json()["pending"] == first["pending"]
    one = settings.model_copy(update={"approvals_required": {objections.APPROVAL_ACTION: 1}})
    with TestClient(create_app(one), headers={"Accept-Language": "en"}) as single:
        decided = single.post(url, json=DISALLOW, headers=api_headers(DECIDE_SCOPE)).json()
    assert (decided["state"], decided["approvals"], decided["approvals_required"]) == ("disallowed", 2, 1)
