"""Tax's part of the whole journey (core tests/journeys.py): register a taxpayer, file a return, see it assessed.

The taxpayer is the resident identity enrolled when it is installed, else an external ID.
"""

from __future__ import annotations

from ....tests.journeys import Journey
from ..scopes import FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from ..service import income_tax_law
from .helpers import a_year

NAME = "Zephyrine Quillbrook"  # identity's resident when it is installed; searched for in the logs either way


def run(journey: Journey) -> None:
    country = journey.runtime.country
    clerk = journey.partner(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE)
    national_id = journey.facts.get("national_id")
    party = {"national_id": national_id} if national_id else {"external_id": "JOURNEY-TAXPAYER-1"}
    taxpayer = journey.call(
        "POST", "/tax/taxpayers", json={"kind": "individual", "name": NAME, **party}, headers=clerk.headers
    )
    journey.personal |= {NAME, taxpayer["tin"]}
    year = a_year(country)
    income = income_tax_law(country=country).scale_in_force(year)[-1].threshold * 2
    filed = {"tin": taxpayer["tin"], "year": year, "income": income, "currency": country.profile.currency}
    assessed = journey.call("POST", "/tax/returns", json=filed, headers=clerk.headers)
    assert assessed["tax_due"] > 0, assessed
    journey.call("GET", f"/tax/assessments/{assessed['id']}", headers=clerk.headers)
    journey.cli("tax", "calc", "--year", str(year), "--income", "100000")
    journey.events.add("tax.assessment")
    journey.moves.add('nation_stack_tax_assessments_total{kind="income"}')
