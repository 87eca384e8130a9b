"""Operator console pages for tax: the register searched, a taxpayer with their assessments, an
assessment with its trace, the objections queue with review and the four-eyes decision, and the
assessments of a year by income-tax bracket.

Each page needs the scope its API route needs (router.py) and is region-limited the same way
(core.authorisation.check_region), calling the same services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.approvals import Signatory, required_for
from ....core.authorisation import check_region
from ....core.callers import Caller
from ....core.country import LoadedCountry
from ....core.errors import Problem, problem_detail
from ....core.i18n import _
from ....core.pages import CURSOR_PATTERN, PageRequest
from ....core.registry import Link
from ....core.staff import SignedIn
from ....core.web.access import StaffDep, console_page
from ....core.web.charts import Figure, svg_response
from ....core.web.forms import amount_error, money_text
from ....core.web.shell import Viewer, may_see, redirect, render
from .. import objections, queues, service
from ..models import Assessment, Objection, ObjectionState, Taxpayer
from ..scopes import DECIDE_SCOPE, FILE_SCOPE, MAX_ID, READ_SCOPE
from .figures import brackets_figure
from .forms import major_amount, refused_field, text_error
from .labels import LABELS

router = APIRouter()

Reader = Annotated[Caller, Depends(console_page(READ_SCOPE))]
Filer = Annotated[Caller, Depends(console_page(FILE_SCOPE))]
Decider = Annotated[Caller, Depends(console_page(DECIDE_SCOPE))]
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
TinPath = Annotated[str, Path(pattern=r"^[0-9]{6,20}$")]
After = Annotated[str | None, Query(pattern=CURSOR_PATTERN)]
QUEUE_STATES = ("awaiting_decision", *(state.value for state in ObjectionState))
TAXPAYERS = "/console/tax/taxpayers"
OBJECTIONS = "/console/tax/objections"
NOTE_MOST = 2000


def assessment_path(assessment_id: int) -> str:
    return f"/console/tax/assessments/{assessment_id}"


def objection_path(objection_id: int) -> str:
    return f"{OBJECTIONS}/{objection_id}"


# ---------------------------------------------------------------- the register


@router.get("/taxpayers")
def taxpayer_search(
    request: Request,
    signed: StaffDep,
    reader: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    after: After = None,
) -> Response:
    search = q.strip()
    with request.app.state.session_factory() as session:
        listed = queues.taxpayers(
            session=session, page=PageRequest.parse(after=after), search=search or None, within=reader.regions
        )
    context = {
        "taxpayers": listed.items,
        "next": listed.next,
        "q": search,
        "query": urlencode({"q": search}) if search else "",
    }
    return render(request, "tax/taxpayers.html", LABELS | context, viewer=Viewer(staff=signed))


@router.get("/taxpayers/{tin}")
def taxpayer_page(request: Request, tin: TinPath, signed: StaffDep, reader: Reader) -> Response:
    country = request.app.state.country
    with request.app.state.session_factory() as session:
        taxpayer = service.get_taxpayer(session=session, tin=tin, country=country)
        check_region(reader, taxpayer.region)
        context = {
            "taxpayer": taxpayer,
            "assessments": list(reversed(service.assessments_of(session=session, tin=tin))),
            "amount": money_text(country.profile.currency),
        }
    return render(request, "tax/taxpayer.html", LABELS | context, viewer=Viewer(staff=signed))


# ---------------------------------------------------------------- an assessment, and lodging an objection to it


@router.get("/assessments/{assessment_id}")
def assessment_page(request: Request, assessment_id: RecordId, signed: StaffDep, reader: Reader) -> Response:
    return _assessment_page(request, signed, reader, assessment_id)


@router.post("/assessments/{assessment_id}/objection")
def lodge_objection(
    request: Request,
    assessment_id: RecordId,
    signed: StaffDep,
    filer: Filer,
    grounds: Annotated[str, Form(max_length=4000)] = "",
    claimed_income: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Lodged for the taxpayer (a letter at the counter), as the API's POST /objections: the officer is its maker."""
    country = request.app.state.country
    values = {"grounds": grounds.strip(), "claimed_income": claimed_income.strip()}
    errors = {}
    problem = text_error(_("Grounds"), values["grounds"], most=2000)
    if problem:
        errors["grounds"] = problem
    claimed = None
    if values["claimed_income"]:
        claimed = major_amount(values["claimed_income"], country.profile.currency)
        if claimed is None:
            errors["claimed_income"] = amount_error(_("Income claimed"), country.profile.currency)
    if errors:
        return _assessment_page(request, signed, filer, assessment_id, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            _assessment_in_reach(session, country, filer, assessment_id)
            objection = objections.lodge(
                session=session,
                assessment_id=assessment_id,
                grounds=values["grounds"],
                claimed_income=claimed,
                country=country,
                maker=Signatory.of(filer),
            )
            session.commit()
            objection_id = objection.id
    except Problem as refused:
        if refused.status in (403, 404):
            raise
        errors = {refused_field(refused, ("grounds", "claimed_income"), "objection"): problem_detail(refused)}
        return _assessment_page(
            request, signed, filer, assessment_id, errors=errors, values=values, status=refused.status
        )
    return redirect(objection_path(objection_id))


def _assessment_page(
    request: Request,
    signed: SignedIn,
    caller: Caller,
    assessment_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    country = request.app.state.country
    with request.app.state.session_factory() as session:
        assessment, taxpayer = _assessment_in_reach(session, country, caller, assessment_id)
        lodged = list(
            session.scalars(select(Objection).where(Objection.assessment_id == assessment.id).order_by(Objection.id))
        )
        context = {
            "assessment": assessment,
            "taxpayer": taxpayer,
            "objections": lodged,
            "may_lodge": may_see(signed, Link(OBJECTIONS, "", FILE_SCOPE)),
            "errors": errors or {},
            "values": values or {},
            "amount": money_text(assessment.currency),
            "currency": assessment.currency,
        }
    return render(request, "tax/assessment.html", LABELS | context, status=status, viewer=Viewer(staff=signed))


# ---------------------------------------------------------------- objections: the queue, review and decision


@router.get("/objections")
def objection_queue(
    request: Request,
    signed: StaffDep,
    decider: Decider,
    status: Annotated[str, Query(max_length=40)] = queues.AWAITING_DECISION,
    after: After = None,
) -> Response:
    state = status if status in QUEUE_STATES else queues.AWAITING_DECISION
    with request.app.state.session_factory() as session:
        listed = queues.objections(
            session=session,
            page=PageRequest.parse(after=after),
            country=request.app.state.country,
            status=state,
            within=decider.regions,
        )
    context = {
        "objections": listed.items,
        "next": listed.next,
        "status": state,
        "states": QUEUE_STATES,
        "query": urlencode({"status": state}),
        "amount": money_text(request.app.state.country.profile.currency),
    }
    return render(request, "tax/objections.html", LABELS | context, viewer=Viewer(staff=signed))


@router.get("/objections/{objection_id}")
def objection_page(request: Request, objection_id: RecordId, signed: StaffDep, reader: Reader) -> Response:
    return _objection_page(request, signed, reader, objection_id)


@router.post("/objections/{objection_id}/review")
def review_objection(request: Request, objection_id: RecordId, signed: StaffDep, decider: Decider) -> Response:
    country = request.app.state.country
    try:
        with request.app.state.session_factory() as session:
            _objection_in_reach(session, country, decider, objection_id)
            objections.review(session=session, objection_id=objection_id, actor=decider.actor)
            session.commit()
    except Problem as refused:
        if refused.status in (403, 404):
            raise
        errors = {"review": problem_detail(refused)}
        return _objection_page(request, signed, decider, objection_id, errors=errors, status=refused.status)
    return redirect(objection_path(objection_id))


@router.post("/objections/{objection_id}/decision")
def decide_objection(
    request: Request,
    objection_id: RecordId,
    signed: StaffDep,
    decider: Decider,
    outcome: Annotated[str, Form(max_length=40)] = "",
    income: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """One officer's approval of a decision, as the API's: it takes effect once enough people approved it."""
    country = request.app.state.country
    currency = country.profile.currency
    values = {"outcome": outcome, "income": income.strip(), "note": note.strip()}
    errors = {}
    if outcome not in {state.value for state in objections.DECISIONS}:
        errors["outcome"] = _("Decision: choose allowed, partially allowed or disallowed")
    decided_income = None
    if values["income"]:
        decided_income = major_amount(values["income"], currency)
        if decided_income is None:
            errors["income"] = amount_error(_("Income decided"), currency)
    problem = text_error(_("Note"), values["note"], most=NOTE_MOST)
    if problem:
        errors["note"] = problem
    if errors:
        return _objection_page(request, signed, decider, objection_id, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            _objection_in_reach(session, country, decider, objection_id)
            objections.decide(
                session=session,
                objection_id=objection_id,
                outcome=outcome,
                income=decided_income,
                note=values["note"],
                country=country,
                approver=Signatory.of(decider),
                required=_required(request),
            )
            session.commit()
    except Problem as refused:
        if refused.status == 404:
            raise
        errors = {refused_field(refused, ("outcome", "income", "note"), "decision"): problem_detail(refused)}
        status = refused.status
        return _objection_page(request, signed, decider, objection_id, errors=errors, values=values, status=status)
    return redirect(objection_path(objection_id))


@dataclass(frozen=True)
class Permitted:
    """What the viewer's roles let them do on the objection page (each form's route checks again)."""

    decide: bool


def _objection_page(
    request: Request,
    signed: SignedIn,
    caller: Caller,
    objection_id: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    country = request.app.state.country
    with request.app.state.session_factory() as session:
        objection, taxpayer = _objection_in_reach(session, country, caller, objection_id)
        assessment = session.get(Assessment, objection.assessment_id)
        context = {
            "objection": objection,
            "taxpayer": taxpayer,
            "assessment": assessment,
            "pending": objections.pending_decisions(session=session, objection=objection),
            "required": _required(request),
            "is_maker": objection.lodged_by == caller.person,
            "open": objection.state in objections.OPEN,
            "decisions": objections.DECISIONS,
            "permitted": Permitted(decide=may_see(signed, Link(OBJECTIONS, "", DECIDE_SCOPE))),
            "errors": errors or {},
            "values": values or {},
            "amount": money_text(country.profile.currency),
            "currency": country.profile.currency,
        }
    return render(request, "tax/objection.html", LABELS | context, status=status, viewer=Viewer(staff=signed))


def _required(request: Request) -> int:
    return required_for(request.app.state.settings.approvals_required, objections.APPROVAL_ACTION)


# ---------------------------------------------------------------- assessments by income-tax bracket


@router.get("/brackets")
def brackets_page(
    request: Request, signed: StaffDep, reader: Reader, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:
    country = request.app.state.country
    chosen = year if year is not None else _default_year(request)
    try:
        figure = _brackets(request, reader, chosen)
        refused = None
    except Problem as problem:  # no law, or none in force that year: said on the page
        figure, refused = None, problem_detail(problem)
    context = {"year": chosen, "figure": figure, "refused": refused, "currency": country.profile.currency}
    return render(request, "tax/brackets.html", context, viewer=Viewer(staff=signed))


@router.get("/brackets.svg")
def brackets_chart(
    request: Request, reader: Reader, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:
    return svg_response(_brackets(request, reader, year if year is not None else _default_year(request)))


def _brackets(request: Request, caller: Caller, year: int) -> Figure:
    country: LoadedCountry = request.app.state.country
    brackets = service.income_tax_law(country=country).scale_in_force(year)
    with request.app.state.session_factory() as session:
        taxables = queues.assessed_taxable(session=session, year=year, within=caller.regions)
        return brackets_figure(taxables, brackets, year, money_text(country.profile.currency))


def _default_year(request: Request) -> int:
    """The last fiscal year over: the one most returns have come in for."""
    return service.income_tax_law(country=request.app.state.country).year_of(date.today()) - 1


# ---------------------------------------------------------------- region limits, as the API's


def _assessment_in_reach(
    session: Session, country: LoadedCountry, caller: Caller, assessment_id: int
) -> tuple[Assessment, Taxpayer]:
    assessment = service.get_assessment(session=session, assessment_id=assessment_id)
    taxpayer = service.get_taxpayer(session=session, tin=assessment.tin, country=country)
    check_region(caller, taxpayer.region)
    return assessment, taxpayer


def _objection_in_reach(
    session: Session, country: LoadedCountry, caller: Caller, objection_id: int
) -> tuple[Objection, Taxpayer]:
    objection = objections.get(session=session, objection_id=objection_id)
    taxpayer = service.get_taxpayer(session=session, tin=objection.tin, country=country)
    check_region(caller, taxpayer.region)
    return objection, taxpayer
