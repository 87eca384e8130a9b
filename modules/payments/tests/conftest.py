"""Helpers for the payments tests: partner keys with payments scopes and demo accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from fastapi.testclient import TestClient

from ....core.country import LoadedCountry
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ..scopes import APPROVE_SCOPE, LINK_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE
from .factories import FLAT, SENIOR_BONUS

ALL_SCOPES = (LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE, PROGRAMME_SCOPE, APPROVE_SCOPE)
VALID_IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """A partner holding every payments scope."""
    return api_headers(*ALL_SCOPES)


@pytest.fixture
def checkers(api_headers: Callable[..., dict[str, str]]) -> list[dict[str, str]]:
    """Two partners who may approve cycles (and read them), neither of them the maker of any cycle."""
    return [api_headers(APPROVE_SCOPE, READ_SCOPE) for _ in range(2)]


def approve_by(client: TestClient, cycle_id: int, checkers: list[dict[str, str]], count: int, total: int) -> Any:
    """Each checker approves the cycle with these control totals; the last response."""
    body = {"control_count": count, "control_sum": total}
    responses = [client.post(f"/payments/cycles/{cycle_id}/approve", json=body, headers=h) for h in checkers]
    for response in responses:
        assert response.status_code == 200, response.text
    return responses[-1]


@pytest.fixture
def mobile_number(country: LoadedCountry) -> str:
    """A valid mobile number of the country, written the national way."""
    example = phonenumbers.example_number_for_type(country.profile.phone_region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


@pytest.fixture
def link(client: TestClient, headers: dict[str, str]) -> Callable[..., Any]:
    """Link a beneficiary (by external ID unless told) to an IBAN and return the response."""

    def do(external_id: str = "EXT-1", account: dict[str, Any] | None = None, **beneficiary: str) -> Any:
        body = {
            "beneficiary": beneficiary or {"external_id": external_id},
            "account": account or {"kind": "iban", "number": VALID_IBAN},
        }
        return client.post("/payments/accounts", json=body, headers=headers)

    return do


@pytest.fixture
def pay(client: TestClient, headers: dict[str, str], country: LoadedCountry) -> Callable[..., Any]:
    """POST a transfer; keyword arguments override the body's fields."""

    def do(reference: str = "REF-1", external_id: str = "EXT-1", **overrides: Any) -> Any:
        body = {
            "client_reference": reference,
            "beneficiary": {"external_id": external_id},
            "amount": 12_345,
            "currency": country.profile.currency,
        }
        body.update(overrides)
        return client.post("/payments/transfers", json=body, headers=headers)

    return do


def assert_problem(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    for word in words:
        assert word in problem["detail"], problem["detail"]
    return problem


def enrol_person(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> str:
    """Enrol a resident through the identity API and return the issued national ID."""
    response = client.post(
        "/identity/enrolments",
        json={
            "application_id": "payments-test-0001",
            "given_name": "Amina",
            "family_name": "Wanjiru",
            "date_of_birth": "1980-05-17",
            "sex": "F",
        },
        headers=api_headers("identity:enrol"),
    )
    assert response.status_code == 201, response.text
    return response.json()["national_id"]


def programme_body(country, **overrides: Any) -> dict[str, Any]:
    body = {
        "code": "CASH-2026",
        "name": "Cash transfer 2026",
        "currency": country.profile.currency,
        "source": "enrolled",
        "eligibility": [
            {"attribute": "age", "op": ">=", "value": 18},
            {"attribute": "region", "op": "in", "value": ["North"]},
        ],
        "entitlement": {"flat": 5_000, "per_unit": [{"attribute": "children", "amount": 1_000, "max_units": 3}]},
    }
    body.update(overrides)
    return body


@pytest.fixture
def programme(client: TestClient, headers, country, link) -> dict[str, Any]:
    created = client.post("/payments/programmes", json=programme_body(country), headers=headers)
    assert created.status_code == 201, created.text
    people = [("P-1", 30, "North", 2), ("P-2", 17, "North", 0), ("P-3", 40, "South", 1), ("P-4", 50, "North", 5)]
    for external_id, *_ in people:
        if external_id != "P-4":
            assert link(external_id).status_code == 201
    items = [
        {"beneficiary": {"external_id": e}, "attributes": {"age": a, "region": r, "children": c}}
        for e, a, r, c in people
    ]
    enrolled = client.post("/payments/programmes/CASH-2026/enrolments", json={"items": items}, headers=headers)
    assert enrolled.json() == {"enrolled": 4, "updated": 0, "unchanged": 0}
    again = client.post("/payments/programmes/CASH-2026/enrolments", json={"items": items}, headers=headers)
    assert again.json() == {"enrolled": 0, "updated": 0, "unchanged": 4}
    return created.json()


def enrol_resident(client: TestClient, api_headers, application: str, given_name: str, born: str) -> str:
    """A resident registered through the identity API (as enrol_person above); their national ID."""
    response = client.post(
        "/identity/enrolments",
        json={
            "application_id": application,
            "given_name": given_name,
            "family_name": "Page-Tester",
            "date_of_birth": born,
            "sex": "F",
        },
        headers=api_headers("identity:enrol"),
    )
    assert response.status_code == 201, response.text
    return response.json()["national_id"]


@pytest.fixture
def paid_residents(client: TestClient, ports: Ports, headers, checkers, link, api_headers, country) -> dict[str, Any]:
    """Two residents linked by national ID, each paid by a cycle; one also directly, with a "/" in the reference."""
    if ports.get(SectorTokens) is None:
        pytest.skip("residents are identified by national ID through the identity module")
    amina = enrol_resident(client, api_headers, "pages-0001", "Amina", "1970-02-03")
    baraka = enrol_resident(client, api_headers, "pages-0002", "Baraka", "1985-07-09")
    for person in (amina, baraka):
        assert link(national_id=person).status_code == 201
    body = {
        "code": "PAGES-RES",
        "name": "Resident pages",
        "currency": country.profile.currency,
        "source": "enrolled",
        "eligibility": [{"attribute": "age", "op": ">=", "value": 18}],
        "entitlement": {"flat": FLAT},
    }
    assert client.post("/payments/programmes", json=body, headers=headers).status_code == 201
    items = [{"beneficiary": {"national_id": p}, "attributes": {"age": 40}} for p in (amina, baraka)]
    assert (
        client.post("/payments/programmes/PAGES-RES/enrolments", json={"items": items}, headers=headers).json()[
            "enrolled"
        ]
        == 2
    )
    cycle = client.post("/payments/programmes/PAGES-RES/cycles", json={"name": "r1"}, headers=headers).json()
    approve_by(client, cycle["id"], checkers, 2, 2 * FLAT)
    assert client.post(f"/payments/cycles/{cycle['id']}/disburse", headers=headers).status_code == 200
    direct = {
        "client_reference": "PAGES/DIRECT-1",
        "beneficiary": {"national_id": amina},
        "amount": SENIOR_BONUS,
        "currency": country.profile.currency,
    }
    assert client.post("/payments/transfers", json=direct, headers=headers).status_code == 201
    return {"amina": amina, "baraka": baraka, "cycle": cycle["id"]}
