"""Bank credits from a camt.054: each kept once, applied to the loan it names, or left unmatched with the reason."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.errors import Unprocessable
from ....core.registry import Ports
from .. import camt054
from ..models import BankCredit
from ..schemas import BANK_CREDITS_MEDIA_TYPE
from .fuzzing import Entry
from .fuzzing import camt054 as notification
from .servicing_helpers import book_problems, make_loan, product

NO_FEES = {"fee_rate": "0", "fee_flat": 0, "annual_rate": "0"}


@pytest.fixture
def manager(staff_headers) -> dict[str, str]:
    return staff_headers("loans.portfolio_manager")


def post(client: TestClient, headers: dict[str, str], message: bytes):
    return client.post(
        "/loans/bank-credits", content=message, headers={**headers, "Content-Type": BANK_CREDITS_MEDIA_TYPE}
    )


def test_a_file_is_read_entry_by_entry() -> None:
    message = notification(
        [
            Entry("BANK-1", 12_345, "KES", "Repayment LN-00000000ABCD thanks"),
            Entry("BANK-2", 500, "KES", None, indicator="DBIT"),
            Entry("BANK-3", 700, "KES", "LN-00000000ABCD", status="PDNG"),
            Entry("BANK-4", 100, "EUR", "no reference here"),
        ]
    )
    credits = camt054.read(message)
    assert [(c.entry_reference, c.amount, c.currency, c.loan_reference) for c in credits] == [
        ("BANK-1", 12_345, "KES", "LN-00000000ABCD"),
        ("BANK-4", 100, "EUR", None),
    ], "booked credits only; the loan reference found in the remittance information"


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (b"<Document>", "XML"),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"/>', "Document"),
        (notification([Entry("", 100, "KES", None)]), "Ntry 1/AcctSvcrRef"),
        (notification([Entry("B-1", 100, "KES", None)]).replace(b"1.00<", b"-1.00<"), "Ntry 1/Amt"),
        (notification([Entry("B-1", 100, "KES", None)]).replace(b"<Dt>2030-01-15", b"<Dt>15/01/2030"), "BookgDt"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><Document/>', "DOCTYPE"),
    ],
)
def test_a_malformed_file_is_refused_naming_what_is_wrong(message: bytes, named: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        camt054.read(message)
    assert named in refused.value.detail


@pytest.mark.selection  # the applicant and the money's path depend on the partner modules
def test_credits_are_applied_once_and_the_rest_kept_unmatched_with_the_reason(
    client: TestClient, api_headers, ports: Ports, staff_headers, manager, session: Session, country
) -> None:
    officer = staff_headers("loans.loan_officer")
    code = product(client, manager, instalments=2, **NO_FEES)
    reference = make_loan(client, api_headers, ports, officer, code, 40_000)
    currency = country.profile.currency
    other = "EUR" if currency != "EUR" else "USD"
    message = notification(
        [
            Entry("CR-1", 20_000, currency, f"loan {reference}"),
            Entry("CR-2", 100, currency, "LN-FFFFFFFFFFFF"),
            Entry("CR-3", 100, other, reference),
            Entry("CR-4", 40_000, currency, reference),  # more than the 20,000 left
            Entry("CR-5", 100, currency, "for my loan"),
        ]
    )
    first = post(client, manager, message)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["read"], body["matched"], body["unmatched"], body["already"]) == (5, 1, 4, 0)
    reasons = {credit["entry_reference"]: credit["reason"] for credit in body["credits"]}
    assert reasons["CR-1"] is None
    assert "LN-FFFFFFFFFFFF" in reasons["CR-2"]
    assert other in reasons["CR-3"]
    assert "40000" in reasons["CR-4"] and "20000" in reasons["CR-4"]
    assert "no loan reference" in reasons["CR-5"]
    loan = client.get(f"/loans/accounts/{reference}", headers=officer).json()
    assert loan["owed"]["principal"] == 20_000
    statement = client.get(f"/loans/accounts/{reference}/statement", headers=officer).json()
    assert statement["events"][-1]["channel"] == "bank_credit"

    again = post(client, manager, message)
    assert again.status_code == 200
    assert (again.json()["matched"], again.json()["unmatched"], again.json()["already"]) == (0, 0, 5)
    assert client.get(f"/loans/accounts/{reference}", headers=officer).json()["owed"] == loan["owed"]
    assert (
        session.scalar(select(func.count()).select_from(BankCredit).where(BankCredit.entry_reference.like("CR-%"))) == 5
    )
    assert book_problems(session) == []


def test_a_malformed_upload_writes_nothing(client: TestClient, manager, session: Session) -> None:
    before = session.scalar(select(func.count()).select_from(BankCredit))
    good = Entry("MAL-1", 100, "KES", None)
    message = notification([good, good._replace(reference="MAL-2", amount=1)]).replace(b"0.01<", b"0.001<")
    refused = post(client, manager, message)
    assert refused.status_code == 422, refused.text
    assert "Ntry 2/Amt" in refused.json()["detail"]
    assert session.scalar(select(func.count()).select_from(BankCredit)) == before
