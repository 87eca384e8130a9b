"""What the loans tests share: a product's terms, an applicant as this module combination takes one,
and what the page tests (TestClient and browser) set up: a resident, a product, a loan made."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.money import major_text, to_minor
from ....core.ports import Disbursements, SectorTokens
from ....core.registry import Ports
from ..config import LoansSettings
from ..models import Application, Loan

IBAN = "DE89370400440532013000"
OFFICER, MANAGER = "loans.loan_officer", "loans.portfolio_manager"
HOME, APPLY = "/me/loans", "/me/loans/apply"
APPLICATIONS, PORTFOLIO = "/console/loans/applications", "/console/loans/portfolio"
_numbers = itertools.count(1)
GIVEN_NAMES = ("Amina", "Kofi", "Wanjiru", "Tesfaye", "Aisha", "Juma", "Chidi", "Selam", "Baraka", "Zainab", "Omondi")
FAMILY_NAMES = ("Otieno", "Mensah", "Kamau", "Bekele", "Okafor", "Mwangi", "Haile", "Adeyemi", "Njoroge", "Asante")

TERMS: dict[str, Any] = {
    "interest_method": "declining",
    "annual_rate": "0.24",
    "instalments": 12,
    "frequency": "monthly",
    "fee_rate": "0.01",
    "fee_flat": 500,
    "min_principal": 10_000,
    "max_principal": 5_000_000,
    "penalty": {"rate": "0.05", "flat": 100, "after_days": 3},
}


def create_product(client: TestClient, headers: dict[str, str], code: str | None = None, **terms: Any) -> str:
    code = code or f"MICRO-{next(_numbers)}"
    body = {"code": code, "name": "Micro-loan", "terms": {**TERMS, **terms}}
    response = client.post("/loans/products", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return code


def applicant(client: TestClient, api_headers: Any, ports: Ports) -> dict[str, str]:
    """The applicant fields of a new person: by national ID (enrolled, with consent) where identity is
    installed, else by external ID; with a linked account where payments is, else an account to pay."""
    number = next(_numbers)
    if ports.provides(SectorTokens):
        response = client.post(
            "/identity/enrolments",
            json={
                "application_id": f"LOAN-APP-{number}",
                # Names and birth dates far apart, so identity's de-duplication never holds one as another.
                "given_name": GIVEN_NAMES[number % len(GIVEN_NAMES)],
                "family_name": FAMILY_NAMES[number % len(FAMILY_NAMES)] + str(number),
                "date_of_birth": f"{1950 + number % 50}-{1 + number % 12:02d}-{1 + number % 28:02d}",
                "sex": "F",
            },
            headers=api_headers("identity:enrol"),
        )
        assert response.status_code == 201, response.text
        who = {"national_id": response.json()["national_id"], "consent": f"CONSENT-{number}"}
    else:
        who = {"external_id": f"BORROWER-{number}"}
    if not ports.provides(Disbursements):
        return {**who, "account": IBAN}
    beneficiary = {key: value for key, value in who.items() if key != "consent"}
    linked = client.post(
        "/payments/accounts",
        json={"beneficiary": beneficiary, "account": {"kind": "iban", "number": IBAN}},
        headers=api_headers("payments:link"),
    )
    assert linked.status_code in (200, 201), linked.text
    return who


@dataclass(frozen=True)
class ApplyingResident:
    """A resident who can sign in (`cookies`) and a product they may apply for."""

    national_id: str
    cookies: dict[str, str]
    product: str


@dataclass(frozen=True)
class HeldApplication:
    """An application above the four-eyes amount, awaiting a second officer; `maker` is its submitter's cookies."""

    reference: str
    product: str
    maker: dict[str, str]


def a_resident(client: TestClient, api_headers: Any, ports: Ports) -> str:
    """The national ID of a new person who can sign in to the portal (with a linked account where payments is
    installed); skips without identity."""
    if not ports.provides(SectorTokens):
        pytest.skip("residents sign in through the identity module")
    return applicant(client, api_headers, ports)["national_id"]


def threshold(country: LoadedCountry) -> int:
    """The four-eyes amount, in minor units: an application above it is held for a second officer."""
    return to_minor(LoansSettings().four_eyes_above, country.profile.currency)


def a_product(client: TestClient, staff_headers: Any, country: LoadedCountry) -> str:
    """A product lending up to three times the four-eyes amount, so large loans are held."""
    return create_product(client, staff_headers(MANAGER), max_principal=threshold(country) * 3)


def typed(country: LoadedCountry, minor: int) -> str:
    """`minor` units as a person types them into a form, in the country's currency."""
    return major_text(minor, country.profile.currency)


def loan_of(session: Session, reference: str) -> Loan:
    """The loan the application `reference` made."""
    session.expire_all()
    application = session.scalars(select(Application).where(Application.reference == reference)).one()
    return session.scalars(select(Loan).where(Loan.application_id == application.id)).one()
