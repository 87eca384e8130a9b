from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from ..biometrics import LocalHashAdapter, load_adapter
from .test_enrolment import enrolment

pytestmark = pytest.mark.country_independent  # holding and deciding is the same in every country


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return api_headers("identity:enrol", "identity:read", "identity:admin")


@pytest.fixture
def adjudicators(api_headers: Callable[..., dict[str, str]]) -> list[dict[str, str]]:
    """Two partners other than the enrolling one: the default four-eyes count of an adjudication."""
    return [api_headers("identity:read", "identity:admin") for _ in range(2)]


def decide(client: TestClient, application_id: str, body: dict, adjudicators: list[dict]) -> Response:
    """Each adjudicator approves the same decision; the last answer."""
    for approver in adjudicators:
        response = client.post(f"/identity/enrolments/{application_id}/adjudication", json=body, headers=approver)
        assert response.status_code == 200, response.text
    return response


def hold(client: TestClient, headers: dict) -> tuple[str, dict]:
    issued = client.post("/identity/enrolments", json=enrolment(), headers=headers).json()["national_id"]
    held = client.post("/identity/enrolments", json=enrolment("app-00000002", given_name="Amina "), headers=headers)
    assert held.status_code == 202
    return issued, held.json()


def test_adjudicators_issue_a_held_enrolment(client: TestClient, headers: dict, adjudicators: list) -> None:
    issued, _held = hold(client, headers)
    response = decide(client, "app-00000002", {"decision": "issue", "note": "twins"}, adjudicators)
    assert response.json()["status"] == "issued"
    new_id = response.json()["national_id"]
    assert new_id and new_id != issued
    assert client.post("/identity/persons/lookup", json={"national_id": new_id}, headers=headers).status_code == 200
    assert client.get("/identity/enrolments/app-00000002", headers=headers).json()["national_id"] == new_id


def test_adjudicators_reject_a_duplicate_of_a_candidate(client: TestClient, headers: dict, adjudicators: list) -> None:
    issued, _held = hold(client, headers)
    url = "/identity/enrolments/app-00000002/adjudication"
    not_candidate = client.post(
        url, json={"decision": "reject_duplicate", "duplicate_of": "6497869071"}, headers=adjudicators[0]
    )
    assert not_candidate.status_code == 422
    response = decide(client, "app-00000002", {"decision": "reject_duplicate", "duplicate_of": issued}, adjudicators)
    assert response.json()["status"] == "rejected_duplicate"
    assert response.json()["national_id"] is None
    again = client.post(url, json={"decision": "issue"}, headers=adjudicators[1])
    assert again.status_code == 409


def test_adjudication_needs_the_admin_scope(client: TestClient, headers: dict, api_headers) -> None:
    hold(client, headers)
    response = client.post(
        "/identity/enrolments/app-00000002/adjudication",
        json={"decision": "issue"},
        headers=api_headers("identity:enrol"),
    )
    assert response.status_code == 403
    unknown = client.post("/identity/enrolments/nope-0000/adjudication", json={"decision": "issue"}, headers=headers)
    assert unknown.status_code == 404


def test_same_biometric_under_another_name_is_held(client: TestClient, headers: dict) -> None:
    first = client.post("/identity/enrolments", json=enrolment(biometric_ref="finger:abc123456"), headers=headers)
    assert first.status_code == 201
    other = enrolment(
        "app-00000002",
        given_name="Zawadi",
        family_name="Otieno",
        date_of_birth="1990-02-02",
        biometric_ref="finger:abc123456",
    )
    response = client.post("/identity/enrolments", json=other, headers=headers)
    assert response.status_code == 202
    assert response.json()["candidates"] == [first.json()["national_id"]]
    different = {**other, "application_id": "app-00000003", "biometric_ref": "finger:zzz999999"}
    assert client.post("/identity/enrolments", json=different, headers=headers).status_code == 201


def test_local_adapter_inserts_and_identifies(session: Session) -> None:
    adapter = load_adapter("local")
    assert isinstance(adapter, LocalHashAdapter)
    adapter.insert(session=session, national_id="6497869071", template_ref="face:1")
    session.flush()
    assert adapter.identify(session=session, template_ref="face:1") == ["6497869071"]
    assert adapter.identify(session=session, template_ref="face:2") == []
    with pytest.raises(ValueError, match=r"package\.module:Class"):
        load_adapter("nonsense")


def test_names_in_other_scripts_are_kept(client: TestClient, headers: dict) -> None:
    body = enrolment(other_names={"Arab": {"given_name": "أمينة", "family_name": "وانجيرو"}})
    national_id = client.post("/identity/enrolments", json=body, headers=headers).json()["national_id"]
    person = client.post("/identity/persons/lookup", json={"national_id": national_id}, headers=headers).json()
    assert person["other_names"] == {"Arab": {"given_name": "أمينة", "family_name": "وانجيرو"}}
    bad = client.post(
        "/identity/enrolments",
        json=enrolment("app-00000009", other_names={"arabic": {"given_name": "a", "family_name": "b"}}),
        headers=headers,
    )
    assert bad.status_code == 422
