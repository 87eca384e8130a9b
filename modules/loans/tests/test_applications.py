"""Applications end to end through the API: decided at once, or held for a second officer; paid and repaid."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.registry import Ports
from ..models import Line
from .helpers import TERMS, applicant, create_product

pytestmark = pytest.mark.selection  # the applicant and the money's path depend on the partner modules


@pytest.fixture
def officer(staff_headers) -> dict[str, str]:
    return staff_headers("loans.loan_officer")


@pytest.fixture
def manager(staff_headers) -> dict[str, str]:
    return staff_headers("loans.portfolio_manager")


def apply(client: TestClient, headers: dict[str, str], product: str, principal: int, who: dict[str, str]):
    return client.post("/loans/applications", json={"product": product, "principal": principal, **who}, headers=headers)


def test_a_small_loan_is_approved_paid_and_repaid_and_the_book_balances(
    client: TestClient, api_headers, ports: Ports, officer, manager, session: Session
) -> None:
    product = create_product(client, manager)
    response = apply(client, officer, product, 120_000, applicant(client, api_headers, ports))
    assert response.status_code == 201, response.text
    application = response.json()
    assert application["state"] == "disbursed" and application["reasons"] == []
    loan = client.get(f"/loans/accounts/{application['loan']}", headers=officer).json()
    schedule = loan["schedule"]
    assert len(schedule) == 12 and sum(i["principal"] for i in schedule) == 120_000
    assert loan["owed"]["principal"] == 120_000
    assert loan["owed"]["fees"] == 1_200 + 500 and loan["owed"]["interest"] == sum(i["interest"] for i in schedule)

    first = schedule[0]
    due = first["principal"] + first["interest"] + first["fees"]
    paid = client.post(
        f"/loans/accounts/{application['loan']}/repayments",
        json={"amount": due, "payment_reference": "REPAY-1"},
        headers=manager,
    )
    assert paid.status_code == 200, paid.text
    again = client.post(
        f"/loans/accounts/{application['loan']}/repayments",
        json={"amount": due, "payment_reference": "REPAY-1"},
        headers=manager,
    )
    assert again.json() == paid.json(), "a retried repayment is applied once"
    after = client.get(f"/loans/accounts/{application['loan']}", headers=officer).json()
    assert after["schedule"][0]["settled_on"] is not None
    assert sum(after["owed"].values()) == sum(loan["owed"].values()) - due
    assert session.scalar(select(func.sum(Line.amount))) == 0, "every event's lines balance"


def test_more_than_is_owed_is_refused_and_nothing_changes(
    client: TestClient, api_headers, ports: Ports, officer, manager
) -> None:
    product = create_product(client, manager, instalments=2, annual_rate="0", fee_rate="0", fee_flat=0)
    loan = apply(client, officer, product, 50_000, applicant(client, api_headers, ports)).json()["loan"]
    refused = client.post(
        f"/loans/accounts/{loan}/repayments", json={"amount": 50_001, "payment_reference": "TOO-MUCH"}, headers=manager
    )
    assert refused.status_code == 409, refused.text
    assert "50001" in refused.json()["detail"] and "50000" in refused.json()["detail"]
    assert client.get(f"/loans/accounts/{loan}", headers=officer).json()["owed"]["principal"] == 50_000
    paid = client.post(
        f"/loans/accounts/{loan}/repayments", json={"amount": 50_000, "payment_reference": "ALL"}, headers=manager
    )
    assert paid.status_code == 200
    assert client.get(f"/loans/accounts/{loan}", headers=officer).json()["state"] == "closed"


def test_outside_the_product_limits_is_rejected_with_its_reason(
    client: TestClient, api_headers, ports: Ports, officer, manager
) -> None:
    product = create_product(client, manager)
    response = apply(client, officer, product, 9_999, applicant(client, api_headers, ports))
    assert response.status_code == 201
    assert response.json()["state"] == "rejected"
    assert response.json()["reasons"] == ["principal: 9999 is outside the product's 10000 to 5000000"]
    assert response.json()["loan"] is None


def test_above_the_four_eyes_amount_a_second_officer_decides(
    client: TestClient, api_headers, ports: Ports, officer, manager, staff_headers
) -> None:
    product = create_product(client, manager, max_principal=50_000_000)
    held = apply(client, officer, product, 20_000_000, applicant(client, api_headers, ports)).json()
    assert held["state"] == "awaiting_approval" and held["loan"] is None
    own = client.post(f"/loans/applications/{held['reference']}/approve", headers=officer)
    assert own.status_code in (403, 409), own.text
    second = staff_headers("loans.loan_officer")
    approved = client.post(f"/loans/applications/{held['reference']}/approve", headers=second)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "disbursed" and approved.json()["loan"]
    twice = client.post(f"/loans/applications/{held['reference']}/approve", headers=staff_headers("loans.loan_officer"))
    assert twice.status_code == 409


def test_a_held_application_may_be_rejected_with_a_reason(
    client: TestClient, api_headers, ports: Ports, officer, manager, staff_headers
) -> None:
    product = create_product(client, manager, max_principal=50_000_000)
    held = apply(client, officer, product, 20_000_000, applicant(client, api_headers, ports)).json()
    rejected = client.post(
        f"/loans/applications/{held['reference']}/reject",
        json={"reason": "income not shown"},
        headers=staff_headers("loans.loan_officer"),
    )
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "rejected" and rejected.json()["reasons"] == ["income not shown"]


def test_inconsistent_terms_are_refused_naming_the_field(client: TestClient, manager) -> None:
    response = client.post(
        "/loans/products",
        json={
            "code": "BAD",
            "name": "Bad",
            "terms": {**TERMS, "min_principal": 500, "max_principal": 100, "grace_instalments": 12},
        },
        headers=manager,
    )
    assert response.status_code == 409
    assert "terms.min_principal" in response.json()["detail"] and "terms.grace_instalments" in response.json()["detail"]
