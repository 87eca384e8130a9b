"""Taxpayer register, returns and assessments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.ports import SectorTokens
from ...core.registry import Ports
from . import tins
from .config import TaxCountry
from .law import IncomeTaxLaw
from .models import Assessment, Taxpayer, TaxReturn
from .schemas import ReturnRequest, TaxpayerRequest

SECTION = "tax"
SECTOR = "tax"


def tax_country(country: LoadedCountry) -> TaxCountry:
    return country.section(SECTION)


def income_tax_law(*, country: LoadedCountry) -> IncomeTaxLaw:
    """The country's income-tax law in its currency's minor units (TaxLawMisconfigured if it cannot be)."""
    return IncomeTaxLaw.from_country(tax_country(country), country.profile.currency)


def register_taxpayer(
    *, session: Session, request: TaxpayerRequest, country: LoadedCountry, ports: Ports, actor: str
) -> Taxpayer:
    """Register a taxpayer and issue a TIN; registering the same party twice is a Conflict naming its TIN."""
    reference = _reference(session=session, request=request, ports=ports)
    existing = find_taxpayer(session=session, kind=request.kind, reference=reference)
    if existing is not None:
        raise _already_registered(existing)
    taxpayer = Taxpayer(
        tin=_unused_tin(session, tax_country(country).tin_length),
        kind=request.kind,
        name=request.name,
        reference=reference,
    )
    try:
        with session.begin_nested():
            session.add(taxpayer)
    except IntegrityError:
        # Another request registered the same party between our check and insert.
        existing = find_taxpayer(session=session, kind=request.kind, reference=reference)
        if existing is None:
            raise
        raise _already_registered(existing) from None
    audit.record(
        session=session,
        actor=actor,
        action="tax.taxpayer.registered",
        subject=f"taxpayer:{taxpayer.tin}",
        detail={"kind": taxpayer.kind},
    )
    return taxpayer


def get_taxpayer(*, session: Session, tin: str, country: LoadedCountry) -> Taxpayer:
    tins.validate(tin, length=tax_country(country).tin_length)
    taxpayer = session.scalar(select(Taxpayer).where(Taxpayer.tin == tin))
    if taxpayer is None:
        raise NotFound(f"tin: no taxpayer holds {tin!r}")
    return taxpayer


def find_taxpayer(*, session: Session, kind: str, reference: str) -> Taxpayer | None:
    return session.scalar(select(Taxpayer).where(Taxpayer.kind == kind, Taxpayer.reference == reference))


def file_return(*, session: Session, request: ReturnRequest, country: LoadedCountry, actor: str) -> Assessment:
    """Store a return and assess it; a second return for the same TIN and year is a Conflict."""
    currency = country.profile.currency
    if request.currency != currency:
        raise Unprocessable(f"currency: returns here are filed in {currency}, not {request.currency!r}")
    tins.validate(request.tin, length=tax_country(country).tin_length)
    if session.scalar(select(Taxpayer.id).where(Taxpayer.tin == request.tin)) is None:
        raise Unprocessable(f"tin: no taxpayer holds {request.tin!r}; register the taxpayer first")
    existing = session.scalar(select(TaxReturn).where(TaxReturn.tin == request.tin, TaxReturn.year == request.year))
    if existing is not None:
        raise _already_filed(session, existing)
    calculation = income_tax_law(country=country).calculate(income=request.income, year=request.year)
    tax_return = TaxReturn(tin=request.tin, year=request.year, income=request.income, currency=currency)
    try:
        with session.begin_nested():
            session.add(tax_return)
    except IntegrityError:
        existing = session.scalar(select(TaxReturn).where(TaxReturn.tin == request.tin, TaxReturn.year == request.year))
        if existing is None:
            raise
        raise _already_filed(session, existing) from None
    assessment = Assessment(
        return_id=tax_return.id,
        tin=request.tin,
        year=request.year,
        taxable=calculation.taxable,
        tax_due=calculation.tax_due,
        currency=currency,
        trace=calculation.trace_dicts(),
    )
    session.add(assessment)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.assessment.issued",
        subject=f"taxpayer:{request.tin}",
        detail={
            "assessment_id": assessment.id,
            "year": request.year,
            "tax_due": assessment.tax_due,
            "currency": currency,
        },
    )
    return assessment


def get_assessment(*, session: Session, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"id: no assessment {assessment_id}")
    return assessment


def _reference(*, session: Session, request: TaxpayerRequest, ports: Ports) -> str:
    if request.national_id is None:
        return f"external:{request.external_id}"
    tokens = ports.get(SectorTokens)
    if tokens is None:
        raise Unprocessable(
            "national_id: this deployment has no identity registry to check it against; "
            "register with external_id (the person's number in the existing national register) instead",
            kind="identity-not-installed",
        )
    return f"token:{tokens.token_for(session=session, national_id=request.national_id, sector=SECTOR)}"


def _unused_tin(session: Session, length: int) -> str:
    while True:
        candidate = tins.generate(length)
        if session.scalar(select(Taxpayer.id).where(Taxpayer.tin == candidate)) is None:
            return candidate


def _already_registered(taxpayer: Taxpayer) -> Conflict:
    return Conflict(f"this {taxpayer.kind} is already registered with TIN {taxpayer.tin}", tin=taxpayer.tin)


def _already_filed(session: Session, tax_return: TaxReturn) -> Conflict:
    assessment_id = session.scalar(select(Assessment.id).where(Assessment.return_id == tax_return.id))
    return Conflict(
        f"a return for TIN {tax_return.tin} and year {tax_return.year} is already filed (assessment "
        f"{assessment_id}); file an amendment to change it, not a second return",
        assessment_id=assessment_id,
    )
