"""Tax HTTP API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import WithJsonSchema
from sqlalchemy.orm import Session

from ...core.approvals import Signatory, required_for
from ...core.authorisation import check_region, region_of
from ...core.callers import Caller
from ...core.country import LoadedCountry
from ...core.deps import CountryDep, PortsDep, SessionDep, SettingsDep, require_scope
from ...core.errors import Unprocessable
from ...core.i18n import _
from ...core.pages import PageOut, PageRequestDep
from . import accounts, objections, queues, service
from .models import Objection, ReturnKind
from .schemas import (
    TIN_DESCRIPTION,
    AssessmentOut,
    DecisionRequest,
    EntryOut,
    IncomeAmendment,
    ObjectionDecisionOut,
    ObjectionDetailOut,
    ObjectionOut,
    ObjectionRequest,
    PaymentRequest,
    PendingDecisionOut,
    RefundRequest,
    ReturnRequest,
    StatementOut,
    StatusRequest,
    TaxpayerOutFull,
    TaxpayerRequest,
    Tin,
    VatLines,
    VatPeriod,
    VatReturnRequest,
)
from .scopes import COLLECT_SCOPE, DECIDE_SCOPE, FILE_SCOPE, MAX_ID, READ_SCOPE, REGISTER_SCOPE

router = APIRouter()

TinPath = Annotated[Tin, Path(description=TIN_DESCRIPTION)]
ObjectionStatus = Literal["awaiting_decision", "lodged", "under_review", "allowed", "partially_allowed", "disallowed"]
# Absent: every taxpayer (a query string has no null to send, so the document states none).
TinFilter = Annotated[
    Tin | None,
    Query(description=TIN_DESCRIPTION),
    WithJsonSchema({"type": "string", "format": "tin", "pattern": r"^[0-9]{6,20}$"}),
]


@router.post("/taxpayers", status_code=status.HTTP_201_CREATED, summary="Register a taxpayer and issue a TIN")
def register_taxpayer(
    body: TaxpayerRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    caller: Annotated[Caller, Depends(require_scope(REGISTER_SCOPE))],
) -> TaxpayerOutFull:
    check_region(caller, region_of(body.address, country))
    taxpayer = service.register_taxpayer(
        session=session, party=body.as_new_taxpayer(), country=country, ports=ports, actor=caller.actor
    )
    session.commit()
    return TaxpayerOutFull.model_validate(taxpayer)


@router.get("/taxpayers/{tin}", summary="A registered taxpayer")
def taxpayer(
    tin: TinPath,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> TaxpayerOutFull:
    found = service.get_taxpayer(session=session, tin=tin, country=country)
    check_region(caller, found.region)
    return TaxpayerOutFull.model_validate(found)


@router.post("/returns", status_code=status.HTTP_201_CREATED, summary="File a return; it is assessed at once")
def file_return(
    body: ReturnRequest,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(FILE_SCOPE))],
) -> AssessmentOut:
    _check_taxpayer_region(session, country, caller, body.tin)
    assessment = service.file_return(
        session=session, filed=body.as_income_return(), country=country, actor=caller.actor
    )
    session.commit()
    return AssessmentOut.model_validate(assessment)


@router.get("/assessments/{assessment_id}", summary="An assessment with the trace of how it was computed")
def assessment(
    assessment_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> AssessmentOut:
    found = service.get_assessment(session=session, assessment_id=assessment_id)
    _check_taxpayer_region(session, country, caller, found.tin)
    return AssessmentOut.model_validate(found)


@router.post("/taxpayers/{tin}/status", summary="Change a taxpayer's status (active, deregistered, deceased)")
def change_status(
    tin: TinPath,
    body: StatusRequest,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(REGISTER_SCOPE))],
) -> TaxpayerOutFull:
    _check_taxpayer_region(session, country, caller, tin)
    taxpayer = service.set_status(session=session, tin=tin, status=body.status, country=country, actor=caller.actor)
    session.commit()
    return TaxpayerOutFull.model_validate(taxpayer)


@router.post("/vat-returns", status_code=status.HTTP_201_CREATED, summary="File a VAT return for a period")
def file_vat_return(
    body: VatReturnRequest,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(FILE_SCOPE))],
) -> AssessmentOut:
    _check_taxpayer_region(session, country, caller, body.tin)
    assessment = service.file_vat_return(
        session=session, filed=body.as_vat_return(), country=country, actor=caller.actor
    )
    session.commit()
    return AssessmentOut.model_validate(assessment)


@router.post(
    "/returns/{tin}/{year}/amendments",
    status_code=status.HTTP_201_CREATED,
    summary="Amend an income-tax return: a new version, re-assessed; the previous assessment is superseded",
)
def amend_return(
    tin: TinPath,
    year: Annotated[int, Path(ge=1900, le=2200)],
    body: IncomeAmendment,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(FILE_SCOPE))],
) -> AssessmentOut:
    _check_taxpayer_region(session, country, caller, tin)
    assessment = service.amend_return(
        session=session,
        tin=tin,
        kind=ReturnKind.INCOME,
        period=str(year),
        income=body.income,
        country=country,
        actor=caller.actor,
    )
    session.commit()
    return AssessmentOut.model_validate(assessment)


@router.post(
    "/vat-returns/{tin}/{period}/amendments",
    status_code=status.HTTP_201_CREATED,
    summary="Amend a VAT return: a new version, re-assessed; the previous assessment is superseded",
)
def amend_vat_return(
    tin: TinPath,
    period: Annotated[VatPeriod, Path()],
    body: VatLines,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(FILE_SCOPE))],
) -> AssessmentOut:
    _check_taxpayer_region(session, country, caller, tin)
    assessment = service.amend_return(
        session=session,
        tin=tin,
        kind=ReturnKind.VAT,
        period=period,
        vat=body.as_declaration(),
        country=country,
        actor=caller.actor,
    )
    session.commit()
    return AssessmentOut.model_validate(assessment)


@router.get("/taxpayers/{tin}/assessments", summary="Every assessment of a taxpayer, superseded ones included")
def taxpayer_assessments(
    tin: TinPath,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> list[AssessmentOut]:
    check_region(caller, service.get_taxpayer(session=session, tin=tin, country=country).region)
    return [AssessmentOut.model_validate(a) for a in service.assessments_of(session=session, tin=tin)]


@router.get("/accounts/{tin}", summary="A taxpayer's running account and balance, interest accrued to as_of")
def account(
    tin: TinPath,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
    as_of: date | None = None,
) -> StatementOut:
    _check_taxpayer_region(session, country, caller, tin)
    return StatementOut.model_validate(accounts.statement(session=session, tin=tin, country=country, as_of=as_of))


@router.post("/payments", status_code=status.HTTP_201_CREATED, summary="Pay tax (through payments when installed)")
def pay(
    body: PaymentRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    caller: Annotated[Caller, Depends(require_scope(COLLECT_SCOPE))],
) -> EntryOut:
    if body.currency != country.profile.currency:
        raise Unprocessable(
            "currency: "
            + _("tax here is paid in {expected}, not '{currency}'").format(
                expected=country.profile.currency, currency=body.currency
            )
        )
    _check_taxpayer_region(session, country, caller, body.tin)
    entry = accounts.pay(
        session=session,
        tin=body.tin,
        amount=body.amount,
        reference=body.reference,
        national_id=body.national_id,
        country=country,
        ports=ports,
        actor=caller.actor,
    )
    session.commit()
    return EntryOut.model_validate(entry)


@router.post("/refunds", status_code=status.HTTP_201_CREATED, summary="Refund a credit to the linked account")
def refund(
    body: RefundRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    caller: Annotated[Caller, Depends(require_scope(COLLECT_SCOPE))],
) -> EntryOut:
    _check_taxpayer_region(session, country, caller, body.tin)
    entry = accounts.refund(
        session=session,
        tin=body.tin,
        amount=body.amount,
        reference=body.reference,
        national_id=body.national_id,
        country=country,
        ports=ports,
        actor=caller.actor,
    )
    session.commit()
    return EntryOut.model_validate(entry)


@router.post("/objections", status_code=status.HTTP_201_CREATED, summary="Object to an assessment within the window")
def lodge_objection(
    body: ObjectionRequest,
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(FILE_SCOPE))],
) -> ObjectionOut:
    _check_assessment_region(session, country, caller, body.assessment_id)
    objection = objections.lodge(
        session=session,
        assessment_id=body.assessment_id,
        grounds=body.grounds,
        claimed_income=body.claimed_income,
        country=country,
        maker=Signatory.of(caller),
    )
    session.commit()
    return ObjectionOut.model_validate(objection)


@router.get("/objections", summary="Objections awaiting a decision (or in one state), oldest first")
def objection_queue(
    session: SessionDep,
    country: CountryDep,
    page: PageRequestDep,
    caller: Annotated[Caller, Depends(require_scope(DECIDE_SCOPE))],
    status: Annotated[
        ObjectionStatus, Query(description="awaiting_decision: lodged or under review")
    ] = queues.AWAITING_DECISION,
    tin: TinFilter = None,
) -> PageOut[ObjectionOut]:
    listed = queues.objections(
        session=session, page=page, country=country, status=status, tin=tin, within=caller.regions
    )
    return PageOut(items=[ObjectionOut.model_validate(item) for item in listed.items], next=listed.next)


@router.get("/objections/{objection_id}", summary="An objection, its decision, or the decisions awaiting approval")
def objection(
    objection_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> ObjectionDetailOut:
    found = objections.get(session=session, objection_id=objection_id)
    _check_taxpayer_region(session, country, caller, found.tin)
    return _objection_detail(found, objections.pending_decisions(session=session, objection=found))


@router.post("/objections/{objection_id}/review", summary="Take a lodged objection under review")
def review_objection(
    objection_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    session: SessionDep,
    country: CountryDep,
    caller: Annotated[Caller, Depends(require_scope(DECIDE_SCOPE))],
) -> ObjectionOut:
    _check_objection_region(session, country, caller, objection_id)
    result = objections.review(session=session, objection_id=objection_id, actor=caller.actor)
    session.commit()
    return ObjectionOut.model_validate(result)


@router.post(
    "/objections/{objection_id}/decision",
    summary="Approve a decision (four-eyes): it takes effect once enough people approved it; allowing re-assesses",
    responses={403: {"description": "The partner who lodged the objection may not decide it"}},
)
def decide_objection(
    objection_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DecisionRequest,
    session: SessionDep,
    country: CountryDep,
    core_settings: SettingsDep,
    caller: Annotated[Caller, Depends(require_scope(DECIDE_SCOPE))],
) -> ObjectionDecisionOut:
    _check_objection_region(session, country, caller, objection_id)
    result = objections.decide(
        session=session,
        objection_id=objection_id,
        outcome=body.outcome,
        income=body.income,
        note=body.note,
        country=country,
        approver=Signatory.of(caller),
        required=required_for(core_settings.approvals_required, objections.APPROVAL_ACTION),
    )
    session.commit()
    return ObjectionDecisionOut(
        **_objection_detail(result.objection, result.pending).model_dump(),
        outcome=result.decision.outcome.value,
        income=result.decision.income,
        approvals=result.tally.approvals,
        approvals_required=result.tally.required,
    )


def _check_taxpayer_region(session: Session, country: LoadedCountry, caller: Caller, tin: str) -> None:
    """Refuse a region-limited caller a taxpayer outside its regions (the lookup is skipped for everyone else)."""
    if caller.regions is not None:
        check_region(caller, service.get_taxpayer(session=session, tin=tin, country=country).region)


def _check_assessment_region(session: Session, country: LoadedCountry, caller: Caller, assessment_id: int) -> None:
    if caller.regions is not None:
        assessment = service.get_assessment(session=session, assessment_id=assessment_id)
        _check_taxpayer_region(session, country, caller, assessment.tin)


def _check_objection_region(session: Session, country: LoadedCountry, caller: Caller, objection_id: int) -> None:
    if caller.regions is not None:
        objection = objections.get(session=session, objection_id=objection_id)
        _check_taxpayer_region(session, country, caller, objection.tin)


def _objection_detail(objection: Objection, pending: list[objections.Pending]) -> ObjectionDetailOut:
    return ObjectionDetailOut(
        **ObjectionOut.model_validate(objection).model_dump(),
        pending=[
            PendingDecisionOut(outcome=p.decision.outcome.value, income=p.decision.income, approvals=p.approvals)
            for p in pending
        ],
    )
