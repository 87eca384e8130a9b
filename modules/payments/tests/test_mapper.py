from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.models import AuditEvent
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ..models import AccountLink, LedgerAccount
from ..service import link_history
from .conftest import assert_problem, enrol_person


def test_link_by_external_id_then_resolve(link, client: TestClient, headers: dict[str, str]) -> None:
    response = link("EXT-1")
    assert response.status_code == 201, response.text
    assert response.json()["beneficiary"] == "ext:EXT-1"
    assert response.json()["number"] == "DE89370400440532013000"  # stored compact

    resolved = client.post("/payments/accounts/resolve", json={"items": [{"external_id": "EXT-1"}]}, headers=headers)
    assert resolved.status_code == 200
    account = resolved.json()["items"][0]["account"]
    assert account["kind"] == "iban"
    assert account["number"] == "DE89370400440532013000"


def test_linking_opens_a_no_negative_ledger_account(link, session: Session) -> None:
    link("EXT-1")
    account = session.scalars(select(LedgerAccount).where(LedgerAccount.owner == "ext:EXT-1")).one()
    assert account.allow_negative is False


def test_relinking_replaces_the_account_and_keeps_history(link, mobile_number: str, session: Session) -> None:
    first = link("EXT-1").json()
    second = link("EXT-1", account={"kind": "mobile_money", "number": mobile_number})
    assert second.status_code == 200
    assert second.json()["kind"] == "mobile_money"
    assert second.json()["updated_at"] > first["updated_at"]
    assert session.scalars(select(AccountLink)).one().kind == "mobile_money"
    history = link_history(session=session, key="ext:EXT-1")
    assert [(h.kind, h.number) for h in history] == [("iban", "DE89370400440532013000")]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject == "ext:EXT-1")).all()
    assert actions == ["payments.account.linked", "payments.account.relinked"]


def test_both_answers_of_a_link_are_documented(client: TestClient) -> None:
    responses = client.app.openapi()["paths"]["/payments/accounts"]["post"]["responses"]
    assert {"200", "201"} <= set(responses), "a re-link answers 200, a first link 201"
    assert responses["200"]["content"] == responses["201"]["content"]


def test_relinking_the_same_account_changes_nothing(link, session: Session) -> None:
    link("EXT-1")
    assert link("EXT-1").status_code == 200
    assert link_history(session=session, key="ext:EXT-1") == []


def test_mobile_money_is_stored_in_e164(link, mobile_number: str) -> None:
    response = link(account={"kind": "mobile_money", "number": mobile_number})
    assert response.status_code == 201, response.text
    assert response.json()["number"].startswith("+")
    assert response.json()["number"].replace("+", "").isdigit()


@pytest.mark.parametrize(
    ("account", "words"),
    [
        ({"kind": "iban", "number": "DE89370400440532013001"}, ("account.number", "IBAN", "checksum")),
        ({"kind": "iban", "number": "DE8937040044053201300"}, ("account.number", "length")),
        ({"kind": "mobile_money", "number": "12"}, ("account.number", "phone number")),
        ({"kind": "mobile_money", "number": "+44 7400 123456"}, ("account.number", "mobile money is paid in")),
        (
            {"kind": "bank_account", "number": "12345", "bank_code": "BANK01"},
            ("account.bank_account.number", "pattern"),
        ),
        ({"kind": "bank_account", "number": "1234567890"}, ("account.bank_account.bank_code", "required")),
    ],
)
def test_bad_accounts_are_refused_naming_the_field(link, account: dict, words: tuple[str, ...]) -> None:
    assert_problem(link(account=account), 422, *words)


def test_unknown_account_kind_is_refused(link) -> None:
    problem = assert_problem(link(account={"kind": "cheque", "number": "1"}), 422, "body.account", "'kind'", "cheque")
    assert problem["type"].endswith("invalid-request")


def test_beneficiary_needs_exactly_one_id(client: TestClient, headers: dict[str, str]) -> None:
    body = {"beneficiary": {}, "account": {"kind": "iban", "number": "DE89370400440532013000"}}
    assert_problem(client.post("/payments/accounts", json=body, headers=headers), 422, "exactly one")
    response = client.post("/payments/accounts/resolve", json={"items": [{}]}, headers=headers)
    assert_problem(response, 422, "exactly one")


def test_resolving_an_unlinked_beneficiary_is_not_found(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/payments/accounts/resolve", json={"items": [{"external_id": "NOBODY"}]}, headers=headers)
    assert response.json()["items"] == [
        {"index": 0, "status": "not_found", "account": None, "reason": "no financial account is linked"}
    ]


@pytest.mark.selection  # partners present or absent change what it checks
def test_national_id_is_refused_without_identity(link, ports: Ports) -> None:
    if ports.get(SectorTokens) is not None:
        pytest.skip("the identity module is installed here")
    problem = assert_problem(link(national_id="2345678901"), 422, "identity module", "external_id")
    assert problem["type"].endswith("identity-unavailable")


@pytest.mark.selection  # partners present or absent change what it checks
def test_link_by_national_id_stores_a_sector_token(
    link, client: TestClient, api_headers: Callable[..., dict[str, str]], ports: Ports, session: Session
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    national_id = enrol_person(client, api_headers)
    response = link(national_id=national_id)
    assert response.status_code == 201, response.text
    key = response.json()["beneficiary"]
    assert key.startswith("token:")
    assert national_id not in key
    assert national_id not in session.scalars(select(AccountLink.beneficiary_key)).one()

    resolved = client.post(
        "/payments/accounts/resolve",
        json={"items": [{"national_id": national_id}]},
        headers=api_headers("payments:read"),
    )
    assert resolved.status_code == 200
    assert resolved.json()["items"][0]["account"]["beneficiary"] == key


@pytest.mark.selection  # partners present or absent change what it checks
def test_unknown_national_id_is_404_with_identity(link, ports: Ports) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    assert_problem(link(national_id="2345678901"), 404, "national_id")
