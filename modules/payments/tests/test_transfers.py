from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core import audit
from ....core.country import LoadedCountry
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ..config import PaymentsSettings
from ..models import Entry, LedgerAccount, Transfer, TransferState
from ..service import account_balance, ensure_funding_account
from .conftest import assert_problem, enrol_person


def funding_account(session: Session) -> LedgerAccount:
    code = PaymentsSettings().funding_account
    return session.scalars(select(LedgerAccount).where(LedgerAccount.code == code)).one()


def test_transfer_commits_and_balances_derive_from_entries(
    link, pay, client: TestClient, headers: dict[str, str], session: Session, country: LoadedCountry
) -> None:
    link("EXT-1")
    response = pay("REF-1", amount=12_345)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "committed"
    assert (body["amount"], body["currency"]) == (12_345, country.profile.currency)
    assert body["completed_at"] is not None
    pay("REF-2", amount=655)

    balance = client.post("/payments/balances/query", json={"beneficiary": {"external_id": "EXT-1"}}, headers=headers)
    assert balance.status_code == 200
    assert balance.json() == {
        "beneficiary": "ext:EXT-1",
        "account": "ext:EXT-1",
        "currency": country.profile.currency,
        "balance": 13_000,
    }
    funding = funding_account(session)
    assert funding.allow_negative is True
    assert account_balance(session=session, account_id=funding.id) == -13_000
    for transfer in session.scalars(select(Transfer)):
        entries = session.scalars(select(Entry.amount).where(Entry.transfer_id == transfer.id)).all()
        assert sorted(entries) == [-transfer.amount, transfer.amount]
    assert session.scalar(select(func.sum(Entry.amount))) == 0


def test_a_committed_transfer_is_audited(link, pay, session: Session) -> None:
    link("EXT-1")
    pay("REF-1")
    events = audit.events_for(session=session, subject="ext:EXT-1")
    assert events[0].action == "payments.transfer.committed"
    assert events[0].detail["client_reference"] == "REF-1"
    assert audit.verify_chain(session=session).intact


def test_get_transfer_by_reference(link, pay, client: TestClient, headers: dict[str, str]) -> None:
    link("EXT-1")
    created = pay("REF-1").json()
    response = client.get("/payments/transfers/REF-1", headers=headers)
    assert response.status_code == 200
    assert response.json() == created
    assert_problem(client.get("/payments/transfers/NOPE", headers=headers), 404, "client_reference", "NOPE")


def test_replaying_a_transfer_returns_the_original(link, pay, session: Session) -> None:
    link("EXT-1")
    first = pay("REF-1")
    again = pay("REF-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert session.scalar(select(func.count()).select_from(Transfer)) == 1
    assert session.scalar(select(func.count()).select_from(Entry)) == 2


@pytest.mark.parametrize("change", [{"amount": 99}, {"external_id": "EXT-2"}])
def test_reusing_a_reference_for_a_different_transfer_is_409(link, pay, session: Session, change: dict) -> None:
    link("EXT-1")
    link("EXT-2")
    pay("REF-1")
    problem = assert_problem(pay("REF-1", **change), 409, "REF-1", "different transfer")
    assert problem["client_reference"] == "REF-1"
    assert session.scalar(select(func.count()).select_from(Entry)) == 2


def test_other_currencies_are_refused(link, pay, country: LoadedCountry) -> None:
    link("EXT-1")
    other = "EUR" if country.profile.currency != "EUR" else "USD"
    assert_problem(pay(currency=other), 422, "currency", f"pays in {country.profile.currency} only")
    assert_problem(pay(currency="ZZZ"), 422, "currency", "ISO 4217")
    assert_problem(pay(currency="kes"), 422, "currency")


@pytest.mark.parametrize("amount", [100.5, "100", 0, -5, 2**63])
def test_amount_must_be_a_positive_integer_of_minor_units(link, pay, amount: object) -> None:
    link("EXT-1")
    problem = assert_problem(pay(amount=amount), 422, "body.amount")
    assert problem["errors"][0]["location"] == "body.amount"


def test_an_integer_written_with_a_zero_fraction_is_that_integer(link, pay) -> None:
    # JSON Schema's integer includes 100.0, so clients generated from the OpenAPI may send it.
    link("EXT-1")
    paid = pay(amount=100.0)
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount"] == 100


def test_paying_an_unlinked_beneficiary_is_refused(pay, session: Session) -> None:
    problem = assert_problem(pay(external_id="NOBODY"), 409, "no financial account is linked", "/payments/accounts")
    assert problem["type"].endswith("beneficiary-not-linked")
    assert session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_overdrawing_a_no_negative_account_is_rejected_without_entries(
    link, pay, client: TestClient, headers: dict[str, str], session: Session, country: LoadedCountry
) -> None:
    # A funding account that may not go negative (a funded treasury) and holds nothing.
    funding = ensure_funding_account(
        session=session, code=PaymentsSettings().funding_account, currency=country.profile.currency
    )
    funding.allow_negative = False
    session.commit()
    link("EXT-1")

    problem = assert_problem(pay("REF-1"), 422, "REF-1", "insufficient funds")
    assert problem["type"].endswith("transfer-rejected")
    assert problem["state"] == "rejected"
    stored = client.get("/payments/transfers/REF-1", headers=headers).json()
    assert stored["state"] == TransferState.REJECTED
    assert "may not go negative" in stored["reason"]
    assert session.scalar(select(func.count()).select_from(Entry)) == 0
    balance = client.post(
        "/payments/balances/query", json={"beneficiary": {"external_id": "EXT-1"}}, headers=headers
    ).json()
    assert balance["balance"] == 0
    # The replay reports the same rejection; it does not retry.
    assert_problem(pay("REF-1"), 422, "insufficient funds")
    assert audit.events_for(session=session, subject="ext:EXT-1")[0].action == "payments.transfer.rejected"


def test_balance_of_an_unknown_beneficiary_is_404(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/payments/balances/query", json={"beneficiary": {"external_id": "NOBODY"}}, headers=headers)
    assert_problem(response, 404, "no payments account")


@pytest.mark.selection  # partners present or absent change what it checks
def test_transfer_by_national_id(
    link, pay, client: TestClient, api_headers: Callable[..., dict[str, str]], headers: dict[str, str], ports: Ports
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    national_id = enrol_person(client, api_headers)
    link(national_id=national_id)
    response = pay("REF-NID", beneficiary={"national_id": national_id})
    assert response.status_code == 201, response.text
    assert response.json()["beneficiary"].startswith("token:")
    balance = client.post(
        "/payments/balances/query", json={"beneficiary": {"national_id": national_id}}, headers=headers
    )
    assert balance.json()["balance"] == 12_345
