"""The resident's tax pages: my account, filing and amending a return, my assessments with their
trace, objecting to one, paying what I owe or getting a credit refunded, and a PDF of an assessment.

The person is only ever the signed-in resident (`ResidentDep`): the taxpayer is the individual
registered with their national ID, found through its tax sector token (service.taxpayer_of_person).
An assessment of another taxpayer is answered 404, as an unknown one.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.errors import NotFound, Problem, problem_detail
from ....core.i18n import _
from ....core.money import Money, major_text
from ....core.ports import Disbursements
from ....core.schemas import as_utc
from ....core.stack import stack_info
from ....core.web.access import ResidentDep, SignedInResident
from ....core.web.documents import MoneyText, Record, pdf_response, record_pdf
from ....core.web.forms import amount_error, money_text
from ....core.web.shell import Viewer, redirect, render
from .. import accounts, objections, service
from ..models import Assessment, AssessmentState, Objection, ReturnKind, Taxpayer
from ..returns import IncomeReturn
from ..scopes import MAX_ID
from .forms import major_amount, refused_field, text_error, year_error, year_of
from .labels import LABELS

router = APIRouter()

HOME = "/me/tax"
NEW_RETURN = "/me/tax/returns/new"
AssessmentId = Annotated[int, Path(ge=1, le=MAX_ID)]
Year = Annotated[int, Path(ge=1900, le=2200)]
GROUNDS_MOST = 2000
# A payment or refund form carries a reference made when it was drawn: sent twice, it is paid once.
FORM_REFERENCE = r"web-[0-9a-f]{16}"


def assessment_path(assessment_id: int) -> str:
    return f"{HOME}/assessments/{assessment_id}"


def maker(taxpayer: Taxpayer) -> Signatory:
    """The taxpayer acting in person, as four-eyes and the audit log name them (never by national ID)."""
    return Signatory(person=f"taxpayer:{taxpayer.tin}", actor=f"taxpayer:{taxpayer.tin} (resident portal)")


# ---------------------------------------------------------------- my account


@router.get("")
def my_tax(request: Request, resident: ResidentDep) -> Response:
    return _my_tax(request, resident)


@router.post("/payment")
def pay(
    request: Request,
    resident: ResidentDep,
    amount: Annotated[str, Form(max_length=40)] = "",
    reference: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Pay from the account linked to the national ID (payments module): collected through `Disbursements`."""
    currency = request.app.state.country.profile.currency
    values = {"amount": amount.strip()}
    minor = major_amount(values["amount"], currency)
    if minor is None or minor == 0:
        return _my_tax(request, resident, errors={"amount": amount_error(_("Amount to pay"), currency)}, status=422)
    if not re.fullmatch(FORM_REFERENCE, reference):
        return _my_tax(request, resident, errors={"payment": _("Reload the page and pay again.")}, status=422)
    try:
        with request.app.state.session_factory() as session:
            taxpayer = _taxpayer(request, session, resident)
            _require_payments(request)
            accounts.pay(
                session=session,
                tin=taxpayer.tin,
                amount=minor,
                reference=reference,
                national_id=resident.national_id,
                country=request.app.state.country,
                ports=request.app.state.ports,
                actor=maker(taxpayer).actor,
            )
            session.commit()
    except Problem as refused:
        errors = {refused_field(refused, ("amount",), "payment"): problem_detail(refused)}
        return _my_tax(request, resident, errors=errors, values=values, status=refused.status)
    return redirect(HOME)


@router.post("/refund")
def refund(request: Request, resident: ResidentDep, reference: Annotated[str, Form(max_length=40)] = "") -> Response:
    """The whole credit, paid to the account linked to the national ID (payments module)."""
    if not re.fullmatch(FORM_REFERENCE, reference):
        return _my_tax(request, resident, errors={"refund": _("Reload the page and ask again.")}, status=422)
    try:
        with request.app.state.session_factory() as session:
            taxpayer = _taxpayer(request, session, resident)
            _require_payments(request)
            accounts.refund(
                session=session,
                tin=taxpayer.tin,
                amount=None,
                reference=reference,
                national_id=resident.national_id,
                country=request.app.state.country,
                ports=request.app.state.ports,
                actor=maker(taxpayer).actor,
            )
            session.commit()
    except Problem as refused:
        return _my_tax(request, resident, errors={"refund": problem_detail(refused)}, status=refused.status)
    return redirect(HOME)


