"""Operator console pages for payment cycles: the list and building one, approving (four-eyes, totals
re-entered blind), disbursing, progress and outcomes, and the reconciliation with its drill-down.

Each page needs the scope its API route needs (router.py), and calls the same services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ....core.approvals import Signatory, required_for
from ....core.callers import Caller
from ....core.errors import Problem, problem_detail
from ....core.i18n import _
from ....core.money import minor_units
from ....core.pages import CURSOR_PATTERN, PageRequest
from ....core.registry import Link
from ....core.staff import SignedIn
from ....core.web.access import StaffDep, console_page
from ....core.web.charts import svg_response
from ....core.web.forms import amount_error, money_text, typed_amount
from ....core.web.shell import Viewer, may_see, redirect, render
from .. import cycles, disbursing, programme_service, queues, reconciliations
from ..config import PaymentsSettings, PaymentsSettingsDep
from ..models import Cycle, CycleState, Programme
from ..rails import rail_from_settings
from ..schemas import CYCLE_NAME_PATTERN, MAX_AMOUNT, PROGRAMME_CODE_PATTERN
from ..scopes import APPROVE_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE
from .figures import outcomes_figure
from .labels import CYCLE_STATES, OUTCOMES

router = APIRouter()

Reader = Annotated[Caller, Depends(console_page(READ_SCOPE))]
Builder = Annotated[Caller, Depends(console_page(PROGRAMME_SCOPE))]
Approver = Annotated[Caller, Depends(console_page(APPROVE_SCOPE))]
Disburser = Annotated[Caller, Depends(console_page(TRANSFER_SCOPE))]
CycleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
After = Annotated[str | None, Query(pattern=CURSOR_PATTERN)]
MAX_COUNT = 2**31 - 1
CYCLES = "/console/payments/cycles"
LABELS = {"cycle_states": CYCLE_STATES, "outcome_labels": OUTCOMES}


def cycle_path(cycle_id: int) -> str:
    return f"{CYCLES}/{cycle_id}"


# ---------------------------------------------------------------- the list, and building a cycle


@router.get("/cycles")
def cycle_list(
    request: Request,
    signed: StaffDep,
    _reader: Reader,
    state: CycleState = CycleState.BUILT,
    programme: Annotated[str | None, Query(max_length=40)] = None,
    after: After = None,
) -> Response:
    return _cycle_list(request, signed, state=state, programme=programme or None, after=after)


@router.post("/cycles")
def build_cycle(
    request: Request,
    signed: StaffDep,
    builder: Builder,
    settings: PaymentsSettingsDep,
    programme: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    as_of: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {"programme": programme, "name": name.strip(), "as_of": as_of.strip()}
    errors = _build_errors(values)
    if errors:
        return _cycle_list(request, signed, errors=errors, values=values, status=422)
    try:
        with request.app.state.session_factory() as session:
            found = programme_service.get_programme(session=session, code=values["programme"])
            created = programme_service.create_cycle(
                session=session,
                ports=request.app.state.ports,
                country=request.app.state.country,
                programme=found,
                name=values["name"],
                as_of=date.fromisoformat(values["as_of"]) if values["as_of"] else None,
                funding_account=settings.funding_account,
                chunk_size=settings.chunk_size,
                maker=Signatory.of(builder),
            )
            session.commit()
            cycle_id = created.record.id
    except Problem as refused:
        field = {"code": "programme"}.get(refused.field or "", refused.field)
        errors = {field or "form": problem_detail(refused)}
        return _cycle_list(request, signed, errors=errors, values=values, status=refused.status)
    return redirect(cycle_path(cycle_id))


def _build_errors(values: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not re.fullmatch(PROGRAMME_CODE_PATTERN, values["programme"]):
        errors["programme"] = _("Programme: choose the programme to pay")
    if not re.fullmatch(CYCLE_NAME_PATTERN, values["name"]):
        errors["name"] = _(
            "Cycle name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or a digit (e.g. 2026-05)"
        )
    if values["as_of"]:
        try:
            date.fromisoformat(values["as_of"])
        except ValueError:
            errors["as_of"] = _("Ages counted on: a date such as 2026-05-31")
    return errors


def _cycle_list(
    request: Request,
    signed: SignedIn,
    *,
    state: CycleState = CycleState.BUILT,
    programme: str | None = None,
    after: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.session_factory() as session:
        listed = queues.cycles(session=session, page=PageRequest.parse(after=after), state=state, programme=programme)
        programmes = programme_service.programmes(session=session)
    currency = request.app.state.country.profile.currency
    filters = {"state": state.value, "programme": programme or ""}
    context = {
        "cycles": listed.items,
        "next": listed.next,
        "query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
        "filters": filters,
        "states": list(CycleState),
        "programmes": programmes,
        "may_build": may_see(signed, Link(CYCLES, "", PROGRAMME_SCOPE)),
        "errors": errors or {},
        "values": values or {},
        "amount": money_text(currency),
    }
    return render(request, "payments/cycles.html", LABELS | context, status=status, viewer=Viewer(staff=signed))


# ---------------------------------------------------------------- one cycle: approve, disburse, progress


@router.get("/cycles/{cycle_id}")
def cycle_page(
    request: Request, cycle_id: CycleId, signed: StaffDep, reader: Reader, settings: PaymentsSettingsDep
) -> Response:
    return _cycle_page(request, signed, reader, cycle_id, settings)


@router.post("/cycles/{cycle_id}/approval")
def approve_cycle(
    request: Request,
    cycle_id: CycleId,
    signed: StaffDep,
    approver: Approver,
    settings: PaymentsSettingsDep,
    control_count: Annotated[str, Form(max_length=20)] = "",
    control_sum: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    values = {"control_count": control_count.strip(), "control_sum": control_sum.strip()}
    currency = request.app.state.country.profile.currency
    count, total, errors = _parse_totals(values, currency)
    if errors:
        return _cycle_page(request, signed, approver, cycle_id, settings, errors=errors, values=values, status=422)
    assert count is not None and total is not None
    try:
        with request.app.state.session_factory() as session:
            cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
            try:
                cycles.approve_cycle(
                    session=session,
                    cycle=cycle,
                    control_count=count,
                    control_sum=total,
                    approver=Signatory.of(approver),
                    required=_required(request),
                    max_wrong_totals=settings.max_wrong_control_totals,
                )
            except cycles.CountedRefusal:
                session.commit()  # as the API: the wrong totals count towards the limit, the audit log keeps them
                raise
            session.commit()
    except Problem as refused:
        errors = {"totals": problem_detail(refused)}
        status = refused.status
        return _cycle_page(request, signed, approver, cycle_id, settings, errors=errors, values=values, status=status)
    return redirect(cycle_path(cycle_id))


def _parse_totals(values: dict[str, str], currency: str) -> tuple[int | None, int | None, dict[str, str]]:
    """The control count and sum typed by the approver: a whole number, and an amount in major units."""
    errors, count, total = {}, None, None
    if re.fullmatch(r"[0-9]{1,10}", values["control_count"]) and int(values["control_count"]) <= MAX_COUNT:
        count = int(values["control_count"])
    else:
        errors["control_count"] = _("Number of payments: a whole number, 0 or more")
    total = typed_amount(values["control_sum"], currency, most=MAX_AMOUNT)
    if total is None:
        errors["control_sum"] = amount_error(_("Total amount"), currency)
    return count, total, errors


@router.post("/cycles/{cycle_id}/disbursement")
def disburse_cycle(
    request: Request, cycle_id: CycleId, signed: StaffDep, disburser: Disburser, settings: PaymentsSettingsDep
) -> Response:
    """Pay the approved cycle to the end, now (as the API's route: large cycles are the CLI's)."""
    currency = request.app.state.country.profile.currency
    try:
        with request.app.state.session_factory() as session:
            cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
            cycles.start_disbursement(session=session, cycle=cycle, currency=currency, actor=disburser.actor)
            session.commit()
        disbursing.run_worker(
            session_factory=request.app.state.session_factory,
            cycle_id=cycle_id,
            currency=currency,
            rail=rail_from_settings(settings),
            settings=settings,
            worker=f"console:{disburser.actor}"[:80],
        )
    except Problem as refused:
        errors = {"disbursement": problem_detail(refused)}
        return _cycle_page(request, signed, disburser, cycle_id, settings, errors=errors, status=refused.status)
    return redirect(cycle_path(cycle_id))


@router.get("/cycles/{cycle_id}/outcomes.svg")
def outcomes_chart(request: Request, cycle_id: CycleId, _reader: Reader) -> Response:
    with request.app.state.session_factory() as session:
        cycles.require_approved(cycles.get_cycle(session=session, cycle_id=cycle_id))
        report = reconciliations.reconcile(session=session, cycle_id=cycle_id)
    return svg_response(outcomes_figure([report]))


@dataclass(frozen=True)
class Permitted:
    """What the viewer's roles let them do on the cycle page (each form's route checks again)."""

    approve: bool
    disburse: bool


def _cycle_page(
    request: Request,
    signed: SignedIn,
    caller: Caller,
    cycle_id: CycleId,
    settings: PaymentsSettings,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.session_factory() as session:
        cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
        programme = session.get(Programme, cycle.programme_id)
        context = _cycle_context(request, session, cycle, programme, caller, settings)
    permitted = Permitted(
        approve=may_see(signed, Link(CYCLES, "", APPROVE_SCOPE)),
        disburse=may_see(signed, Link(CYCLES, "", TRANSFER_SCOPE)),
    )
    context |= {"permitted": permitted, "errors": errors or {}, "values": values or {}}
    return render(request, "payments/cycle.html", LABELS | context, status=status, viewer=Viewer(staff=signed))


def _cycle_context(
    request: Request, session: Session, cycle: Cycle, programme: Programme, caller: Caller, settings: PaymentsSettings
) -> dict[str, Any]:
    tally = cycles.cycle_tally(session=session, cycle=cycle, required=_required(request))
    is_maker = cycle.made_by == caller.person
    report = figure = None
    if cycle.state != CycleState.BUILT:
        report = reconciliations.reconcile(session=session, cycle_id=cycle.id)
        figure = outcomes_figure([report])
    return {
        "cycle": cycle,
        "programme": programme,
        "tally": tally,
        "is_maker": is_maker,
        # The approvers re-enter the totals blind: shown once approved, and to the maker who built them (as the API).
        "totals_shown": is_maker or cycle.state != CycleState.BUILT,
        "attempts_left": cycles.wrong_totals_left(
            session=session, cycle=cycle, person=caller.person, max_wrong_totals=settings.max_wrong_control_totals
        ),
        "report": report,
        "figure": figure,
        "amount": money_text(programme.currency),
        "currency": programme.currency,
        "decimals": minor_units(programme.currency),
    }


def _required(request: Request) -> int:
    return required_for(request.app.state.settings.approvals_required, cycles.APPROVAL_ACTION)


# ---------------------------------------------------------------- reconciliation and its drill-down


@router.get("/cycles/{cycle_id}/reconciliation")
def reconciliation(request: Request, cycle_id: CycleId, signed: StaffDep, _reader: Reader) -> Response:
    with request.app.state.session_factory() as session:
        cycles.require_approved(cycles.get_cycle(session=session, cycle_id=cycle_id))
        report = reconciliations.reconcile(session=session, cycle_id=cycle_id)
    context = {"report": report, "outcomes": list(reconciliations.Outcome), "amount": money_text(report.currency)}
    return render(request, "payments/reconciliation.html", LABELS | context, viewer=Viewer(staff=signed))


@router.get("/cycles/{cycle_id}/instructions")
def instructions(
    request: Request,
    cycle_id: CycleId,
    signed: StaffDep,
    _reader: Reader,
    outcome: reconciliations.Outcome = reconciliations.Outcome.FAILED,
    after: After = None,
) -> Response:
    with request.app.state.session_factory() as session:
        cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
        cycles.require_approved(cycle)
        programme = session.get(Programme, cycle.programme_id)
        listed = reconciliations.instructions(
            session=session, cycle_id=cycle_id, outcome=outcome, page=PageRequest.parse(after=after)
        )
    context = {
        "cycle": cycle,
        "programme": programme,
        "outcome": outcome,
        "outcomes": list(reconciliations.Outcome),
        "instructions": listed.items,
        "next": listed.next,
        "amount": money_text(programme.currency),
    }
    return render(request, "payments/instructions.html", LABELS | context, viewer=Viewer(staff=signed))
