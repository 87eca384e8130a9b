"""The operators' pages: the adjudication queue (held enrolments beside their candidates, decided under
four-eyes exactly as the API's adjudication route) and the chart of enrolments received."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ....core.approvals import Signatory, required_for
from ....core.authorisation import check_region, region_of
from ....core.callers import Caller
from ....core.errors import Problem, problem_detail
from ....core.i18n import _
from ....core.models import utcnow
from ....core.pages import PageRequest
from ....core.staff import SignedIn
from ....core.web.access import StaffDep, console_page
from ....core.web.charts import Figure, svg_response
from ....core.web.shell import Viewer, redirect, render
from .. import adjudication, queues, reports, service
from ..config import IdentitySettingsDep
from ..models import Enrolment, EnrolmentStatus, Person
from .resident import STATUS_NAMES

# The router's scopes, written out: the router is an entry point nothing else imports (roles.py).
ADMIN_SCOPE = "identity:admin"  # what the API's held queue and adjudication need
READ_SCOPE = "identity:read"
HELD = "/console/identity/held"
ENROLMENTS = "/console/identity/enrolments"
QUEUE_PAGE_SIZE = 20

router = APIRouter()

Adjudicator = Annotated[Caller, Depends(console_page(ADMIN_SCOPE))]
Reader = Annotated[Caller, Depends(console_page(READ_SCOPE))]
ApplicationId = Annotated[str, Path(min_length=8, max_length=36, pattern=r"^[A-Za-z0-9-]+$")]
Filter = Annotated[str | None, Query(max_length=200)]


# ---------------------------------------------------------------- adjudication


@router.get("/held")
def held_queue(
    request: Request, signed: StaffDep, caller: Adjudicator, region: Filter = None, after: Filter = None
) -> Response:
    region = (region or "").strip() or None
    if region is not None:  # a region-limited adjudicator may narrow the queue, never widen it
        check_region(caller, region)
    with request.app.state.session_factory() as session:
        held = queues.held_enrolments(
            session=session,
            page=PageRequest.parse(limit=QUEUE_PAGE_SIZE, after=after or None),
            region_level=request.app.state.country.profile.address_levels[0],
            region=region,
            within=caller.regions,
        )
        context = {
            "items": [_held_view(request, session, caller, item.enrolment, item.candidates) for item in held.items],
            "next": held.next,
            "region": region or "",
        }
        return render(request, "identity/held.html", context, viewer=Viewer(staff=signed))


@router.get("/held/{application_id}")
def held_enrolment(request: Request, application_id: ApplicationId, signed: StaffDep, caller: Adjudicator) -> Response:
    return _enrolment_page(request, signed, caller, application_id)


@router.post("/held/{application_id}/decision")
def decide(
    request: Request,
    application_id: ApplicationId,
    signed: StaffDep,
    caller: Adjudicator,
    identity_settings: IdentitySettingsDep,
    decision: Annotated[str, Form(max_length=60)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    chosen = adjudication.Decision.of_key(decision)
    if not (chosen.decision == adjudication.ISSUE and chosen.duplicate_of is None) and not (
        chosen.decision == adjudication.REJECT and chosen.duplicate_of
    ):
        message = "decision: " + _("choose to issue a new ID or to reject it as a duplicate of a candidate")
        return _enrolment_page(request, signed, caller, application_id, error=message, status=422)
    country = request.app.state.country
    with request.app.state.session_factory() as session:
        enrolment = service.get_enrolment(session=session, application_id=application_id)
        check_region(caller, region_of(enrolment.demographics.get("address"), country))
        try:
            adjudication.adjudicate(
                session=session,
                application_id=application_id,
                decision=chosen,
                note=note.strip(),
                country=country,
                settings=identity_settings,
                approver=Signatory.of(caller),
                required=_required(request),
            )
        except Problem as refused:
            session.rollback()
            error = problem_detail(refused)
            return _enrolment_page(request, signed, caller, application_id, error=error, status=refused.status)
        session.commit()
    return redirect(f"{HELD}/{application_id}")


def _enrolment_page(
    request: Request,
    signed: SignedIn,
    caller: Caller,
    application_id: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.session_factory() as session:
        enrolment = service.get_enrolment(session=session, application_id=application_id)
        check_region(caller, region_of(enrolment.demographics.get("address"), request.app.state.country))
        candidates = queues.candidates_of(session=session, enrolment=enrolment)
        context = {"item": _held_view(request, session, caller, enrolment, candidates), "error": error}
        return render(request, "identity/held_one.html", context, status=status, viewer=Viewer(staff=signed))


def _held_view(
    request: Request, session: Session, caller: Caller, enrolment: Enrolment, candidates: list[queues.Candidate]
) -> dict[str, Any]:
    """What the page shows of one enrolment: the application beside its candidates, and where its decision stands."""
    levels = request.app.state.country.profile.address_levels
    application = enrolment.demographics
    issued = None
    if enrolment.national_id is not None:
        issued = service.get_person(
            session=session, national_id=enrolment.national_id, country=request.app.state.country
        )
    return {
        "enrolment": enrolment,
        "held": enrolment.status == EnrolmentStatus.HELD,
        "rejected": enrolment.status == EnrolmentStatus.REJECTED,
        "issued": issued,
        "application": application,
        "application_born": date.fromisoformat(application["date_of_birth"]),
        "application_address": _address(application.get("address"), levels),
        "candidates": [
            {
                "person": c.person,
                "address": _address(c.person.address, levels),
                "score": c.name_score,
                "status": _(STATUS_NAMES.get(c.person.status, c.person.status)),
            }
            for c in candidates
        ],
        "pending": [
            {"label": _decision_label(p.decision, candidates), "approvals": p.approvals}
            for p in adjudication.pending_decisions(session=session, enrolment=enrolment)
        ],
        "required": _required(request),
        "is_maker": enrolment.made_by is not None and enrolment.made_by == Signatory.of(caller).person,
    }


def _decision_label(decision: adjudication.Decision, candidates: list[queues.Candidate]) -> str:
    if decision.decision == adjudication.ISSUE:
        return _("issue a new ID")
    names = {c.person.national_id: _name(c.person) for c in candidates}
    return _("reject as a duplicate of {name} ({national_id})").format(
        name=names.get(decision.duplicate_of or "", ""), national_id=decision.duplicate_of
    )


def _name(person: Person) -> str:
    return f"{person.given_name} {person.family_name}"


def _address(address: dict[str, str] | None, levels: list[str]) -> str:
    return ", ".join(address[level] for level in reversed(levels) if (address or {}).get(level)) or "—"


def _required(request: Request) -> int:
    return required_for(request.app.state.settings.approvals_required, adjudication.ACTION)


# ---------------------------------------------------------------- enrolments received


@router.get("/enrolments")
def enrolments(request: Request, signed: StaffDep, caller: Reader) -> Response:
    figure = _enrolments_figure(request, caller)
    return render(
        request,
        "identity/enrolments.html",
        {"figure": figure, "limited": caller.regions is not None, "regions": sorted(caller.regions or ())},
        viewer=Viewer(staff=signed),
    )


@router.get("/enrolments.svg")
def enrolments_chart(request: Request, caller: Reader) -> Response:
    return svg_response(_enrolments_figure(request, caller))


def _enrolments_figure(request: Request, caller: Caller) -> Figure:
    profile = request.app.state.country.profile
    zone = ZoneInfo(profile.timezone)
    today = utcnow().astimezone(zone).date()
    with request.app.state.session_factory() as session:
        rows = reports.enrolments_received(
            session=session,
            since=reports.window_start(today, zone),
            region_level=profile.address_levels[0],
            within=caller.regions,
        )
    return reports.enrolments_figure(rows, today=today, zone=zone)
