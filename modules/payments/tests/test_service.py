import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.eligibility import Rule
from ....core.errors import Conflict, Unprocessable
from ....core.money import Money
from ....core.registry import Ports
from .. import service
from ..domain import AccountDetails, Beneficiary, ProgrammeTerms, TransferOrder
from ..models import Transfer
from ..programmes import Bracket, Entitlement
from ..schemas import ProgrammeIn


def _link_and_order(session: Session, ports: Ports, country: LoadedCountry) -> TransferOrder:
    beneficiary = Beneficiary(external_id="EXT-1")
    service.link_account(
        session=session,
        ports=ports,
        country=country,
        beneficiary=beneficiary,
        account=AccountDetails("bank_account", "1234567890", "BANK01"),
        actor="test",
    )
    session.commit()
    return TransferOrder("REF-1", beneficiary, Money(country.profile.currency, 500))


def test_a_reference_committed_by_a_concurrent_request_is_answered_as_a_replay(
    session: Session, ports: Ports, country: LoadedCountry, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _link_and_order(session, ports, country)
    first = service.transfer(
        session=session, ports=ports, country=country, order=order, funding_account="TREASURY", actor="a"
    )
    session.commit()
    # The second request's duplicate check runs before the first commits: its insert hits the unique key.
    monkeypatch.setattr(service, "get_transfer_or_none", _missing_once(service.get_transfer_or_none))
    second = service.transfer(
        session=session, ports=ports, country=country, order=order, funding_account="TREASURY", actor="b"
    )
    assert second.replayed
    assert second.transfer.id == first.transfer.id
    assert session.scalar(select(func.count()).select_from(Transfer)) == 1


def _missing_once(real_lookup):
    state = {"first": True}

    def lookup(**kwargs):
        if state.pop("first", False):
            return None
        return real_lookup(**kwargs)

    return lookup


def test_a_funding_account_in_another_currency_is_a_conflict(session: Session, country: LoadedCountry) -> None:
    service.ensure_funding_account(session=session, code="TREASURY", currency=country.profile.currency)
    other = "EUR" if country.profile.currency != "EUR" else "USD"
    with pytest.raises(Conflict, match=f"TREASURY holds {country.profile.currency}"):
        service.ensure_funding_account(session=session, code="TREASURY", currency=other)


@pytest.mark.parametrize(("amount", "field"), [(0, "amount"), (-5, "amount"), (2**53, "amount")])
def test_a_transfer_order_checks_its_amount(country: LoadedCountry, amount: int, field: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        TransferOrder("REF-9", Beneficiary(external_id="EXT-1"), Money(country.profile.currency, amount))
    assert refused.value.field == field


def test_a_beneficiary_is_one_id_and_names_the_field_it_is_known_by() -> None:
    assert Beneficiary(national_id="12345678").field == "national_id"
    assert Beneficiary(external_id="EXT-1").field == "external_id"
    with pytest.raises(Unprocessable) as both:
        Beneficiary(national_id="12345678", external_id="EXT-1")
    assert both.value.field == "beneficiary"


def test_programme_terms_hash_as_the_api_body_did(country: LoadedCountry) -> None:
    # Programmes stored before the terms were a domain value carry the hash of the body: a replay must match it.
    body = ProgrammeIn(
        code="CHILD-2026",
        name="Child benefit",
        currency=country.profile.currency,
        source="enrolled",
        eligibility=[Rule(attribute="age", op="<", value=18), Rule(attribute="region", op="in", value=["North"])],
        entitlement=Entitlement(flat=5_000, brackets=[Bracket(attribute="age", min=0, max=5, add=1_000)]),
        income_year=2025,
    )
    assert ProgrammeTerms.of(body).canonical() == body.model_dump(mode="json")
