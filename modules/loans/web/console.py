"""Operator console pages for loans: applications awaiting a second officer (approve or reject; never
their submitter, which the service enforces), an application, a loan (schedule, owed, arrears), and
the portfolio charts (outstanding by arrears bucket, loans disbursed per month).

Each page needs the scope its API route needs (router.py) and is region-limited the same way
(core.authorisation.check_region), calling the same services.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from ....core.approvals import Signatory
from ....core.authorisation import check_region
from ....core.callers import Caller
from ....core.errors import Problem, problem_detail
from ....core.i18n import _
from ....core.registry import Link
from ....core.schemas import has_control_characters
from ....core.staff import SignedIn
from ....core.web.access import StaffDep, console_page
from ....core.web.charts import svg_response
from ....core.web.forms import money_text
from ....core.web.shell import Viewer, may_see, redirect, render
from .. import service, servicing
from ..config import LoansSettings, LoansSettingsDep
from ..models import Application, ApplicationState, Loan
from ..schemas import APPLICATION_PATTERN, LOAN_PATTERN
from ..scopes import DECIDE_SCOPE, READ_SCOPE
from .common import loan_view
from .figures import arrears_figure, disbursed_figure
from .labels import LABELS

router = APIRouter()

Reader = Annotated[Caller, Depends(console_page(READ_SCOPE))]
Decider = Annotated[Caller, Depends(console_page(DECIDE_SCOPE))]
ApplicationPath = Annotated[str, Path(pattern=APPLICATION_PATTERN)]
LoanPath = Annotated[str, Path(pattern=LOAN_PATTERN)]
APPLICATIONS = "/console/loans/applications"
PORTFOLIO = "/console/loans/portfolio"
QUEUE_PAGE = 50
REASON_MOST = 300


def application_path(reference: str) -> str:
    return f"{APPLICATIONS}/{reference}"


def loan_path(reference: str) -> str:
    return f"/console/loans/accounts/{reference}"


# ---------------------------------------------------------------- applications awaiting approval


@router.get("/applications")
def queue(
    request: Request, signed: StaffDep, reader: Reader, after: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """Held applications, oldest first, in the reader's regions; page by page."""
    query = select(Application).where(Application.state == ApplicationState.AWAITING_APPROVAL)
    if reader.regions is not None:
        query = query.where(Application.region.in_(sorted(reader.regions)))
    if after is not None:
        query = query.where(Application.id > after)
    with request.app.state.session_factory() as session:
        found = list(session.scalars(query.order_by(Application.id).limit(QUEUE_PAGE + 1)))
    listed = found[:QUEUE_PAGE]
    context = {
        "applications": listed,
        "next": listed[-1].id if len(found) > QUEUE_PAGE else None,
        "query": "",
        "amount": money_text(request.app.state.country.profile.currency),
    }
    return render(request, "loans/applications.html", LABELS | context, viewer=Viewer(staff=signed))


@router.get("/applications/{reference}")
def application_page(request: Request, reference: ApplicationPath, signed: StaffDep, reader: Reader) -> Response:
    return _application_page(request, signed, reader, reference)


@router.post("/applications/{reference}/approve")
def approve(
    request: Request, reference: ApplicationPath, signed: StaffDep, decider: Decider, settings: LoansSettingsDep
) -> Response:
    try:
        with request.app.state.session_factory() as session:
            context = _context(request, session, settings)
            check_region(decider, service.get_application(session=session, reference=reference).region)
            service.approve(context=context, reference=reference, approver=Signatory.of(decider), today=date.today())
            session.commit()
    except Problem as refused:
        if refused.status in (403, 404):
            raise  # not theirs to decide (its submitter, another region) or unknown: the error page
        errors = {"decision": problem_detail(refused)}
        return _application_page(request, signed, decider, reference, errors=errors, status=refused.status)
    return redirect(application_path(reference))


