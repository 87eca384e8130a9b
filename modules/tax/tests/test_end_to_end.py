"""With identity and payments installed: tax paid and a refund paid into the person's ID-linked account."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ....core.country import LoadedCountry
from ....core.ports import Disbursements, SectorTokens
from ....core.registry import Ports
from ..scopes import COLLECT_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from ..service import income_tax_law
from .helpers import a_year

# Needs identity and payments: runs in every combination, skipped where either is absent.
pytestmark = pytest.mark.selection

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(autouse=True)
def _needs_identity_and_payments(ports: Ports) -> None:
    if ports.get(SectorTokens) is None or ports.get(Disbursements) is None:
        pytest.skip("needs the identity and payments modules")


def test_a_refund_is_paid_end_to_end_into_the_id_linked_account(
    client: TestClient, api_headers: Callable[..., dict[str, str]], country: LoadedCountry
) -> None:
    enrolled = client.post(
        "/identity/enrolments",
        json={
            "application_id": "tax-e2e-0001",
            "given_name": "Wanjiru",
            "family_name": "Otieno",
            "date_of_birth": "1975-02-11",
            "sex": "F",
        },
        headers=api_headers("identity:enrol"),
    )
    assert enrolled.status_code == 201, enrolled.text
    national_id = enrolled.json()["national_id"]
    linked = client.post(
        "/payments/accounts",
        json={"beneficiary": {"national_id": national_id}, "account": {"kind": "iban", "number": IBAN}},
        headers=api_headers("payments:link"),
    )
    assert linked.status_code == 201, linked.text

    tax = api_headers(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE, COLLECT_SCOPE)
    registered = client.post(
        "/tax/taxpayers", json={"kind": "individual", "name": "Wanjiru Otieno", "national_id": national_id}, headers=tax
    )
    assert registered.status_code == 201, registered.text
    tin = registered.json()["tin"]
    assert national_id not in registered.json()["reference"]
    year = a_year(country)
    income = income_tax_law(country=country).scale_in_force(year)[-1].threshold * 2
    currency = country.profile.currency
    filed = client.post(
        "/tax/returns", json={"tin": tin, "year": year, "income": income, "currency": currency}, headers=tax
    )
    assert filed.status_code == 201, filed.text
    tax_due = filed.json()["tax_due"]
    assert tax_due > 0

    paid = client.post(
        "/tax/payments",
        json={"tin": tin, "amount": tax_due, "currency": currency, "reference": "PAY-1", "national_id": national_id},
        headers=tax,
    )
    assert paid.status_code == 201, paid.text
    assert (paid.json()["channel"], paid.json()["state"]) == ("payments", "committed")

    amended = client.post(f"/tax/returns/{tin}/{year}/amendments", json={"income": 0}, headers=tax)
    assert amended.status_code == 201, amended.text
    account = client.get(f"/tax/accounts/{tin}", headers=tax).json()
    # The return is filed after its year's deadline: under a profile with a late-filing penalty
    # the amended assessment keeps one (judged on the original filing date), and interest runs
    # on it until the payment settles it.
    assert account["balance"] == -tax_due + amended.json()["penalty"] + account["interest"]

    refund = client.post(
        "/tax/refunds", json={"tin": tin, "reference": "RF-1", "national_id": national_id}, headers=tax
    )
    assert refund.status_code == 201, refund.text
    assert (refund.json()["kind"], refund.json()["state"]) == ("refunded", "committed")
    refunded = refund.json()["amount"]
    assert refunded == -account["balance"]

    transfer = client.get("/payments/transfers/tax-refund:RF-1", headers=api_headers("payments:read"))
    assert transfer.status_code == 200, transfer.text
    assert (transfer.json()["state"], transfer.json()["amount"], transfer.json()["currency"]) == (
        "committed",
        refunded,
        currency,
    )
    assert client.get(f"/tax/accounts/{tin}", headers=tax).json()["balance"] == 0
    again = client.post("/tax/refunds", json={"tin": tin, "reference": "RF-1", "national_id": national_id}, headers=tax)
    assert again.status_code == 201
    assert again.json()["id"] == refund.json()["id"]
