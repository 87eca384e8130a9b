from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.audit import events_for, verify_chain
from ....core.models import AuditEvent
from ..applications import Application
from ..models import Person
from ..schemas import EnrolmentRequest
from ..service import content_hash, hash_request

ENROL = "identity:enrol"
READ = "identity:read"


def enrolment(application_id: str = "app-00000001", **changes: object) -> dict:
    body = {
        "application_id": application_id,
        "given_name": "Amina",
        "family_name": "Wanjiru",
        "date_of_birth": "1985-04-12",
        "sex": "F",
    }
    body.update(changes)
    return body


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers(ENROL, READ)


def test_enrolment_issues_a_checksummed_id_that_can_be_read_back(client: TestClient, headers: dict) -> None:
    response = client.post("/identity/enrolments", json=enrolment(), headers=headers)
    assert response.status_code == 201, response.text
    national_id = response.json()["national_id"]
    assert response.json()["status"] == "issued"
    person = client.post("/identity/persons/lookup", json={"national_id": national_id}, headers=headers)
    assert person.status_code == 200
    assert person.json()["family_name"] == "Wanjiru"
    status = client.get("/identity/enrolments/app-00000001", headers=headers)
    assert status.json()["national_id"] == national_id


def test_repeating_an_application_returns_the_same_id(client: TestClient, headers: dict, session: Session) -> None:
    first = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()
    again = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()
    assert again == first
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_reusing_an_application_id_for_someone_else_is_a_conflict(client: TestClient, headers: dict) -> None:
    client.post("/identity/enrolments", json=enrolment(), headers=headers)
    response = client.post("/identity/enrolments", json=enrolment(given_name="Other"), headers=headers)
    assert response.status_code == 409
    assert "application_id" in response.json()["detail"]


def test_likely_duplicate_is_held_for_adjudication_with_candidates(client: TestClient, headers: dict) -> None:
    issued = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()
    response = client.post(
        "/identity/enrolments",
        json=enrolment("app-00000002", given_name="AMINA ", family_name="Wanjirú"),
        headers=headers,
    )
    assert response.status_code == 202
    assert response.json()["status"] == "held_for_adjudication"
    assert response.json()["candidates"] == [issued["national_id"]]
    assert response.json()["national_id"] is None


def test_same_name_different_birthday_is_not_a_duplicate(client: TestClient, headers: dict) -> None:
    client.post("/identity/enrolments", json=enrolment(), headers=headers)
    response = client.post(
        "/identity/enrolments", json=enrolment("app-00000002", date_of_birth="1990-01-01"), headers=headers
    )
    assert response.json()["status"] == "issued"


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"sex": "Q"}, "body.sex"),
        ({"date_of_birth": "2999-01-01"}, "body.date_of_birth"),
        ({"date_of_birth": "not-a-date"}, "body.date_of_birth"),
        ({"given_name": ""}, "body.given_name"),
        ({"unexpected": 1}, "body.unexpected"),
    ],
)
def test_malformed_requests_are_problems_naming_the_field(
    client: TestClient, headers: dict, changes: dict, location: str
) -> None:
    response = client.post("/identity/enrolments", json=enrolment(**changes), headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert location in [error["location"] for error in response.json()["errors"]]


def test_bad_phone_and_unknown_address_level_are_refused(client: TestClient, headers: dict, session: Session) -> None:
    phone = client.post("/identity/enrolments", json=enrolment(phone="12"), headers=headers)
    assert phone.status_code == 422
    assert phone.json()["detail"].startswith("phone:")
    address = client.post("/identity/enrolments", json=enrolment(address={"planet": "Earth"}), headers=headers)
    assert address.status_code == 422
    assert "planet" in address.json()["detail"]
    assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_wrong_check_digit_is_refused_before_lookup(client: TestClient, headers: dict) -> None:
    national_id = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()["national_id"]
    wrong = national_id[:-1] + str((int(national_id[-1]) + 1) % 10)
    response = client.post("/identity/persons/lookup", json={"national_id": wrong}, headers=headers)
    assert response.status_code == 422
    assert "check digit" in response.json()["detail"]


def test_enrolment_is_audited_in_the_chain(client: TestClient, headers: dict, session: Session) -> None:
    national_id = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()["national_id"]
    events = events_for(session=session, subject=f"person:{national_id}")
    assert [e.action for e in events] == ["identity.enrolment.issued"]
    assert events[0].actor == "partner:Test partner"
    assert verify_chain(session=session).intact
    # The partner key the fixture issued is an audit event too (partner.created); one enrolment event.
    identity_events = select(func.count()).select_from(AuditEvent).where(AuditEvent.action.startswith("identity."))
    assert session.scalar(identity_events) == 1


def test_enrolment_needs_the_enrol_scope(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> None:
    response = client.post("/identity/enrolments", json=enrolment(), headers=api_headers(READ))
    assert response.status_code == 403


def test_an_application_is_stored_and_hashed_as_its_request_body_was() -> None:
    body = EnrolmentRequest(
        application_id="APP-00000042",
        given_name="Amina",
        family_name="Njeri",
        date_of_birth="1990-05-17",
        sex="F",
        address={"county": "Nairobi"},
        other_names={"Arab": {"given_name": "أمينة", "family_name": "نجيري"}},
    )
    application = body.as_application()
    assert application.demographics() == body.model_dump(mode="json")
    assert Application.from_demographics(application.demographics()) == application
    without_optional = {k: v for k, v in body.model_dump(mode="json").items() if k != "biometric_ref"}
    assert hash_request(application) == content_hash(without_optional)
