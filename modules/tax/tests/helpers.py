"""Shared helpers: the deployment's profile with a changed tax law, a registered taxpayer, a year in force."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.country import LoadedCountry
from ....core.money import minor_units
from ....core.registry import Ports
from .. import service
from ..config import TaxCountry
from ..models import Taxpayer
from ..parties import NewTaxpayer

# Who lodges objections in the service tests, and the officers who decide them (four-eyes).
LODGER = Signatory(person="partner:1", actor="partner:agent")
CHECKERS = (
    Signatory(person="staff:2", actor="staff:officer2 (tax.officer)", role="tax.officer"),
    Signatory(person="staff:3", actor="staff:officer3 (tax.officer)", role="tax.officer"),
    Signatory(person="staff:4", actor="staff:officer4 (tax.officer)", role="tax.officer"),
)


def minor(country: LoadedCountry) -> str:
    """One minor unit of the deployment's currency in major units ("0.01", "1", "0.001")."""
    return str(Decimal(1).scaleb(-minor_units(country.profile.currency)))


def with_tax(country: LoadedCountry, *, drop: tuple[str, ...] = (), **changes: Any) -> LoadedCountry:
    """The deployment's profile with keys of its `tax:` section replaced or dropped (validated as at start-up).

    A Gregorian fiscal year is assumed when the changes give a start or a deadline without a calendar.
    """
    data = country.section("tax").model_dump(by_alias=True, mode="json")
    if {"fiscal_year_start", "filing_deadline"} & changes.keys() and "fiscal_calendar" not in changes:
        data.update(fiscal_calendar="gregorian", fiscal_year_named_by="start")
    for key in drop:
        data.pop(key, None)
    data.update(changes)
    section = TaxCountry.model_validate(data, context={"currency": country.profile.currency})
    return LoadedCountry(profile=country.profile, sections={**country.sections, "tax": section})


def a_vat_law(country: LoadedCountry, **changes: Any) -> dict[str, Any]:
    return {
        "rate": [{"since": "2019-01-01", "rate": "0.16"}, {"since": "2025-01-01", "rate": "0.18"}],
        "reduced": {"food": [{"since": "2019-01-01", "rate": "0.08"}]},
        "exempt": ["medical", "education"],
        "period": "month",
        "filing_deadline_days": 20,
        "rounding": {"mode": "half_up", "quantum": minor(country)},
        **changes,
    }


def a_year_before_the_law(country: LoadedCountry) -> int:
    """A fiscal year that starts before the earliest scale (numbered in the profile's fiscal calendar)."""
    earliest = min(scale.since for scale in country.section("tax").income_tax.scale)
    return service.income_tax_law(country=country).year_of(earliest) - 1


def a_year(country: LoadedCountry) -> int:
    """A fiscal year under the latest scale, and over before today (tests date events after it)."""
    latest = max(scale.since for scale in country.section("tax").income_tax.scale).year + 1
    return min(latest, service.income_tax_law(country=country).year_of(date.today()) - 1)


def a_taxpayer(
    session: Session, country: LoadedCountry, external_id: str = "EXT-1", kind: str = "individual"
) -> Taxpayer:
    party = NewTaxpayer(kind=kind, name="Test Taxpayer", external_id=external_id)
    return service.register_taxpayer(session=session, party=party, country=country, ports=Ports((), None), actor="test")