@router.post("/applications/{reference}/reject")
def reject(
    request: Request,
    reference: ApplicationPath,
    signed: StaffDep,
    decider: Decider,
    settings: LoansSettingsDep,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    values = {"reason": reason.strip()}
    error = None
    if not values["reason"]:
        error = _("Reason: write at least one character")
    elif len(values["reason"]) > REASON_MOST:
        error = _("Reason: at most {most} characters").format(most=REASON_MOST)
    elif has_control_characters(values["reason"]):
        error = _("Reason: control characters are not allowed")
    if error:
        errors = {"reason": error}
        return _application_page(request, signed, decider, reference, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            context = _context(request, session, settings)
            check_region(decider, service.get_application(session=session, reference=reference).region)
            service.reject(
                context=context, reference=reference, approver=Signatory.of(decider), reason=values["reason"]
            )
            session.commit()
    except Problem as refused:
        if refused.status in (403, 404):
            raise
        errors = {"decision": problem_detail(refused)}
        return _application_page(
            request, signed, decider, reference, errors=errors, values=values, status=refused.status
        )
    return redirect(application_path(reference))


def _application_page(
    request: Request,
    signed: SignedIn,
    caller: Caller,
    reference: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.session_factory() as session:
        application = service.get_application(session=session, reference=reference)
        check_region(caller, application.region)
        made = session.scalar(select(Loan.reference).where(Loan.application_id == application.id))
        context = {
            "application": application,
            "loan": made,
            "awaiting": application.state == ApplicationState.AWAITING_APPROVAL,
            "is_maker": application.made_by == caller.person,
            "may_decide": may_see(signed, Link(APPLICATIONS, "", DECIDE_SCOPE)),
            "errors": errors or {},
            "values": values or {},
            "amount": money_text(application.currency),
        }
    return render(request, "loans/application.html", LABELS | context, status=status, viewer=Viewer(staff=signed))


# ---------------------------------------------------------------- a loan


@router.get("/accounts/{reference}")
def loan_page(request: Request, reference: LoanPath, signed: StaffDep, reader: Reader) -> Response:
    with request.app.state.session_factory() as session:
        loan = service.get_loan(session=session, reference=reference)
        check_region(reader, loan.region)
        application = session.get(Application, loan.application_id)
        context = {
            "view": loan_view(session, loan),
            "application": application,
            "today": date.today(),
            "amount": money_text(loan.currency),
        }
        return render(request, "loans/loan.html", LABELS | context, viewer=Viewer(staff=signed))


# ---------------------------------------------------------------- the portfolio


@router.get("/portfolio")
def portfolio(request: Request, signed: StaffDep, reader: Reader, settings: LoansSettingsDep) -> Response:
    found = _portfolio(request, reader, settings)
    context = {
        "arrears": arrears_figure(found.outstanding_by_bucket, found.currency),
        "disbursed": disbursed_figure(found.disbursed_by_month),
        "late": found.late,
        "amount": money_text(found.currency),
    }
    return render(request, "loans/portfolio.html", LABELS | context, viewer=Viewer(staff=signed))


@router.get("/portfolio/arrears.svg")
def arrears_chart(request: Request, reader: Reader, settings: LoansSettingsDep) -> Response:
    found = _portfolio(request, reader, settings)
    return svg_response(arrears_figure(found.outstanding_by_bucket, found.currency))


@router.get("/portfolio/disbursed.svg")
def disbursed_chart(request: Request, reader: Reader, settings: LoansSettingsDep) -> Response:
    return svg_response(disbursed_figure(_portfolio(request, reader, settings).disbursed_by_month))


def _portfolio(request: Request, caller: Caller, settings: LoansSettings) -> servicing.Portfolio:
    """The portfolio of the caller's regions, as of today."""
    with request.app.state.session_factory() as session:
        return servicing.portfolio(
            context=_context(request, session, settings), today=date.today(), regions=caller.regions
        )


def _context(request: Request, session, settings) -> service.Context:  # type: ignore[no-untyped-def]
    return service.Context(
        session=session, country=request.app.state.country, ports=request.app.state.ports, settings=settings
    )
