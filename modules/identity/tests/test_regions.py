"""A registrar or adjudicator granted for some regions acts only on enrolments and persons of those regions."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from .conftest import ADDRESS, LEVELS
from .test_enrolment import enrolment
from .test_queues import URL, hold

COAST = {LEVELS[0]: "Coast"}
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def headers(api_headers: Headers) -> dict[str, str]:
    return api_headers("identity:enrol", "identity:read", "identity:admin")


def test_a_registrar_enrols_and_reads_applicants_of_their_region_only(
    client: TestClient, staff_headers: Headers
) -> None:
    registrar = staff_headers("identity.registrar", "Capital")
    issued = client.post("/identity/enrolments", json=enrolment(address=ADDRESS), headers=registrar)
    assert issued.status_code == 201, issued.text
    lookup = {"national_id": issued.json()["national_id"]}
    assert client.post("/identity/persons/lookup", json=lookup, headers=registrar).status_code == 200
    assert client.get("/identity/enrolments/app-00000001", headers=registrar).status_code == 200

    elsewhere = staff_headers("identity.registrar", "Coast")
    refused = client.post("/identity/persons/lookup", json=lookup, headers=elsewhere)
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "the role 'identity.registrar' is limited to Coast and does not reach the region 'Capital'"
    )
    assert client.get("/identity/enrolments/app-00000001", headers=elsewhere).status_code == 403
    coast = client.post("/identity/enrolments", json=enrolment("app-00000002", address=COAST), headers=registrar)
    assert coast.status_code == 403
    assert client.get("/identity/enrolments/app-00000002", headers=registrar).status_code == 404  # nothing written


def test_an_applicant_without_a_region_is_enrolled_by_a_registrar_granted_everywhere_only(
    client: TestClient, staff_headers: Headers
) -> None:
    regional = client.post("/identity/enrolments", json=enrolment(), headers=staff_headers("identity.registrar", "R"))
    assert regional.status_code == 403
    assert "does not reach a record without a region" in regional.json()["detail"]
    national = client.post("/identity/enrolments", json=enrolment(), headers=staff_headers("identity.registrar"))
    assert national.status_code == 201, national.text


def test_a_regional_adjudicator_sees_and_decides_only_their_regions_held_enrolments(
    client: TestClient, headers: dict, staff_headers: Headers
) -> None:
    capital = hold(client, headers, 2, address=ADDRESS)
    coast = hold(client, headers, 1, address=COAST, phone=None)
    adjudicator = staff_headers("identity.adjudicator", "Coast")
    listed = client.get(URL, headers=adjudicator)
    assert [item["application_id"] for item in listed.json()["items"]] == coast
    assert client.get(URL, params={"region": "Coast"}, headers=adjudicator).status_code == 200
    widened = client.get(URL, params={"region": "Capital"}, headers=adjudicator)
    assert widened.status_code == 403
    national = client.get(URL, headers=staff_headers("identity.adjudicator")).json()["items"]
    assert [item["application_id"] for item in national] == capital + coast

    decision = {"decision": "issue"}
    refused = client.post(f"/identity/enrolments/{capital[0]}/adjudication", json=decision, headers=adjudicator)
    assert refused.status_code == 403
    approved = client.post(f"/identity/enrolments/{coast[0]}/adjudication", json=decision, headers=adjudicator)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approvals"] == 1


def test_a_regional_adjudicator_does_not_reach_partner_policies(client: TestClient, staff_headers: Headers) -> None:
    url = "/identity/partners/1/policy"
    assert client.get(url, headers=staff_headers("identity.adjudicator", "R")).status_code == 403
    assert client.get(url, headers=staff_headers("identity.adjudicator")).status_code not in {401, 403}
