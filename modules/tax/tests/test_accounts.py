"""Running accounts: assessments, payments (receipt or the Disbursements port), refunds, interest."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.errors import Conflict, Unprocessable
from ....core.money import Money, to_minor
from ....core.ports import Disbursements, PaymentOutcome, SectorTokens
from .. import accounts, service
from ..parties import NewTaxpayer
from ..returns import IncomeReturn
from .helpers import a_taxpayer, a_year, minor, with_tax


class FakeDisbursements:
    def __init__(self, state: str = "committed") -> None:
        self.state = state
        self.calls: list[tuple[str, dict]] = []

    def pay(self, **kwargs) -> PaymentOutcome:
        self.calls.append(("pay", kwargs))
        return PaymentOutcome(kwargs["reference"], self.state, None if self.state != "rejected" else "closed account")

    def collect(self, **kwargs) -> PaymentOutcome:
        self.calls.append(("collect", kwargs))
        return PaymentOutcome(kwargs["reference"], self.state, None if self.state != "rejected" else "no funds")


class FakeTokens:
    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        return f"tok-{sector}-{national_id}"


class FakePorts:
    def __init__(self, **ports: object) -> None:
        self.ports = {Disbursements: ports.get("disbursements"), SectorTokens: ports.get("tokens")}

    def get(self, port: type) -> object | None:
        return self.ports.get(port)


NO_PORTS = FakePorts()


def assessed(session: Session, country: LoadedCountry, tin: str, year: int, today: date):
    income = service.income_tax_law(country=country).scale_in_force(year)[-1].threshold * 2
    filed = IncomeReturn(tin=tin, year=year, income=income, currency=country.profile.currency)
    return service.file_return(session=session, filed=filed, country=country, actor="t", today=today)


def test_a_payment_without_the_payments_module_is_a_receipt(session: Session, country: LoadedCountry) -> None:
    year = a_year(country)
    tin = a_taxpayer(session, country).tin
    assessment = assessed(session, country, tin, year, date(year + 1, 1, 5))
    entry = accounts.pay(
        session=session,
        tin=tin,
        amount=1000,
        reference="R-1",
        national_id=None,
        country=country,
        ports=NO_PORTS,
        actor="t",
        today=date(year + 1, 1, 10),
    )
    assert (entry.kind, entry.amount, entry.channel, entry.state) == ("paid", -1000, "receipt", "committed")
    again = accounts.pay(
        session=session,
        tin=tin,
        amount=1000,
        reference="R-1",
        national_id=None,
        country=country,
        ports=NO_PORTS,
        actor="t",
        today=date(year + 1, 1, 10),
    )
    assert again.id == entry.id
    with pytest.raises(Conflict, match="already used"):
        accounts.pay(
            session=session,
            tin=tin,
            amount=999,
            reference="R-1",
            national_id=None,
            country=country,
            ports=NO_PORTS,
            actor="t",
        )
    account = accounts.statement(session=session, tin=tin, country=country, as_of=date(year + 1, 2, 1))
    assert account.totals["assessed"] == assessment.tax_due
    assert account.totals["paid"] == -1000
    assert account.balance == assessment.tax_due - 1000
    assert account.interest == 0  # no interest configured in the shipped profile, or not yet due


def interest_law(country: LoadedCountry) -> LoadedCountry:
    return with_tax(
        country,
        fiscal_year_start="01-01",  # the dates below assume calendar years
        filing_deadline="06-30",
        penalties={
            "interest": [{"since": "2000-01-01", "monthly_rate": "0.01"}],
            "rounding": {"mode": "down", "quantum": minor(country)},
        },
    )


def test_interest_per_month_or_part_of_a_month_on_unpaid_tax(session: Session, country: LoadedCountry) -> None:
    law = interest_law(country)
    year = a_year(country)
    tin = a_taxpayer(session, law).tin
    assessment = assessed(session, law, tin, year, date(year + 1, 1, 5))
    due = date(year + 1, 6, 30)
    assert assessment.due_on == due
    tax = assessment.tax_due
    on_time = accounts.statement(session=session, tin=tin, country=law, as_of=due)
    assert on_time.interest == 0
    # 30 June + 2 months and a day: three months begun, 1% each.
    three = accounts.statement(session=session, tin=tin, country=law, as_of=date(year + 1, 8, 31))
    assert three.interest == tax * 3 // 100
    assert [(d["due"], d["amount"], d["months"]) for d in three.interest_detail] == [(due.isoformat(), tax, 3)]
    assert three.balance == tax + three.interest
    # Half paid on 15 July: that half costs one month, the rest runs on.
    half = tax // 2
    accounts.pay(
        session=session,
        tin=tin,
        amount=half,
        reference="P-1",
        national_id=None,
        country=law,
        ports=NO_PORTS,
        actor="t",
        today=date(year + 1, 7, 15),
    )
    later = accounts.statement(session=session, tin=tin, country=law, as_of=date(year + 1, 8, 31))
    assert later.interest == (half * 1 + (tax - half) * 3) // 100


def test_payment_through_the_disbursements_port(session: Session, country: LoadedCountry) -> None:
    year = a_year(country)
    tin = a_taxpayer(session, country, external_id="EXT-77").tin
    assessed(session, country, tin, year, date(year + 1, 1, 5))
    port = FakeDisbursements()
    entry = accounts.pay(
        session=session,
        tin=tin,
        amount=500,
        reference="BANK-9",
        national_id=None,
        country=country,
        ports=FakePorts(disbursements=port),
        actor="t",
    )
    assert (entry.channel, entry.state) == ("payments", "committed")
    ((method, call),) = port.calls
    assert method == "collect"
    assert (call["external_id"], call["national_id"]) == ("EXT-77", None)
    assert call["amount"] == Money(country.profile.currency, 500)
    assert call["reference"] == "tax-payment:BANK-9"
    rejected = FakePorts(disbursements=FakeDisbursements("rejected"))
    with pytest.raises(Unprocessable, match="no funds"):
        accounts.pay(
            session=session,
            tin=tin,
            amount=500,
            reference="BANK-10",
            national_id=None,
            country=country,
            ports=rejected,
            actor="t",
        )


def test_a_credit_is_refunded_to_the_linked_account(session: Session, country: LoadedCountry) -> None:
    year = a_year(country)
    tokens = FakeTokens()
    party = NewTaxpayer(kind="individual", name="Refunded", national_id="2934567891")
    tin = service.register_taxpayer(
        session=session, party=party, country=country, ports=FakePorts(tokens=tokens), actor="t"
    ).tin
    assessment = assessed(session, country, tin, year, date(year + 1, 1, 5))
    port = FakeDisbursements()
    ports = FakePorts(disbursements=port, tokens=tokens)
    accounts.pay(
        session=session,
        tin=tin,
        amount=assessment.tax_due,
        reference="FULL",
        national_id="2934567891",
        country=country,
        ports=ports,
        actor="t",
    )
    service.amend_return(
        session=session, tin=tin, kind="income", period=str(year), income=0, country=country, actor="t"
    )
    credit = -accounts.statement(session=session, tin=tin, country=country).balance
    assert credit == assessment.tax_due
    with pytest.raises(Unprocessable, match="no payments module"):
        accounts.refund(
            session=session,
            tin=tin,
            amount=None,
            reference="RF-1",
            national_id="2934567891",
            country=country,
            ports=FakePorts(tokens=tokens),
            actor="t",
        )
    with pytest.raises(Unprocessable, match="give it to reach their linked account"):
        accounts.refund(
            session=session,
            tin=tin,
            amount=None,
            reference="RF-1",
            national_id=None,
            country=country,
            ports=ports,
            actor="t",
        )
    with pytest.raises(Unprocessable, match="does not belong to taxpayer"):
        accounts.refund(
            session=session,
            tin=tin,
            amount=None,
            reference="RF-1",
            national_id="1111111111",
            country=country,
            ports=ports,
            actor="t",
        )
    with pytest.raises(Unprocessable, match="more than the credit"):
        accounts.refund(
            session=session,
            tin=tin,
            amount=credit + 1,
            reference="RF-1",
            national_id="2934567891",
            country=country,
            ports=ports,
            actor="t",
        )
    entry = accounts.refund(
        session=session,
        tin=tin,
        amount=None,
        reference="RF-1",
        national_id="2934567891",
        country=country,
        ports=ports,
        actor="t",
    )
    assert (entry.kind, entry.amount, entry.state) == ("refunded", credit, "committed")
    method, call = port.calls[-1]
    assert (method, call["national_id"], call["external_id"]) == ("pay", "2934567891", None)
    assert call["amount"].amount == credit
    assert accounts.statement(session=session, tin=tin, country=country).balance == 0
    with pytest.raises(Conflict, match="no credit to refund"):
        accounts.refund(
            session=session,
            tin=tin,
            amount=None,
            reference="RF-2",
            national_id="2934567891",
            country=country,
            ports=ports,
            actor="t",
        )
    assert to_minor("0", country.profile.currency) == 0