def _my_tax(
    request: Request,
    resident: SignedInResident,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    country = request.app.state.country
    context: dict[str, Any] = {"taxpayer": None, "errors": errors or {}, "values": values or {}}
    with request.app.state.session_factory() as session:
        taxpayer = service.taxpayer_of_person(
            session=session, national_id=resident.national_id, ports=request.app.state.ports
        )
        if taxpayer is not None:
            returns = service.returns_of(session=session, tin=taxpayer.tin)
            latest = {(r.kind, r.period): r.version for r in returns}
            account = accounts.statement(session=session, tin=taxpayer.tin, country=country)
            context |= {
                "taxpayer": taxpayer,
                "account": account,
                "owed": major_text(max(account.balance, 0), account.currency),
                "assessments": list(reversed(service.assessments_of(session=session, tin=taxpayer.tin))),
                "returns": list(reversed(returns)),
                "amendable": lambda r: r.kind == ReturnKind.INCOME and latest[(r.kind, r.period)] == r.version,
                "payments_installed": request.app.state.ports.get(Disbursements) is not None,
                "reference": f"web-{secrets.token_hex(8)}",
                "amount": money_text(country.profile.currency),
                "currency": country.profile.currency,
            }
    return render(
        request, "tax/my_tax.html", LABELS | context, status=status, viewer=Viewer(resident=resident.national_id)
    )


# ---------------------------------------------------------------- filing and amending a return


@router.get("/returns/new")
def new_return(request: Request, resident: ResidentDep) -> Response:
    law = service.income_tax_law(country=request.app.state.country)
    last_year = law.year_of(date.today()) - 1
    return _return_form(request, resident, values={"year": str(last_year), "income": ""})


@router.post("/returns")
def file_return(
    request: Request,
    resident: ResidentDep,
    year: Annotated[str, Form(max_length=10)] = "",
    income: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    country = request.app.state.country
    currency = country.profile.currency
    values = {"year": year.strip(), "income": income.strip()}
    errors = {}
    fiscal_year = year_of(values["year"])
    if fiscal_year is None:
        errors["year"] = year_error(_("Fiscal year"))
    minor = major_amount(values["income"], currency)
    if minor is None:
        errors["income"] = amount_error(_("Income"), currency)
    if errors:
        return _return_form(request, resident, errors=errors, values=values, status=422)
    assert fiscal_year is not None and minor is not None
    try:
        with request.app.state.session_factory() as session:
            taxpayer = _taxpayer(request, session, resident)
            filed = IncomeReturn(tin=taxpayer.tin, year=fiscal_year, income=minor, currency=currency)
            assessment = service.file_return(session=session, filed=filed, country=country, actor=maker(taxpayer).actor)
            session.commit()
            assessment_id = assessment.id
    except Problem as refused:
        errors = {refused_field(refused, ("year", "income")): problem_detail(refused)}
        return _return_form(request, resident, errors=errors, values=values, status=refused.status)
    return redirect(assessment_path(assessment_id))


@router.get("/returns/{year}/amendment")
def amendment_form(request: Request, year: Year, resident: ResidentDep) -> Response:
    return _return_form(request, resident, amending=year, values={"year": str(year), "income": ""})


@router.post("/returns/{year}/amendment")
def amend_return(
    request: Request, year: Year, resident: ResidentDep, income: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    country = request.app.state.country
    values = {"year": str(year), "income": income.strip()}
    minor = major_amount(values["income"], country.profile.currency)
    if minor is None:
        errors = {"income": amount_error(_("Income"), country.profile.currency)}
        return _return_form(request, resident, amending=year, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            taxpayer = _taxpayer(request, session, resident)
            assessment = service.amend_return(
                session=session,
                tin=taxpayer.tin,
                kind=ReturnKind.INCOME,
                period=str(year),
                income=minor,
                country=country,
                actor=maker(taxpayer).actor,
            )
            session.commit()
            assessment_id = assessment.id
    except Problem as refused:
        errors = {refused_field(refused, ("income",)): problem_detail(refused)}
        return _return_form(request, resident, amending=year, errors=errors, values=values, status=refused.status)
    return redirect(assessment_path(assessment_id))


def _return_form(
    request: Request,
    resident: SignedInResident,
    *,
    amending: int | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str],
    status: int = 200,
) -> Response:
    currency = request.app.state.country.profile.currency
    context: dict[str, Any] = {"amending": amending, "errors": errors or {}, "values": values, "currency": currency}
    with request.app.state.session_factory() as session:
        taxpayer = _taxpayer(request, session, resident)
        context["taxpayer"] = taxpayer
        if amending is not None:
            filed = service.latest_return(
                session=session, tin=taxpayer.tin, kind=ReturnKind.INCOME, period=str(amending)
            )
            if filed is None:
                raise NotFound(_("you filed no income return for {year}").format(year=amending), field="year")
            context["filed"] = filed
    context["amount"] = money_text(currency)
    return render(
        request, "tax/file_return.html", LABELS | context, status=status, viewer=Viewer(resident=resident.national_id)
    )


# ---------------------------------------------------------------- my assessments, objecting, the PDF


@router.get("/assessments/{assessment_id}.pdf")
def assessment_record(request: Request, assessment_id: AssessmentId, resident: ResidentDep) -> Response:
    with request.app.state.session_factory() as session:
        taxpayer, assessment = _my_assessment(request, session, resident, assessment_id)
        content = record_pdf(
            lambda money_text: assessment_record_of(taxpayer, assessment, money_text),
            issuer=stack_info().deployment_name,
            zone=request.app.state.country.profile.timezone,
        )
    return pdf_response(content, f"assessment-{assessment.id}.pdf")


@router.get("/assessments/{assessment_id}")
def my_assessment(request: Request, assessment_id: AssessmentId, resident: ResidentDep) -> Response:
    return _assessment_page(request, resident, assessment_id)


@router.post("/assessments/{assessment_id}/objection")
def lodge_objection(
    request: Request,
    assessment_id: AssessmentId,
    resident: ResidentDep,
    grounds: Annotated[str, Form(max_length=4000)] = "",
    claimed_income: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    country = request.app.state.country
    values = {"grounds": grounds.strip(), "claimed_income": claimed_income.strip()}
    errors = {}
    problem = text_error(_("Grounds"), values["grounds"], most=GROUNDS_MOST)
    if problem:
        errors["grounds"] = problem
    claimed = None
    if values["claimed_income"]:
        claimed = major_amount(values["claimed_income"], country.profile.currency)
        if claimed is None:
            errors["claimed_income"] = amount_error(_("The income you claim"), country.profile.currency)
    if errors:
        return _assessment_page(request, resident, assessment_id, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            taxpayer, _assessment = _my_assessment(request, session, resident, assessment_id)
            objections.lodge(
                session=session,
                assessment_id=assessment_id,
                grounds=values["grounds"],
                claimed_income=claimed,
                country=country,
                maker=maker(taxpayer),
            )
            session.commit()
    except NotFound:
        raise  # not the resident's assessment: answered as an unknown one
    except Problem as refused:
        errors = {refused_field(refused, ("grounds", "claimed_income"), "objection"): problem_detail(refused)}
        return _assessment_page(request, resident, assessment_id, errors=errors, values=values, status=refused.status)
    return redirect(assessment_path(assessment_id))


def _assessment_page(
    request: Request,
    resident: SignedInResident,
    assessment_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    country = request.app.state.country
    with request.app.state.session_factory() as session:
        taxpayer, assessment = _my_assessment(request, session, resident, assessment_id)
        lodged = list(
            session.scalars(select(Objection).where(Objection.assessment_id == assessment.id).order_by(Objection.id))
        )
        deadline, _days = service.rules_for(country).objection_deadline(as_utc(assessment.assessed_at).date())
        context = {
            "taxpayer": taxpayer,
            "assessment": assessment,
            "objections": lodged,
            "deadline": deadline,
            "may_object": (
                assessment.kind == ReturnKind.INCOME
                and assessment.state == AssessmentState.CURRENT
                and date.today() <= deadline
                and not any(o.state in objections.OPEN for o in lodged)
            ),
            "errors": errors or {},
            "values": values or {},
            "amount": money_text(assessment.currency),
            "currency": assessment.currency,
        }
    return render(
        request, "tax/my_assessment.html", LABELS | context, status=status, viewer=Viewer(resident=resident.national_id)
    )


def assessment_record_of(taxpayer: Taxpayer, assessment: Assessment, money_text: MoneyText) -> Record:
    """The record of one assessment, in the current language (called again in English when the font needs it)."""

    def amount(minor: int) -> str:
        return money_text(Money(assessment.currency, minor))

    rows = [
        (_("Taxpayer"), taxpayer.name),
        (_("TIN"), taxpayer.tin),
        (_("Fiscal year"), str(assessment.year)),
        (_("Assessment"), str(assessment.id)),
        (_("Assessed (UTC)"), assessment.assessed_at.strftime("%Y-%m-%d %H:%M")),
        (_("Taxable income"), amount(assessment.taxable)),
        (_("Tax due"), amount(assessment.tax_due)),
        (_("Late-filing penalty"), amount(assessment.penalty)),
        (_("Total"), amount(assessment.tax_due + assessment.penalty)),
    ]
    if assessment.due_on is not None:
        rows.append((_("Due by"), assessment.due_on.isoformat()))
    if assessment.state == AssessmentState.SUPERSEDED:
        rows.append((_("Superseded by"), _("assessment {id}").format(id=assessment.superseded_by)))
    rows += [(_("Step: {step}").format(step=step["step"]), step["note"]) for step in assessment.trace]
    return Record(title=_("Record of a tax assessment"), reference=f"assessment-{assessment.id}", rows=rows)


# ---------------------------------------------------------------- helpers


def _taxpayer(request: Request, session: Session, resident: SignedInResident) -> Taxpayer:
    taxpayer = service.taxpayer_of_person(
        session=session, national_id=resident.national_id, ports=request.app.state.ports
    )
    if taxpayer is None:
        raise NotFound(_("you are not registered as a taxpayer; the tax office registers you and issues your TIN"))
    return taxpayer


def _my_assessment(
    request: Request, session: Session, resident: SignedInResident, assessment_id: int
) -> tuple[Taxpayer, Assessment]:
    """The assessment when it is the resident's; another's is as unknown (the same 404)."""
    taxpayer = _taxpayer(request, session, resident)
    assessment = session.get(Assessment, assessment_id)
    if assessment is None or assessment.tin != taxpayer.tin:
        raise NotFound(_("no assessment {assessment_id}").format(assessment_id=assessment_id), field="id")
    return taxpayer, assessment


def _require_payments(request: Request) -> None:
    if request.app.state.ports.get(Disbursements) is None:
        raise NotFound(_("payments are not made on this site here; pay as your account page says"))
