"""Taxpayer status, VAT returns, amendments, deadlines and late-filing penalties (service level)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.errors import Conflict, NotFound, Unprocessable
from ....core.money import to_minor
from .. import service
from ..models import AccountEntry, Assessment, TaxReturn
from ..returns import IncomeReturn, VatDeclaration, VatReturn
from ..schemas import ReturnRequest, VatReturnRequest
from ..vat import Line, VatNotConfigured
from .helpers import a_taxpayer, a_vat_law, a_year, with_tax


def income_return(country: LoadedCountry, tin: str, income: int, year: int | None = None) -> IncomeReturn:
    return IncomeReturn(tin=tin, year=year or a_year(country), income=income, currency=country.profile.currency)


def vat_return(country: LoadedCountry, tin: str, period: str, sales, purchases=()) -> VatReturn:
    declaration = VatDeclaration(
        currency=country.profile.currency,
        sales=tuple(Line(category, amount) for category, amount in sales),
        purchases=tuple(Line(category, amount) for category, amount in purchases),
    )
    return VatReturn(tin=tin, period=period, declaration=declaration)


def test_status_changes_and_a_death_is_final(session: Session, country: LoadedCountry) -> None:
    tin = a_taxpayer(session, country).tin
    assert service.set_status(session=session, tin=tin, status="deregistered", country=country, actor="t").status == (
        "deregistered"
    )
    with pytest.raises(Conflict, match="only an active taxpayer files returns"):
        service.file_return(session=session, filed=income_return(country, tin, 1000), country=country, actor="t")
    with pytest.raises(Conflict, match="is deregistered; it can become active, deceased"):
        service.set_status(session=session, tin=tin, status="deregistered", country=country, actor="t")
    service.set_status(session=session, tin=tin, status="active", country=country, actor="t")
    service.set_status(session=session, tin=tin, status="deceased", country=country, actor="t")
    with pytest.raises(Conflict, match="a death is final"):
        service.set_status(session=session, tin=tin, status="active", country=country, actor="t")


def test_vat_is_refused_where_none_is_configured(session: Session, country: LoadedCountry) -> None:
    bare = with_tax(country, vat=None)
    tin = a_taxpayer(session, bare).tin
    with pytest.raises(VatNotConfigured, match="no VAT law") as error:
        service.file_vat_return(
            session=session, filed=vat_return(bare, tin, "2024-03", [("standard", 100)]), country=bare, actor="t"
        )
    assert error.value.status == 422
    assert session.scalar(select(Assessment.id)) is None


def test_vat_output_minus_input_with_reduced_and_exempt_lines(session: Session, country: LoadedCountry) -> None:
    vat = with_tax(country, vat=a_vat_law(country))
    tin = a_taxpayer(session, vat, kind="business", external_id="BUS-1").tin
    filed = vat_return(
        vat,
        tin,
        "2024-03",
        sales=[("standard", 1_000_000), ("food", 500_000), ("medical", 9_999_999)],
        purchases=[("standard", 250_000), ("education", 777_777)],
    )
    assessment = service.file_vat_return(session=session, filed=filed, country=vat, actor="t", today=date(2024, 4, 5))
    # 16% of 1,000,000 + 8% of 500,000 = 200,000 output; 16% of 250,000 = 40,000 input; exempt lines carry none.
    assert assessment.tax_due == 160_000
    assert (assessment.kind, assessment.period, assessment.due_on) == ("vat", "2024-03", date(2024, 4, 20))
    steps = {step["step"]: step for step in assessment.trace}
    assert steps["output_vat"]["after"] == 200_000
    assert steps["input_vat"]["after"] == 40_000
    assert any(s["category"] == "medical" and s["rate"] is None for s in assessment.trace if s["step"] == "output_line")
    # The rate in force at the start of the period applies: 18% from 2025.
    later = service.file_vat_return(
        session=session, filed=vat_return(vat, tin, "2025-01", [("standard", 100)]), country=vat, actor="t"
    )
    assert later.tax_due == 18
    with pytest.raises(Conflict, match="amendment"):
        service.file_vat_return(
            session=session, filed=vat_return(vat, tin, "2025-01", [("standard", 1)]), country=vat, actor="t"
        )


def test_a_vat_credit_is_a_negative_liability_and_rounding_is_applied_per_side(
    session: Session, country: LoadedCountry
) -> None:
    vat = with_tax(country, vat=a_vat_law(country, rounding={"mode": "down", "quantum": "1"}))
    unit = to_minor("1", country.profile.currency)
    tin = a_taxpayer(session, vat, kind="business", external_id="BUS-2").tin
    filed = vat_return(vat, tin, "2024-02", sales=[("standard", 7 * unit)], purchases=[("standard", 70 * unit)])
    assessment = service.file_vat_return(session=session, filed=filed, country=vat, actor="t")
    # 16% of 7 = 1.12 -> 1; 16% of 70 = 11.2 -> 11 (whole major units, rounded down).
    assert assessment.tax_due == (1 - 11) * unit


@pytest.mark.parametrize(("period", "message"), [("2024", "not a VAT month"), ("2024-13", "not a VAT month")])
def test_a_vat_period_must_match_the_law(session: Session, country: LoadedCountry, period: str, message: str) -> None:
    vat = with_tax(country, vat=a_vat_law(country))
    tin = a_taxpayer(session, vat, kind="business", external_id="BUS-3").tin
    with pytest.raises(Unprocessable, match=message):
        service.file_vat_return(
            session=session, filed=vat_return(vat, tin, period, [("standard", 1)]), country=vat, actor="t"
        )
    with pytest.raises(Unprocessable, match=r"no tax\.vat\.rate is in force on 2018-01-01"):
        service.file_vat_return(
            session=session, filed=vat_return(vat, tin, "2018-01", [("standard", 1)]), country=vat, actor="t"
        )


def test_quarterly_and_yearly_vat_periods(country: LoadedCountry) -> None:
    rules = service.rules_for(with_tax(country, vat=a_vat_law(country, period="quarter")))
    q = rules.vat_period("2024-Q4")
    assert (q.start, q.end, rules.vat_deadline(q)) == (date(2024, 10, 1), date(2024, 12, 31), date(2025, 1, 20))
    yearly = service.rules_for(with_tax(country, vat=a_vat_law(country, period="year"))).vat_period("2024")
    assert (yearly.start, yearly.end) == (date(2024, 1, 1), date(2024, 12, 31))


@pytest.mark.parametrize(
    ("start", "deadline", "year", "due"),
    [
        ("01-01", {"months_after_year_end": 6}, 2024, date(2025, 6, 30)),
        ("01-01", "03-15", 2024, date(2025, 3, 15)),
        ("07-01", {"months_after_year_end": 6}, 2024, date(2025, 12, 31)),
        ("07-01", "03-15", 2024, date(2026, 3, 15)),
        ("04-01", {"months_after_year_end": 0}, 2024, date(2025, 3, 31)),
    ],
)
def test_filing_deadlines_follow_the_fiscal_year(
    country: LoadedCountry, start: str, deadline: object, year: int, due: date
) -> None:
    rules = service.rules_for(with_tax(country, fiscal_year_start=start, filing_deadline=deadline))
    assert rules.income_deadline(year) == due


def test_the_default_deadline_is_six_months_after_the_year_end(country: LoadedCountry) -> None:
    plain = with_tax(country, drop=("filing_deadline",), fiscal_year_start="01-01")
    assert service.rules_for(plain).section.filing_deadline.months_after_year_end == 6


def late_law(country: LoadedCountry, **penalty: object) -> LoadedCountry:
    return with_tax(
        country,
        penalties={
            "late_filing": [{"since": "2000-01-01", "fixed": "100", "rate": "0.05", **penalty}],
            "rounding": {"mode": "down", "quantum": "1"},
        },
    )


@pytest.mark.parametrize(("combine", "expected_major"), [("greater", 100), ("sum", 100 + 50)])
def test_late_filing_penalty_fixed_or_share_of_the_tax(
    session: Session, country: LoadedCountry, combine: str, expected_major: int
) -> None:
    late = late_law(country, combine=combine)
    rules = service.rules_for(late)
    unit = to_minor("1", country.profile.currency)
    deadline = date(2025, 6, 30)
    assert rules.late_filing_penalty(tax=1000 * unit, filed_on=deadline, deadline=deadline).amount == 0
    assert rules.late_filing_penalty(tax=1000 * unit, filed_on=date(2025, 7, 1), deadline=deadline).amount == (
        expected_major * unit
    )
    big = rules.late_filing_penalty(tax=10_000 * unit, filed_on=date(2025, 7, 1), deadline=deadline)
    assert big.amount == (500 if combine == "greater" else 600) * unit
    assert "tax.penalties.late_filing since 2000-01-01" in big.trace[0].note


def test_a_late_return_carries_the_penalty_into_the_account(session: Session, country: LoadedCountry) -> None:
    late = late_law(country)
    year = a_year(country)
    tin = a_taxpayer(session, late).tin
    due = service.rules_for(late).income_deadline(year)
    income = service.rules_for(late).income.scale_in_force(year)[-1].threshold * 2
    assessment = service.file_return(
        session=session,
        filed=income_return(late, tin, income, year),
        country=late,
        actor="t",
        today=date(due.year + 1, 1, 1),
    )
    assert assessment.penalty > 0
    assert assessment.trace[-1]["step"] == "late_filing"
    entries = session.scalars(select(AccountEntry).where(AccountEntry.tin == tin).order_by(AccountEntry.id)).all()
    assert [(e.kind, e.amount) for e in entries] == [("assessed", assessment.tax_due), ("penalty", assessment.penalty)]


def test_an_amendment_is_a_new_version_and_supersedes_the_assessment(session: Session, country: LoadedCountry) -> None:
    year = a_year(country)
    tin = a_taxpayer(session, country).tin
    brackets = service.income_tax_law(country=country).scale_in_force(year)
    high = brackets[-1].threshold * 2 + 123_456
    first = service.file_return(
        session=session,
        filed=income_return(country, tin, high, year),
        country=country,
        actor="t",
        today=date(year + 1, 1, 2),
    )
    second = service.amend_return(
        session=session, tin=tin, kind="income", period=str(year), income=high // 2, country=country, actor="t"
    )
    assert second.id != first.id
    assert (first.state, first.superseded_by, second.state) == ("superseded", second.id, "current")
    assert second.tax_due < first.tax_due
    assert second.trace[0]["step"] == "version"
    entries = session.scalars(select(AccountEntry).where(AccountEntry.tin == tin).order_by(AccountEntry.id)).all()
    assert sum(e.amount for e in entries) == second.tax_due + second.penalty
    assert [e.kind for e in entries] == ["assessed", "assessed", "superseded"]
    with pytest.raises(NotFound, match="to amend; file a return first"):
        service.amend_return(
            session=session, tin=tin, kind="income", period=str(year + 1), income=1, country=country, actor="t"
        )


def test_a_vat_amendment_replaces_the_lines(session: Session, country: LoadedCountry) -> None:
    vat = with_tax(country, vat=a_vat_law(country))
    tin = a_taxpayer(session, vat, kind="business", external_id="BUS-4").tin
    service.file_vat_return(
        session=session, filed=vat_return(vat, tin, "2024-05", [("standard", 1000)]), country=vat, actor="t"
    )
    lines = VatDeclaration(currency=country.profile.currency, sales=(Line("food", 1000),))
    amended = service.amend_return(
        session=session, tin=tin, kind="vat", period="2024-05", vat=lines, country=vat, actor="t"
    )
    assert amended.tax_due == 80


def test_a_return_in_another_currency_is_refused_naming_the_field(session: Session, country: LoadedCountry) -> None:
    tin = a_taxpayer(session, country, external_id="CUR-1").tin
    other = "JPY" if country.profile.currency != "JPY" else "EUR"
    filed = IncomeReturn(tin=tin, year=a_year(country), income=1000, currency=other)
    with pytest.raises(Unprocessable) as refused:
        service.file_return(session=session, filed=filed, country=country, actor="t")
    assert refused.value.field == "currency"
    assert refused.value.detail.startswith("currency: ")


def test_the_api_bodies_become_the_same_domain_values(country: LoadedCountry) -> None:
    currency = country.profile.currency
    body = ReturnRequest.model_validate({"tin": "12345678", "year": 2024, "income": 1000, "currency": currency})
    assert body.as_income_return() == IncomeReturn(tin="12345678", year=2024, income=1000, currency=currency)
    vat_body = VatReturnRequest.model_validate(
        {
            "tin": "12345678",
            "period": "2024-03",
            "currency": currency,
            "sales": [{"amount": 5}, {"category": "food", "amount": 7}],
            "purchases": [{"category": "standard", "amount": 3}],
        }
    )
    declared = VatDeclaration(currency, sales=(Line("standard", 5), Line("food", 7)), purchases=(Line("standard", 3),))
    assert vat_body.as_vat_return() == VatReturn(tin="12345678", period="2024-03", declaration=declared)


def test_a_vat_return_stores_its_lines_as_before(session: Session, country: LoadedCountry) -> None:
    vat = with_tax(country, vat=a_vat_law(country))
    tin = a_taxpayer(session, vat, kind="business", external_id="BUS-5").tin
    filed = vat_return(vat, tin, "2024-06", sales=[("standard", 1000), ("food", 200)], purchases=[("standard", 50)])
    assessment = service.file_vat_return(session=session, filed=filed, country=vat, actor="t")
    stored = session.get(TaxReturn, assessment.return_id)
    assert stored is not None and stored.income == 1200
    assert stored.lines == {
        "sales": [{"category": "standard", "amount": 1000}, {"category": "food", "amount": 200}],
        "purchases": [{"category": "standard", "amount": 50}],
    }
