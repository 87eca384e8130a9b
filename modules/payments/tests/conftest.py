"""Helpers for the payments tests: partner keys with payments scopes and demo accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import phonenumbers
import pytest
from fastapi.testclient import TestClient

from ....core.country import LoadedCountry
from ..router import APPROVE_SCOPE, LINK_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE

ALL_SCOPES = (LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE, PROGRAMME_SCOPE, APPROVE_SCOPE)
VALID_IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def headers(api_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    """A partner holding every payments scope."""
    return api_headers(*ALL_SCOPES)


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
