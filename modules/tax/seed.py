"""Demo taxpayers registered by external ID, each filing a return for last year."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from faker import Faker

from ...core.errors import Conflict, Problem
from ...core.i18n import _
from ...core.money import Money
from ...core.registry import SeedContext
from . import service
from .parties import NewTaxpayer
from .returns import IncomeReturn

# Income of each demo taxpayer as a multiple of the second threshold of the scale in
# force (or of 100,000 major units for a flat scale), so every country sees several bands.
DEMO_TAXPAYERS = (
    ("individual", "DEMO-IND-0001", Decimal("0.5")),
    ("individual", "DEMO-IND-0002", Decimal("2")),
    ("individual", "DEMO-IND-0003", Decimal("12")),
    ("business", "DEMO-BUS-0001", Decimal("40")),
)
FLAT_SCALE_UNIT = 100_000


def seed(context: SeedContext) -> list[str]:
    country = context.country
    currency = country.profile.currency
    law = service.income_tax_law(country=country)
    year = law.year_of(date.today()) - 1  # the last complete fiscal year
    try:
        brackets = law.scale_in_force(year)
    except Problem as problem:
        return ["tax: " + _("no demo returns for {year}: {problem}").format(year=year, problem=problem.detail)]
    unit = brackets[1].threshold if len(brackets) > 1 else Money.from_major(FLAT_SCALE_UNIT, currency).amount
    fake = _faker(country.profile.locale)
    lines = []
    for kind, external_id, multiple in DEMO_TAXPAYERS:
        taxpayer = service.find_taxpayer(session=context.session, kind=kind, reference=f"external:{external_id}")
        if taxpayer is None:
            party = NewTaxpayer(
                kind=kind, name=fake.name() if kind == "individual" else fake.company(), external_id=external_id
            )
            taxpayer = service.register_taxpayer(
                session=context.session, party=party, country=country, ports=context.ports, actor="seed"
            )
        income = int(unit * multiple)
        try:
            assessment = service.file_return(
                session=context.session,
                filed=IncomeReturn(tin=taxpayer.tin, year=year, income=income, currency=currency),
                country=country,
                actor="seed",
            )
        except Conflict:
            continue  # already filed by an earlier seed run
        lines.append(
            "tax: "
            + _(
                "TIN {tin} ({kind}, {external_id}) income {income} for {year}: "
                "tax due {tax_due} (assessment {assessment_id})"
            ).format(
                tin=taxpayer.tin,
                kind=kind,
                external_id=external_id,
                income=law.format_amount(income),
                year=year,
                tax_due=law.format_amount(assessment.tax_due),
                assessment_id=assessment.id,
            )
        )
    return lines


def _faker(locale: str) -> Faker:
    try:
        return Faker(locale)
    except AttributeError:
        return Faker("en")
