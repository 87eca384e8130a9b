"""The Disbursements port other modules (tax) pay refunds and record collections through."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.errors import Conflict
from ....core.money import Money
from ....core.ports import Disbursements
from ..models import Transfer
from ..service import check_ledger


@pytest.fixture
def port(ports) -> Disbursements:
    found = ports.get(Disbursements)
    assert found is not None, "payments provides the Disbursements port"
    return found


def test_pay_is_idempotent_on_the_reference(port, session: Session, link, country) -> None:
    link("EXT-1")
    amount = Money(country.profile.currency, 2_500)
    first = port.pay(
        session=session, national_id=None, external_id="EXT-1", amount=amount, reference="TAX-R-1", purpose="refund"
    )
    again = port.pay(
        session=session, national_id=None, external_id="EXT-1", amount=amount, reference="TAX-R-1", purpose="refund"
    )
    session.commit()
    assert first.state == again.state == "committed"
    assert session.scalar(select(func.count()).select_from(Transfer)) == 1
    with pytest.raises(Conflict):
        port.pay(
            session=session,
            national_id=None,
            external_id="EXT-1",
            amount=Money(amount.currency, 1),
            reference="TAX-R-1",
            purpose="refund",
        )


def test_pay_to_an_unlinked_beneficiary_is_rejected_with_a_reason(port, session: Session, country) -> None:
    outcome = port.pay(
        session=session,
        national_id=None,
        external_id="NOBODY",
        amount=Money(country.profile.currency, 1),
        reference="R-2",
        purpose="refund",
    )
    assert outcome.state == "rejected" and "link one" in outcome.reason


def test_collect_is_idempotent_and_balanced(port, session: Session, country) -> None:
    amount = Money(country.profile.currency, 9_000)
    for _ in range(2):
        outcome = port.collect(
            session=session, national_id=None, external_id="TP-1", amount=amount, reference="TAX-P-1", purpose="tax"
        )
        assert outcome.state == "committed"
    session.commit()
    assert session.scalar(select(func.count()).select_from(Transfer)) == 1
    assert check_ledger(session=session).balanced
    with pytest.raises(Conflict):
        port.collect(
            session=session, national_id=None, external_id="TP-2", amount=amount, reference="TAX-P-1", purpose="tax"
        )


@pytest.mark.parametrize(
    ("national_id", "external_id", "reference", "field"),
    [
        (None, "EXT-1", "G2P-1-FUND", "client_reference"),  # a cycle's own reference
        (None, "EXT-1", "no spaces allowed", "client_reference"),
        (None, None, "TAX-R-9", "beneficiary"),
        (None, "bad id!", "TAX-R-9", "external_id"),
    ],
)
def test_a_payment_the_domain_refuses_is_rejected_naming_the_field(
    port, session: Session, country, national_id, external_id, reference: str, field: str
) -> None:
    for move in (port.pay, port.collect):
        outcome = move(
            session=session,
            national_id=national_id,
            external_id=external_id,
            amount=Money(country.profile.currency, 100),
            reference=reference,
            purpose="refund",
        )
        assert outcome.state == "rejected" and outcome.reason.startswith(f"{field}: "), outcome.reason
    assert session.scalar(select(func.count()).select_from(Transfer)) == 0


def test_a_collection_in_another_currency_is_rejected(port, session: Session, country) -> None:
    other = "EUR" if country.profile.currency != "EUR" else "USD"
    outcome = port.collect(
        session=session, national_id=None, external_id="TP-1", amount=Money(other, 1), reference="R-3", purpose="tax"
    )
    assert outcome.state == "rejected" and outcome.reason.startswith("currency: ")
