"""Programmes, cycles, disbursement, bank messages and the resident view through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.eligibility import Rule
from ....core.ports import ResidentRegistry
from .. import iso20022
from ..models import Entry, Transfer
from ..programmes import Entitlement
from .conftest import approve_by, assert_problem, programme_body

P1 = {"beneficiary": {"external_id": "P-1"}}


def test_a_beneficiary_listed_twice_is_refused_and_the_document_says_so(
    client: TestClient, headers, programme: dict[str, Any]
) -> None:
    document = client.app.openapi()
    body = document["paths"]["/payments/programmes/{code}/enrolments"]["post"]["requestBody"]
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert document["components"]["schemas"][name]["properties"]["items"]["uniqueItems"] is True
    twice = [{"beneficiary": {"external_id": "P-1"}}] * 2
    refused = client.post("/payments/programmes/CASH-2026/enrolments", json={"items": twice}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("items: ")


def test_rules_are_data() -> None:
    adult = Rule(attribute="age", op=">=", value=18)
    poor = Rule(attribute="assessed_income", op="<", value=500_000)
    assert adult.holds({"age": 18}) and not adult.holds({"age": 17}) and not adult.holds({})
    assert poor.holds({"assessed_income": 1}) and not poor.holds({"assessed_income": 500_000})
    assert Rule(attribute="assessed_income", op="<", value=5, if_missing="eligible").holds({})
    assert Rule(attribute="sex", op="not_in", value=["M"]).holds({"sex": "F"})
    entitlement = Entitlement.model_validate(
        {
            "flat": 100,
            "brackets": [{"attribute": "age", "min": 65, "add": 50}],
            "per_unit": [{"attribute": "kids", "amount": 10, "max_units": 2}],
        }
    )
    assert entitlement.amount_for({"age": 70, "kids": 5}) == 170
    assert entitlement.amount_for({"age": 30}) == 100
    with pytest.raises(ValueError, match="needs a list"):
        Rule(attribute="region", op="in", value="North")


def test_a_programme_is_idempotent_on_its_code(client: TestClient, headers, country, programme) -> None:
    replay = client.post("/payments/programmes", json=programme_body(country), headers=headers)
    assert replay.status_code == 200 and replay.json() == programme
    changed = programme_body(country, entitlement={"flat": 9_999})
    assert_problem(client.post("/payments/programmes", json=changed, headers=headers), 409, "different rules")
    assert client.get("/payments/programmes/CASH-2026", headers=headers).json()["entitlement"]["flat"] == 5_000


def test_bad_rules_are_refused_naming_the_field(client: TestClient, headers, country) -> None:
    body = programme_body(country, eligibility=[{"attribute": "age", "op": "~", "value": 1}])
    problem = assert_problem(client.post("/payments/programmes", json=body, headers=headers), 422)
    assert "eligibility" in problem["detail"]
    body = programme_body(country, eligibility=[{"attribute": "assessed_income", "op": "<", "value": 1}])
    assert_problem(client.post("/payments/programmes", json=body, headers=headers), 422, "income_year")
    body = programme_body(country, entitlement={"flat": 1.5})
    assert_problem(client.post("/payments/programmes", json=body, headers=headers), 422)


@pytest.mark.selection  # partners present or absent change what it checks
def test_registry_programmes_need_identity(client: TestClient, headers, country, ports) -> None:
    if ports.get(ResidentRegistry) is not None:
        pytest.skip("identity is installed")
    body = programme_body(country, source="registry")
    assert_problem(client.post("/payments/programmes", json=body, headers=headers), 422, "identity module")


def test_a_cycle_is_built_approved_disbursed_and_reconciled(
    client: TestClient, headers, checkers, programme, session: Session
) -> None:
    created = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "2026-01"}, headers=headers)
    assert created.status_code == 201, created.text
    cycle = created.json()
    # P-1: 5000 + 2 children; P-4 eligible but not linked; P-2 too young; P-3 wrong region.
    assert (cycle["instruction_count"], cycle["instruction_sum"], cycle["unlinked_count"]) == (1, 7_000, 1)
    replay = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "2026-01"}, headers=headers)
    assert replay.status_code == 200 and replay.json()["id"] == cycle["id"]

    url = f"/payments/cycles/{cycle['id']}"
    assert_problem(client.post(f"{url}/disburse", headers=headers), 409, "not approved")
    wrong = client.post(f"{url}/approve", json={"control_count": 1, "control_sum": 7_001}, headers=checkers[0])
    assert "7000" not in assert_problem(wrong, 409, "control totals do not match")["detail"]
    approved = approve_by(client, cycle["id"], checkers, 1, 7_000)
    assert approved.json()["state"] == "approved"

    first = client.post(f"{url}/disburse", headers=headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["paid"] == {"count": 1, "sum": 7_000} and report["matches_control_totals"]
    assert report["unlinked"]["count"] == 1
    transfers = session.scalar(select(func.count()).select_from(Transfer))
    second = client.post(f"{url}/disburse", headers=headers)
    assert second.json() == report  # a repeat pays nobody twice
    assert session.scalar(select(func.count()).select_from(Transfer)) == transfers
    assert client.get(f"{url}/reconciliation", headers=headers).json() == report

    mine = client.post("/payments/residents/payments/query", json=P1, headers=headers).json()
    assert [(m["programme"], m["cycle"], m["amount"], m["state"]) for m in mine] == [
        ("CASH-2026", "2026-01", 7_000, "settled")
    ]
    balance = client.post("/payments/balances/query", json=P1, headers=headers).json()["balance"]
    assert balance == 7_000


def test_bank_messages_are_ingested_once(client: TestClient, headers, checkers, programme, country) -> None:
    cycle = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "c"}, headers=headers).json()
    url = f"/payments/cycles/{cycle['id']}"
    approve_by(client, cycle["id"], checkers, 1, 7_000)
    client.post(f"{url}/disburse", headers=headers)
    stray = iso20022.camt054(
        msg_id="BANK-1",
        account="X",
        currency=country.profile.currency,
        bookings=[iso20022.Booking("UNKNOWN-1", 100, country.profile.currency, credit=True, booked=True)],
    )
    xml = {"content-type": "application/xml"}
    first = client.post("/payments/bank-messages", content=stray, headers=headers | xml)
    assert first.status_code == 200, first.text
    assert first.json()["unmatched"] == 1 and not first.json()["replayed"]
    assert client.post("/payments/bank-messages", content=stray, headers=headers | xml).json()["replayed"]
    assert_problem(client.post("/payments/bank-messages", content=b"<nope", headers=headers | xml), 422, "XML")


def test_unlink_and_batch_resolve(client: TestClient, headers, link) -> None:
    assert link("EXT-1").status_code == 201
    resolved = client.post(
        "/payments/accounts/resolve",
        json={"items": [{"external_id": "EXT-1"}, {"external_id": "EXT-2"}]},
        headers=headers,
    ).json()["items"]
    assert [(r["index"], r["status"]) for r in resolved] == [(0, "found"), (1, "not_found")]
    assert resolved[0]["account"]["beneficiary"] == "ext:EXT-1"
    unlinked = client.post("/payments/accounts/unlink", json={"beneficiary": {"external_id": "EXT-1"}}, headers=headers)
    assert unlinked.status_code == 200 and unlinked.json()["beneficiary"] == "ext:EXT-1"
    again = client.post("/payments/accounts/unlink", json={"beneficiary": {"external_id": "EXT-1"}}, headers=headers)
    assert_problem(again, 404, "no financial account")
    gone = client.post("/payments/accounts/resolve", json={"items": [{"external_id": "EXT-1"}]}, headers=headers)
    assert gone.json()["items"][0]["status"] == "not_found"
    assert_problem(client.post("/payments/accounts/resolve", json={"items": []}, headers=headers), 422)


def test_programme_references_are_reserved(pay, link) -> None:
    link("EXT-1")
    assert_problem(pay("G2P-1-1"), 422, "reserved")


def test_programme_endpoints_need_the_programme_scope(client: TestClient, api_headers, country) -> None:
    reader = api_headers("payments:read")
    response = client.post("/payments/programmes", json=programme_body(country), headers=reader)
    assert response.status_code == 403


def test_entries_of_a_disbursed_cycle_balance(
    client: TestClient, headers, checkers, programme, session: Session
) -> None:
    cycle = client.post("/payments/programmes/CASH-2026/cycles", json={"name": "b"}, headers=headers).json()
    url = f"/payments/cycles/{cycle['id']}"
    approve_by(client, cycle["id"], checkers, 1, 7_000)
    client.post(f"{url}/disburse", headers=headers)
    assert session.scalar(select(func.coalesce(func.sum(Entry.amount), 0))) == 0
