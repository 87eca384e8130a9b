"""Four-eyes adjudication: a decision on a held enrolment takes effect once enough distinct people,
never the one who submitted it, approved that same decision on the same version of the application."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ....app import create_app
from ....core.models import Approval, AuditEvent
from ....core.settings import Settings
from ..adjudication import ACTION
from ..models import Enrolment
from .test_adjudication import hold

pytestmark = pytest.mark.country_independent  # four-eyes on held enrolments: the rules are the same in every country

URL = "/identity/enrolments/app-00000002/adjudication"
ISSUE = {"decision": "issue", "note": "twins"}


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers("identity:enrol", "identity:read", "identity:admin")


@pytest.fixture
def checkers(api_headers: Callable[..., dict[str, str]]) -> list[dict[str, str]]:
    return [api_headers("identity:read", "identity:admin") for _ in range(3)]


def test_the_partner_who_enrolled_cannot_adjudicate(client: TestClient, headers: dict) -> None:
    hold(client, headers)
    response = client.post(URL, json=ISSUE, headers=headers)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/maker-cannot-approve")


def test_one_approval_is_not_enough_and_says_what_is_pending(client: TestClient, headers, checkers) -> None:
    hold(client, headers)
    first = client.post(URL, json=ISSUE, headers=checkers[0]).json()
    assert (first["status"], first["national_id"]) == ("held_for_adjudication", None)
    assert (first["approvals"], first["approvals_required"]) == (1, 2)
    assert first["pending"] == [{"decision": "issue", "duplicate_of": None, "approvals": 1}]
    shown = client.get("/identity/enrolments/app-00000002", headers=headers).json()
    assert shown["pending"] == first["pending"]


def test_the_same_partner_cannot_approve_twice(client: TestClient, headers, checkers) -> None:
    hold(client, headers)
    client.post(URL, json=ISSUE, headers=checkers[0])
    again = client.post(URL, json=ISSUE, headers=checkers[0])
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already-approved")
    assert client.get("/identity/enrolments/app-00000002", headers=headers).json()["status"] == "held_for_adjudication"


def test_a_different_decision_waits_beside_the_first(client: TestClient, session: Session, headers, checkers) -> None:
    issued, _held = hold(client, headers)
    client.post(URL, json=ISSUE, headers=checkers[0])
    reject = {"decision": "reject_duplicate", "duplicate_of": issued}
    other = client.post(URL, json=reject, headers=checkers[1]).json()
    assert (other["status"], other["approvals"]) == ("held_for_adjudication", 1)
    assert other["pending"] == [
        {"decision": "issue", "duplicate_of": None, "approvals": 1},
        {"decision": "reject_duplicate", "duplicate_of": issued, "approvals": 1},
    ]
    decided = client.post(URL, json=ISSUE, headers=checkers[2]).json()
    assert (decided["status"], decided["approvals"], decided["pending"]) == ("issued", 2, [])
    live = session.scalars(select(Approval.subject).where(Approval.voided_at.is_(None))).all()
    assert live == ["enrolment:app-00000002:issue"] * 2  # the reject decision's approval is voided


@pytest.mark.parametrize("required", [1, 3])
def test_the_required_number_is_configurable(
    settings: Settings, headers, checkers, client: TestClient, required: int
) -> None:
    hold(client, headers)
    configured = settings.model_copy(update={"approvals_required": {ACTION: required}})
    with TestClient(create_app(configured), headers={"Accept-Language": "en"}) as app:
        answers = [app.post(URL, json=ISSUE, headers=checker).json() for checker in checkers[:required]]
    assert [a["status"] for a in answers] == ["held_for_adjudication"] * (required - 1) + ["issued"]
    assert answers[-1]["approvals_required"] == required


def test_a_change_to_the_application_voids_the_approvals_given_to_it(
    client: TestClient, session: Session, headers, checkers
) -> None:
    hold(client, headers)
    client.post(URL, json=ISSUE, headers=checkers[0])
    enrolment = session.scalar(select(Enrolment).where(Enrolment.application_id == "app-00000002"))
    changed = {**enrolment.demographics, "phone": "+254722000999"}
    session.execute(update(Enrolment).where(Enrolment.id == enrolment.id).values(demographics=changed))
    session.commit()
    assert client.get("/identity/enrolments/app-00000002", headers=headers).json()["pending"] == []
    after = client.post(URL, json=ISSUE, headers=checkers[1]).json()
    assert (after["status"], after["approvals"]) == ("held_for_adjudication", 1)
    session.expire_all()
    voided = session.scalars(select(Approval).where(Approval.voided_at.is_not(None))).all()
    assert len(voided) == 1


def test_the_audit_names_each_adjudicator(client: TestClient, session: Session, headers, checkers) -> None:
    hold(client, headers)
    for checker in checkers[:2]:
        client.post(URL, json=ISSUE, headers=checker)
    steps = ("identity.enrolment.held_for_adjudication", "approval.given", "identity.adjudication.issue")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps)).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == [steps[0], steps[1], steps[1], steps[2]]
    persons = [e.detail["person"] for e in events if e.action == "approval.given"]
    assert len(set(persons)) == 2
    assert all(person.startswith("partner:") for person in persons)
    assert [a["person"] for a in events[-1].detail["approvers"]] == persons
    assert all("role" in a for a in events[-1].detail["approvers"])
