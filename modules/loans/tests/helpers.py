"""What the loans tests share: a product's terms, and an applicant as this module combination takes one."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from ....core.ports import Disbursements, SectorTokens
from ....core.registry import Ports

IBAN = "DE89370400440532013000"
_numbers = itertools.count(1)

TERMS: dict[str, Any] = {
    "interest_method": "declining",
    "annual_rate": "0.24",
    "instalments": 12,
    "frequency": "monthly",
    "fee_rate": "0.01",
    "fee_flat": 500,
    "min_principal": 10_000,
    "max_principal": 5_000_000,
    "penalty": {"rate": "0.05", "flat": 100, "after_days": 3},
}


def create_product(client: TestClient, headers: dict[str, str], code: str | None = None, **terms: Any) -> str:
    code = code or f"MICRO-{next(_numbers)}"
    body = {"code": code, "name": "Micro-loan", "terms": {**TERMS, **terms}}
    response = client.post("/loans/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return code


def applicant(client: TestClient, api_headers: Any, ports: Ports) -> dict[str, str]:
    """The applicant fields of a new person: by national ID (enrolled, with consent) where identity is
    installed, else by external ID; with a linked account where payments is, else an account to pay."""
    number = next(_numbers)
    if ports.provides(SectorTokens):
        response = client.post(
            "/identity/enrolments",
            json={
                "application_id": f"LOAN-APP-{number}",
                "given_name": "Amina",
                "family_name": f"Borrower{number}",
                # a birth date of their own: identity holds near-duplicates (same name, same birth date) for review
                "date_of_birth": (date(1960, 1, 1) + timedelta(days=number * 37)).isoformat(),
                "sex": "F",
            },
            headers=api_headers("identity:enrol"),
        )
        assert response.status_code == 201, response.text
        who = {"national_id": response.json()["national_id"], "consent": f"CONSENT-{number}"}
    else:
        who = {"external_id": f"BORROWER-{number}"}
    if not ports.provides(Disbursements):
        return {**who, "account": IBAN}
    beneficiary = {key: value for key, value in who.items() if key != "consent"}
    linked = client.post(
        "/payments/accounts",
        json={"beneficiary": beneficiary, "account": {"kind": "iban", "number": IBAN}},
        headers=api_headers("payments:link"),
    )
    assert linked.status_code in (200, 201), linked.text
    return who
