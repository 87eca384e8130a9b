"""Taxpayer register, returns (income tax and VAT), amendments and assessments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...core import audit
from ...core.authorisation import region_of
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.i18n import _
from ...core.ports import SectorTokens
from ...core.registry import Finding, Ports, installed_modules
from . import tins
from .config import TaxCountry
from .law import IncomeTaxLaw, Provision, TaxLawMisconfigured, TraceStep, missing_law_detail
from .metrics import ASSESSMENTS
from .models import (
    AccountEntry,
    Assessment,
    AssessmentState,
    EntryKind,
    ReturnKind,
    Taxpayer,
    TaxpayerStatus,
    TaxReturn,
)
from .parties import NewTaxpayer
from .returns import IncomeReturn, VatDeclaration, VatReturn
from .rules import SECTION, TaxRules
from .vat import Line

SECTOR = "tax"
log = structlog.get_logger(__name__)  # internal ids and kinds only: never a TIN, a name or an ID number

# Which status changes the register allows: a death is final.
TRANSITIONS = {
    TaxpayerStatus.ACTIVE: {TaxpayerStatus.DEREGISTERED, TaxpayerStatus.DECEASED},
    TaxpayerStatus.DEREGISTERED: {TaxpayerStatus.ACTIVE, TaxpayerStatus.DECEASED},
    TaxpayerStatus.DECEASED: set(),
}


def tax_country(country: LoadedCountry) -> TaxCountry:
    return country.section(SECTION)


def rules_for(country: LoadedCountry) -> TaxRules:
    """The deployment's tax law in its currency's minor units, built once (TaxLawMisconfigured if it cannot be)."""
    return TaxRules.for_country(country)


def income_tax_law(*, country: LoadedCountry) -> IncomeTaxLaw:
    return rules_for(country).income


def configuration_findings(country: LoadedCountry) -> list[Finding]:
    """What `check` and /meta say of the law: without an income-tax law `check` fails."""
    try:
        provision = income_tax_law(country=country).provision
    except TaxLawMisconfigured as problem:
        return [Finding(problem.detail, failing=True)]
    if provision is Provision.GIVEN:
        return []
    return [Finding(missing_law_detail(provision), failing=provision is Provision.NOT_GIVEN)]


# Register --------------------------------------------------------------------------------


def register_taxpayer(
    *, session: Session, party: NewTaxpayer, country: LoadedCountry, ports: Ports, actor: str
) -> Taxpayer:
    """Register a taxpayer and issue a TIN; registering the same party twice is a Conflict naming its TIN."""
    _check_address(party.address, country.profile.address_levels)
    reference = _reference(session=session, party=party, ports=ports)
    existing = find_taxpayer(session=session, kind=party.kind, reference=reference)
    if existing is not None:
        raise _already_registered(existing)
    taxpayer = Taxpayer(
        tin=_unused_tin(session, tax_country(country).tin_length),
        kind=party.kind,
        name=party.name,
        reference=reference,
        status=TaxpayerStatus.ACTIVE,
        region=region_of(party.address, country),
    )
    try:
        with session.begin_nested():
            session.add(taxpayer)
    except IntegrityError:
        # Another request registered the same party between our check and insert.
        existing = find_taxpayer(session=session, kind=party.kind, reference=reference)
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


def _check_address(address: Mapping[str, str], levels: list[str]) -> None:
    unknown = sorted(set(address) - set(levels))
    if unknown:
        raise Unprocessable(
            _("unknown level(s) {unknown}; allowed: {allowed}").format(
                unknown=", ".join(unknown), allowed=", ".join(levels)
            ),
            field="address",
        )


def get_taxpayer(*, session: Session, tin: str, country: LoadedCountry) -> Taxpayer:
    tins.validate(tin, length=tax_country(country).tin_length)
    taxpayer = session.scalar(select(Taxpayer).where(Taxpayer.tin == tin))
    if taxpayer is None:
        raise NotFound(_("no taxpayer holds '{tin}'").format(tin=tin), field="tin")
    return taxpayer


def find_taxpayer(*, session: Session, kind: str, reference: str) -> Taxpayer | None:
    return session.scalar(select(Taxpayer).where(Taxpayer.kind == kind, Taxpayer.reference == reference))


def taxpayer_of_person(*, session: Session, national_id: str, ports: Ports) -> Taxpayer | None:
    """The individual registered with this national ID (held as its tax sector token only); None if nobody is,
    or where no identity registry issues the tokens."""
    tokens = ports.get(SectorTokens)
    if tokens is None:
        return None
    token = tokens.token_for(session=session, national_id=national_id, sector=SECTOR)
    return find_taxpayer(session=session, kind="individual", reference=f"token:{token}")


def set_status(
    *, session: Session, tin: str, status: str, country: LoadedCountry, actor: str, source: dict[str, Any] | None = None
) -> Taxpayer:
    """Change a taxpayer's status; deceased is final, and a change to the same status is refused.

    `source`: who reported the change when it was not an officer (a death from the population register,
    life_events.py), recorded in the audit event.
    """
    taxpayer = get_taxpayer(session=session, tin=tin, country=country)
    current = TaxpayerStatus(taxpayer.status)
    wanted = TaxpayerStatus(status)
    if wanted not in TRANSITIONS[current]:
        raise Conflict(_transition_refused(tin, current), status_now=current.value, field="status")
    taxpayer.status = wanted
    taxpayer.status_changed_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.taxpayer.status",
        subject=f"taxpayer:{tin}",
        detail={"from": current.value, "to": wanted.value, **(source or {})},
    )
    return taxpayer


# Returns and assessments -------------------------------------------------------------------


def file_return(
    *, session: Session, filed: IncomeReturn, country: LoadedCountry, actor: str, today: date | None = None
) -> Assessment:
    """Store an income-tax return and assess it; a second return for the same TIN and year is a Conflict."""
    rules = rules_for(country)
    _check_currency(filed.currency, rules)
    _active_taxpayer(session, filed.tin, country)
    period = rules.income_period(filed.year)
    _refuse_second_return(session, filed.tin, ReturnKind.INCOME, period.label)
    rules.income.calculate(income=filed.income, year=filed.year)  # refuse a year without law before writing
    tax_return = TaxReturn(
        tin=filed.tin,
        year=filed.year,
        kind=ReturnKind.INCOME,
        period=period.label,
        version=1,
        income=filed.income,
        currency=rules.currency,
        filed_on=today or date.today(),
        filed_by=actor,
    )
    _insert_return(session, tax_return)
    return assess(session=session, tax_return=tax_return, rules=rules, actor=actor, today=tax_return.filed_on)


def file_vat_return(
    *, session: Session, filed: VatReturn, country: LoadedCountry, actor: str, today: date | None = None
) -> Assessment:
    """Store a VAT return for a period and assess it (refused where no VAT law is configured)."""
    rules = rules_for(country)
    rules.vat_law()  # VatNotConfigured before anything else
    declared = filed.declaration
    _check_currency(declared.currency, rules)
    _active_taxpayer(session, filed.tin, country)
    period = rules.vat_period(filed.period)
    _refuse_second_return(session, filed.tin, ReturnKind.VAT, period.label)
    _check_categories(declared, rules, period.label)  # refuse a period without rates before writing
    tax_return = TaxReturn(
        tin=filed.tin,
        year=period.year,
        kind=ReturnKind.VAT,
        period=period.label,
        version=1,
        income=declared.turnover,
        lines=declared.as_json(),
        currency=rules.currency,
        filed_on=today or date.today(),
        filed_by=actor,
    )
    _insert_return(session, tax_return)
    return assess(session=session, tax_return=tax_return, rules=rules, actor=actor, today=tax_return.filed_on)


def amend_return(
    *,
    session: Session,
    tin: str,
    kind: str,
    period: str,
    income: int | None = None,
    vat: VatDeclaration | None = None,
    country: LoadedCountry,
    actor: str,
    today: date | None = None,
) -> Assessment:
    """File the next version of a return; it is assessed and the previous assessment superseded."""
    rules = rules_for(country)
    _active_taxpayer(session, tin, country)
    latest = latest_return(session=session, tin=tin, kind=kind, period=period)
    if latest is None:
        raise NotFound(_nothing_to_amend(tin, kind, period), field="period")
    amended = TaxReturn(
        tin=tin,
        year=latest.year,
        kind=kind,
        period=latest.period,
        version=latest.version + 1,
        income=latest.income,
        currency=latest.currency,
        filed_on=latest.filed_on,  # lateness is judged on the original filing
        filed_by=actor,
    )
    if kind == ReturnKind.INCOME:
        assert income is not None
        amended.income = income
    else:
        assert vat is not None
        _check_currency(vat.currency, rules)
        _check_categories(vat, rules, latest.period)
        amended.income = vat.turnover
        amended.lines = vat.as_json()
    _insert_return(session, amended)
    return assess(session=session, tax_return=amended, rules=rules, actor=actor, today=today)


def latest_return(*, session: Session, tin: str, kind: str, period: str) -> TaxReturn | None:
    return session.scalar(
        select(TaxReturn)
        .where(TaxReturn.tin == tin, TaxReturn.kind == kind, TaxReturn.period == period)
        .order_by(TaxReturn.version.desc())
        .limit(1)
    )


def assess(
    *, session: Session, tax_return: TaxReturn, rules: TaxRules, actor: str, today: date | None = None
) -> Assessment:
    """Assess one stored return: liability with trace, late-filing penalty, account entries; supersede the last."""
    today = today or date.today()
    filed_on = tax_return.filed_on or today
    if tax_return.kind == ReturnKind.INCOME:
        calculation = rules.income.calculate(income=tax_return.income, year=tax_return.year)
        taxable, tax, trace = calculation.taxable, calculation.tax_due, list(calculation.trace)
        due_on = rules.income_deadline(tax_return.year)
    else:
        period = rules.vat_period(tax_return.period)
        lines = tax_return.lines or {}
        vat = rules.vat_law().calculate(
            period_start=period.start,
            sales=[Line(**line) for line in lines.get("sales", [])],
            purchases=[Line(**line) for line in lines.get("purchases", [])],
        )
        taxable, tax, trace = tax_return.income, vat.net, list(vat.trace)
        due_on = rules.vat_deadline(period)
    penalty = rules.late_filing_penalty(tax=tax, filed_on=filed_on, deadline=due_on)
    trace.extend(penalty.trace)
    if tax_return.version > 1:
        note = _("amendment: version {version} of this return").format(version=tax_return.version)
        trace.insert(0, TraceStep("version", note))
    previous = session.scalar(
        select(Assessment).where(
            Assessment.tin == tax_return.tin,
            Assessment.kind == tax_return.kind,
            Assessment.period == tax_return.period,
            Assessment.state == AssessmentState.CURRENT,
        )
    )
    assessment = Assessment(
        return_id=tax_return.id,
        tin=tax_return.tin,
        year=tax_return.year,
        kind=tax_return.kind,
        period=tax_return.period,
        taxable=taxable,
        tax_due=tax,
        penalty=penalty.amount,
        due_on=due_on,
        currency=rules.currency,
        state=AssessmentState.CURRENT,
        trace=[step.as_dict() for step in trace],
    )
    session.add(assessment)
    session.flush()
    entries = [_entry(assessment, EntryKind.ASSESSED, tax, today)]
    if penalty.amount:
        entries.append(_entry(assessment, EntryKind.PENALTY, penalty.amount, today))
    if previous is not None:
        previous.state = AssessmentState.SUPERSEDED
        previous.superseded_by = assessment.id
        entries.append(_entry(previous, EntryKind.SUPERSEDED, -(previous.tax_due + previous.penalty), today))
    session.add_all(entries)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="tax.assessment.issued",
        subject=f"taxpayer:{tax_return.tin}",
        detail={
            "assessment_id": assessment.id,
            "kind": assessment.kind,
            "year": assessment.year,
            "period": assessment.period,
            "version": tax_return.version,
            "tax_due": assessment.tax_due,
            "penalty": assessment.penalty,
            "currency": rules.currency,
            "supersedes": previous.id if previous is not None else None,
        },
    )
    ASSESSMENTS.labels(kind=str(assessment.kind)).inc()
    log.info("tax.assessment", assessment_id=assessment.id, kind=str(assessment.kind), version=tax_return.version)
    return assessment


def get_assessment(*, session: Session, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(_("no assessment {assessment_id}").format(assessment_id=assessment_id), field="id")
    return assessment


def assessments_of(*, session: Session, tin: str) -> list[Assessment]:
    return list(session.scalars(select(Assessment).where(Assessment.tin == tin).order_by(Assessment.id)))


def returns_of(*, session: Session, tin: str) -> list[TaxReturn]:
    """Every version of every return of a taxpayer, in the order filed."""
    return list(session.scalars(select(TaxReturn).where(TaxReturn.tin == tin).order_by(TaxReturn.id)))


# Helpers -----------------------------------------------------------------------------------


def _entry(assessment: Assessment, kind: EntryKind, amount: int, day: date) -> AccountEntry:
    return AccountEntry(
        tin=assessment.tin,
        kind=kind,
        amount=amount,
        currency=assessment.currency,
        reference=f"assessment:{assessment.id}:{kind.value}",
        assessment_id=assessment.id,
        state="committed",
        booked_on=day,
    )


def _check_currency(currency: str, rules: TaxRules) -> None:
    if currency != rules.currency:
        raise Unprocessable(
            _("returns here are filed in {expected}, not '{currency}'").format(
                expected=rules.currency, currency=currency
            ),
            field="currency",
        )


def _active_taxpayer(session: Session, tin: str, country: LoadedCountry) -> Taxpayer:
    tins.validate(tin, length=tax_country(country).tin_length)
    taxpayer = session.scalar(select(Taxpayer).where(Taxpayer.tin == tin))
    if taxpayer is None:
        raise NotFound(_("no taxpayer holds '{tin}'; register the taxpayer first").format(tin=tin), field="tin")
    if taxpayer.status != TaxpayerStatus.ACTIVE:
        raise Conflict(
            _("taxpayer {tin} is {status}; only an active taxpayer files returns").format(
                tin=tin, status=taxpayer.status
            ),
            field="tin",
            status_now=taxpayer.status,
        )
    return taxpayer


def _refuse_second_return(session: Session, tin: str, kind: str, period: str) -> None:
    existing = latest_return(session=session, tin=tin, kind=kind, period=period)
    if existing is not None:
        raise _already_filed(session, existing)


def _insert_return(session: Session, tax_return: TaxReturn) -> None:
    try:
        with session.begin_nested():
            session.add(tax_return)
    except IntegrityError:
        existing = latest_return(session=session, tin=tax_return.tin, kind=tax_return.kind, period=tax_return.period)
        if existing is None:
            raise
        raise _already_filed(session, existing) from None


def _check_categories(declared: VatDeclaration, rules: TaxRules, period_label: str) -> None:
    start = rules.vat_period(period_label).start
    vat = rules.vat_law()
    vat.standard_rate(start)
    for line in [*declared.sales, *declared.purchases]:
        vat.rate_for(line.category, start)


def _reference(*, session: Session, party: NewTaxpayer, ports: Ports) -> str:
    if party.national_id is None:
        return f"external:{party.external_id}"
    tokens = ports.get(SectorTokens)
    if tokens is None:
        raise Unprocessable(
            _(
                "this deployment has no identity registry to check it against; "
                "register with external_id (the person's number in the existing national register) instead"
            ),
            kind="identity-not-installed",
            field="national_id",
        )
    return f"token:{tokens.token_for(session=session, national_id=party.national_id, sector=SECTOR)}"


def _unused_tin(session: Session, length: int) -> str:
    while True:
        candidate = tins.generate(length)
        if session.scalar(select(Taxpayer.id).where(Taxpayer.tin == candidate)) is None:
            return candidate


def _transition_refused(tin: str, current: TaxpayerStatus) -> str:
    allowed = ", ".join(sorted(TRANSITIONS[current]))
    if not allowed:
        return _("taxpayer {tin} is {status}; it can become none (a death is final)").format(tin=tin, status=current)
    return _("taxpayer {tin} is {status}; it can become {allowed}").format(tin=tin, status=current, allowed=allowed)


def _nothing_to_amend(tin: str, kind: str, period: str) -> str:
    if kind == ReturnKind.INCOME:
        message = _("no income return of TIN {tin} for {period} to amend; file a return first")
    else:
        message = _("no vat return of TIN {tin} for {period} to amend; file a return first")
    return message.format(tin=tin, period=period)


def _already_registered(taxpayer: Taxpayer) -> Conflict:
    if taxpayer.kind == "business":
        message = _("this business is already registered with TIN {tin}")
    else:
        message = _("this individual is already registered with TIN {tin}")
    return Conflict(message.format(tin=taxpayer.tin), tin=taxpayer.tin)


def _already_filed(session: Session, tax_return: TaxReturn) -> Conflict:
    assessment_id = session.scalar(
        select(func.max(Assessment.id)).where(
            Assessment.tin == tax_return.tin,
            Assessment.kind == tax_return.kind,
            Assessment.period == tax_return.period,
        )
    )
    if tax_return.kind == ReturnKind.INCOME:
        message = _(
            "a return for TIN {tin} and year {year} is already filed (assessment {assessment_id}); "
            "file an amendment to change it, not a second return"
        )
    else:
        message = _(
            "a return for TIN {tin} and VAT period {period} is already filed (assessment {assessment_id}); "
            "file an amendment to change it, not a second return"
        )
    return Conflict(
        message.format(tin=tax_return.tin, year=tax_return.year, period=tax_return.period, assessment_id=assessment_id),
        assessment_id=assessment_id,
    )


# OpenAPI ------------------------------------------------------------------------------------

VAT_PERIOD_PATTERNS = {"month": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "quarter": r"^[0-9]{4}-Q[1-4]$", "year": r"^[0-9]{4}$"}


def openapi_values(country: LoadedCountry) -> dict[str, dict[str, Any]]:
    """What this deployment's law adds to the tax schemas (core/schemas.py `deployment_value`).

    The TIN's length; the VAT period and categories the VAT law has; and registering by national ID
    only where a module provides the sector tokens it is kept as (identity).
    """
    section = tax_country(country)
    length = section.tin_length
    values: dict[str, dict[str, Any]] = {
        "tax-tin": {"minLength": length, "maxLength": length, "pattern": "^[0-9]{" + str(length) + "}$"},
        "tax-address-levels": {"propertyNames": {"enum": list(country.profile.address_levels)}},
    }
    if not any(SectorTokens in module.provides for module in installed_modules()):
        values["tax-register-by-national-id"] = {"not": {}}
    if section.vat is None:
        values["tax-vat-period"] = {"not": {}}  # no VAT law: every VAT return is refused, and the document says so
    else:
        values["tax-vat-period"] = {"pattern": VAT_PERIOD_PATTERNS[section.vat.period]}
        values["tax-vat-category"] = {"enum": sorted({"standard", *section.vat.reduced, *section.vat.exempt})}
    return values
