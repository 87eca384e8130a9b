"""Payments HTTP API: the mapper, transfers, balances, programmes, cycles, bank messages and the resident view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema
from sqlalchemy.orm import Session

from ...core import jobs
from ...core.approvals import Signatory, required_for
from ...core.callers import Caller
from ...core.deps import CountryDep, PortsDep, SessionDep, SettingsDep, require_scope
from ...core.errors import NotFound
from ...core.i18n import _
from ...core.jobs import JobOut
from ...core.pages import PageOut, PageRequestDep
from ...core.settings import Settings
from . import answers, cycles, disbursing, programme_service, queues, reconciliations, rule_changes, service
from . import jobs as payment_jobs
from .config import PaymentsSettingsDep
from .domain import AccountDetails, Beneficiary, Enrollee, ProgrammeRules, ProgrammeTerms, TransferOrder
from .ledger import deployment_money
from .models import (
    AccountLink,
    Cycle,
    CycleState,
    Programme,
    ProgrammeRuleChange,
    RuleChangeState,
    Transfer,
    TransferState,
)
from .rails import rail_from_settings
from .schemas import (
    PROGRAMME_CODE_PATTERN,
    REFERENCE_PATTERN,
    AccountOut,
    ApproveIn,
    BalanceOut,
    BeneficiaryRef,
    BeneficiaryRequest,
    CycleIn,
    CycleOut,
    EnrolmentOut,
    EnrolmentRequest,
    IngestOut,
    LinkRequest,
    PaymentLineOut,
    ProgrammeIn,
    ProgrammeOut,
    QueuedCycleOut,
    ReconciliationOut,
    ResolveItem,
    ResolveOut,
    ResolveRequest,
    RuleChangeOut,
    RulesIn,
    TallyOut,
    TransferOut,
    TransferRequest,
    UnlinkOut,
    UnlinkRequest,
)
from .scopes import APPROVE_SCOPE, LINK_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE

router = APIRouter()
JOBS_PATH = "/payments/jobs"  # where a job handed to the worker is polled (the module's routes are under /payments)

# A beneficiary (national ID or external ID) is always named in a request body, never in the URL: access
# logs, proxies and browser histories keep URLs.
CycleId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Cycle ID")]
ChangeId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Rule change ID")]
# Their own patterns refuse every control character (a NUL reached PostgreSQL and answered 500).
ProgrammeCode = Annotated[str, Path(pattern=PROGRAMME_CODE_PATTERN, description="Programme code")]
# Absent: every programme (a query string has no null to send, so the document states none).
ProgrammeFilter = Annotated[
    str | None,
    Query(pattern=PROGRAMME_CODE_PATTERN, description="Programme code"),
    WithJsonSchema({"type": "string", "pattern": PROGRAMME_CODE_PATTERN}),
]
ClientReference = Annotated[str, Path(pattern=REFERENCE_PATTERN, description="The client's reference")]


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    summary="Link a beneficiary to a financial account (re-linking replaces it)",
    responses={
        status.HTTP_200_OK: {"model": AccountOut, "description": "Re-linked: the account replaces the earlier one"}
    },
)
def link_account(
    body: LinkRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope(LINK_SCOPE))],
) -> AccountOut:
    outcome = service.link_account(
        session=session,
        ports=ports,
        country=country,
        beneficiary=_beneficiary(body.beneficiary),
        account=AccountDetails(body.account.kind, body.account.number, body.account.bank_code),
        actor=caller.actor,
    )
    session.commit()
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return _account_out(outcome.link)


@router.post("/accounts/unlink", summary="Unlink a beneficiary's financial account (kept in history)")
def unlink_account(
    body: UnlinkRequest,
    session: SessionDep,
    ports: PortsDep,
    caller: Annotated[Caller, Depends(require_scope(LINK_SCOPE))],
) -> UnlinkOut:
    history = service.unlink_account(
        session=session, ports=ports, beneficiary=_beneficiary(body.beneficiary), actor=caller.actor
    )
    session.commit()
    return UnlinkOut(
        beneficiary=history.beneficiary_key,
        kind=history.kind,
        number=history.number,
        unlinked_at=history.replaced_at,
    )


@router.post("/accounts/resolve", summary="Resolve many beneficiaries at once; one result per item, in order")
def resolve_accounts(
    body: ResolveRequest,
    session: SessionDep,
    ports: PortsDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> ResolveOut:
    results = service.resolve_many(session=session, ports=ports, beneficiaries=[_beneficiary(b) for b in body.items])
    items = []
    for index, result in enumerate(results):
        if result.link is not None:
            items.append(ResolveItem(index=index, status="found", account=_account_out(result.link)))
        elif result.error == "not linked":
            items.append(ResolveItem(index=index, status="not_found", reason=_("no financial account is linked")))
        else:
            items.append(ResolveItem(index=index, status="error", reason=result.error))
    return ResolveOut(items=items)


@router.post(
    "/transfers",
    status_code=status.HTTP_201_CREATED,
    summary="Pay a beneficiary from the funding account (idempotent on client_reference)",
    responses={200: {"description": "A replay: the original transfer"}, 409: {"description": "Reference reused"}},
)
def create_transfer(
    body: TransferRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope(TRANSFER_SCOPE))],
    payments_settings: PaymentsSettingsDep,
) -> TransferOut:
    amount = deployment_money(body.amount, body.currency, country.profile.currency)
    outcome = service.transfer(
        session=session,
        ports=ports,
        country=country,
        order=TransferOrder(body.client_reference, _beneficiary(body.beneficiary), amount),
        funding_account=payments_settings.funding_account,
        actor=caller.actor,
    )
    session.commit()
    if outcome.transfer.state == TransferState.REJECTED:
        raise service.TransferRejected(outcome.transfer)
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    return _transfer_out(outcome.transfer)


@router.get("/transfers/{client_reference}", summary="A transfer and the state it ended in")
def get_transfer(
    client_reference: ClientReference,
    session: SessionDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> TransferOut:
    return _transfer_out(service.get_transfer(session=session, client_reference=client_reference))


@router.post("/balances/query", summary="A beneficiary's ledger balance, derived from its entries (a read)")
def get_balance(
    body: BeneficiaryRequest,
    session: SessionDep,
    ports: PortsDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> BalanceOut:
    found = service.balance(session=session, ports=ports, beneficiary=_beneficiary(body.beneficiary))
    return BalanceOut(
        beneficiary=found.account.owner,
        account=found.account.code,
        currency=found.account.currency,
        balance=found.amount,
    )


def _beneficiary(ref: BeneficiaryRef) -> Beneficiary:
    return Beneficiary(ref.national_id, ref.external_id)


def _account_out(link: AccountLink) -> AccountOut:
    return AccountOut(
        beneficiary=link.beneficiary_key,
        kind=link.kind,
        number=link.number,
        bank_code=link.bank_code,
        linked_at=link.linked_at,
        updated_at=link.updated_at,
    )


def _transfer_out(transfer: Transfer) -> TransferOut:
    return TransferOut(
        client_reference=transfer.client_reference,
        state=transfer.state,
        beneficiary=transfer.beneficiary_key,
        amount=transfer.amount,
        currency=transfer.currency,
        reason=transfer.reason,
        received_at=transfer.received_at,
        completed_at=transfer.completed_at,
    )


# ---------------------------------------------------------------- programmes and cycles


@router.post(
    "/programmes",
    status_code=status.HTTP_201_CREATED,
    summary="Register a programme: eligibility rules and entitlement as data (a replay answers 200)",
)
def create_programme(
    body: ProgrammeIn,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope(PROGRAMME_SCOPE))],
) -> ProgrammeOut:
    created = programme_service.create_programme(
        session=session, ports=ports, country=country, terms=ProgrammeTerms.of(body), actor=caller.actor
    )
    session.commit()
    if not created.created:
        response.status_code = status.HTTP_200_OK
    return _programme_out(created.record)


@router.get("/programmes/{code}", summary="A programme and its rules")
def get_programme(
    code: ProgrammeCode, session: SessionDep, _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> ProgrammeOut:
    return _programme_out(programme_service.get_programme(session=session, code=code))


@router.post(
    "/programmes/{code}/rule-changes",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Propose new rules (four-eyes): in force once approved; supersedes the change pending until now",
)
def propose_rule_change(
    code: ProgrammeCode,
    body: RulesIn,
    session: SessionDep,
    ports: PortsDep,
    core_settings: SettingsDep,
    caller: Annotated[Caller, Depends(require_scope(PROGRAMME_SCOPE))],
) -> RuleChangeOut:
    programme = programme_service.get_programme(session=session, code=code)
    change = rule_changes.propose(
        session=session, ports=ports, programme=programme, rules=ProgrammeRules.of(body), proposer=Signatory.of(caller)
    )
    session.commit()
    return _rule_change_out(session, programme, change, core_settings)


@router.get(
    "/programmes/{code}/rule-changes",
    summary="The programme's rule changes awaiting approval (or in another state), oldest first",
)
def rule_change_queue(
    code: ProgrammeCode,
    session: SessionDep,
    page: PageRequestDep,
    core_settings: SettingsDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
    status: Annotated[RuleChangeState, Query(description="pending: awaiting approval")] = RuleChangeState.PENDING,
) -> PageOut[RuleChangeOut]:
    programme = programme_service.get_programme(session=session, code=code)
    listed = rule_changes.queue(session=session, programme=programme, page=page, state=status)
    return PageOut(
        items=[_rule_change_out(session, programme, change, core_settings) for change in listed.items],
        next=listed.next,
    )


@router.post(
    "/programmes/{code}/rule-changes/{change_id}/approvals",
    summary="Approve proposed rules (four-eyes): never their proposer, once a person; in force at the required count",
    responses={403: {"description": "The change's proposer may not approve it"}},
)
def approve_rule_change(
    code: ProgrammeCode,
    change_id: ChangeId,
    session: SessionDep,
    core_settings: SettingsDep,
    caller: Annotated[Caller, Depends(require_scope(APPROVE_SCOPE))],
) -> RuleChangeOut:
    programme = programme_service.get_programme(session=session, code=code)
    change = rule_changes.get_change(session=session, programme=programme, change_id=change_id)
    rule_changes.approve(
        session=session,
        programme=programme,
        change=change,
        approver=Signatory.of(caller),
        required=_rules_required(core_settings),
    )
    session.commit()
    return _rule_change_out(session, programme, change, core_settings)


@router.post("/programmes/{code}/enrolments", summary="Enrol beneficiaries with their attributes (idempotent)")
def enrol(
    code: ProgrammeCode,
    body: EnrolmentRequest,
    session: SessionDep,
    ports: PortsDep,
    _caller: Annotated[Caller, Depends(require_scope(PROGRAMME_SCOPE))],
) -> EnrolmentOut:
    programme = programme_service.get_programme(session=session, code=code)
    items = [Enrollee(_beneficiary(item.beneficiary), item.attributes) for item in body.items]
    counts = programme_service.enrol(session=session, ports=ports, programme=programme, items=items)
    session.commit()
    return EnrolmentOut(enrolled=counts.enrolled, updated=counts.updated, unchanged=counts.unchanged)


@router.post(
    "/programmes/{code}/cycles",
    status_code=status.HTTP_201_CREATED,
    summary="Build a cycle: eligibility → entitlements → payment instructions (same name again answers 200)",
)
def create_cycle(
    code: ProgrammeCode,
    body: CycleIn,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope(PROGRAMME_SCOPE))],
    settings: PaymentsSettingsDep,
    core_settings: SettingsDep,
) -> CycleOut:
    programme = programme_service.get_programme(session=session, code=code)
    maker = Signatory.of(caller)
    created = programme_service.create_cycle(
        session=session,
        ports=ports,
        country=country,
        programme=programme,
        name=body.name,
        as_of=body.as_of,
        funding_account=settings.funding_account,
        chunk_size=settings.chunk_size,
        maker=maker,
    )
    session.commit()
    if not created.created:
        response.status_code = status.HTTP_200_OK
    cycle = created.record
    # The maker sees the totals they built (the approvers re-enter them blind); anyone else replaying it does not.
    return _cycle_out(session, cycle, programme, core_settings, reveal=cycle.made_by == maker.person)


@router.get("/cycles", summary="Cycles awaiting approval (or in one state), oldest first, without their totals")
def cycle_queue(
    session: SessionDep,
    page: PageRequestDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
    status: Annotated[CycleState, Query(description="built: awaiting approval")] = CycleState.BUILT,
    programme: ProgrammeFilter = None,
) -> PageOut[QueuedCycleOut]:
    listed = queues.cycles(session=session, page=page, state=status, programme=programme)
    return PageOut(items=[_queued_cycle_out(item) for item in listed.items], next=listed.next)


@router.get(
    "/cycles/{cycle_id}",
    summary="A cycle, its approvals and envelope; its instruction totals only once approved (approvers count blind)",
)
def get_cycle(
    cycle_id: CycleId,
    session: SessionDep,
    core_settings: SettingsDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> CycleOut:
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    return _cycle_out(session, cycle, session.get(Programme, cycle.programme_id), core_settings)


@router.post(
    "/cycles/{cycle_id}/approve",
    summary="Approve the envelope (four-eyes): re-enter the control count and sum; never its maker, once a person",
    responses={
        403: {"description": "The cycle's maker may not approve it, nor a person who entered wrong totals too often"},
        409: {"description": "The control totals do not match (the real ones are not told), or approved already"},
    },
)
def approve_cycle(
    cycle_id: CycleId,
    body: ApproveIn,
    session: SessionDep,
    core_settings: SettingsDep,
    settings: PaymentsSettingsDep,
    caller: Annotated[Caller, Depends(require_scope(APPROVE_SCOPE))],
) -> CycleOut:
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    try:
        cycles.approve_cycle(
            session=session,
            cycle=cycle,
            control_count=body.control_count,
            control_sum=body.control_sum,
            approver=Signatory.of(caller),
            required=_required(core_settings),
            max_wrong_totals=settings.max_wrong_control_totals,
        )
    except cycles.CountedRefusal:
        session.commit()  # the wrong totals count towards the limit, and the audit log keeps the refusal
        raise
    session.commit()
    return _cycle_out(session, cycle, session.get(Programme, cycle.programme_id), core_settings)


@router.post(
    "/cycles/{cycle_id}/disburse",
    summary=(
        "Pay an approved cycle to the end (idempotent: a repeat pays nobody twice); with a worker "
        "(WORKER_HANDOFF), handed over at once: 202 and the job to poll at Location"
    ),
    response_model=ReconciliationOut,
    responses={202: {"model": JobOut, "description": "Handed to a worker: poll the job at Location"}},
)
def disburse_cycle(
    cycle_id: CycleId,
    session: SessionDep,
    country: CountryDep,
    request: Request,
    caller: Annotated[Caller, Depends(require_scope(TRANSFER_SCOPE))],
    settings: PaymentsSettingsDep,
    core_settings: SettingsDep,
) -> ReconciliationOut | JSONResponse:
    cycle = cycles.get_cycle(session=session, cycle_id=cycle_id)
    cycles.start_disbursement(session=session, cycle=cycle, currency=country.profile.currency, actor=caller.actor)
    session.commit()
    if jobs.hands_off(core_settings) and cycle.state != CycleState.DISBURSED:
        job_id = jobs.defer(
            core_settings, payment_jobs.DISBURSE, lock=payment_jobs.disbursement_lock(cycle_id), cycle_id=cycle_id
        )
        return _job_accepted(session, job_id)
    disbursing.run_worker(
        session_factory=request.app.state.session_factory,
        cycle_id=cycle_id,
        currency=country.profile.currency,
        rail=rail_from_settings(settings),
        settings=settings,
        worker=f"api:{caller.actor}"[:80],
    )
    session.expire_all()
    return reconciliation_out(reconciliations.reconcile(session=session, cycle_id=cycle_id))


def _job_accepted(session: Session, job_id: int) -> JSONResponse:
    location = f"{JOBS_PATH}/{job_id}"
    found = jobs.status(session, job_id)
    body = JobOut(
        job_id=job_id,
        job=found.job if found else payment_jobs.DISBURSE,
        status=found.status if found else "todo",
        attempts=found.attempts if found else 0,
        location=location,
    )
    return JSONResponse(body.model_dump(), status_code=status.HTTP_202_ACCEPTED, headers={"Location": location})


@router.get(
    "/jobs/{job_id}",
    summary="A payments job handed to a worker (a cycle's disbursement): todo, doing, succeeded or failed",
    responses={404: {"description": "No such payments job"}},
)
def job_status(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    _caller: Annotated[Caller, Depends(require_scope(TRANSFER_SCOPE))],
) -> JobOut:
    found = jobs.status(session, job_id)
    if found is None or not found.job.startswith("payments."):
        raise NotFound(_("no payments job {job}").format(job=job_id), field="job_id")
    return JobOut(
        job_id=found.id, job=found.job, status=found.status, attempts=found.attempts, location=f"{JOBS_PATH}/{found.id}"
    )


@router.get(
    "/cycles/{cycle_id}/reconciliation",
    summary="Paid, failed, pending and unmatched against control totals (once the cycle is approved)",
    responses={409: {"description": "The cycle awaits its approvals"}},
)
def reconciliation(
    cycle_id: CycleId, session: SessionDep, _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> ReconciliationOut:
    cycles.require_approved(cycles.get_cycle(session=session, cycle_id=cycle_id))
    return reconciliation_out(reconciliations.reconcile(session=session, cycle_id=cycle_id))


@router.post(
    "/bank-messages",
    summary="Ingest a bank's pain.002 (status) or camt.054 (notification); the same message twice is a no-op",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/xml": {
                    "schema": {"type": "string", "format": "binary", "description": "An ISO 20022 pain.002 or camt.054"}
                }
            }
        }
    },
)
def ingest_bank_message(
    session: SessionDep,
    body: Annotated[bytes, Body(media_type="application/xml")],
    _caller: Annotated[Caller, Depends(require_scope(TRANSFER_SCOPE))],
    payments_settings: PaymentsSettingsDep,
) -> IngestOut:
    result = answers.ingest(session=session, message=body, max_attempts=payments_settings.max_attempts)
    session.commit()
    return IngestOut(
        kind=result.kind,
        msg_id=result.msg_id,
        replayed=result.replayed,
        accepted=result.accepted,
        settled=result.settled,
        retried=result.retried,
        returned=result.returned,
        unmatched=result.unmatched,
    )


@router.post(
    "/residents/payments/query",
    summary="What was paid to a resident, when, by which programme, and its status (a read)",
)
def resident_payments(
    body: BeneficiaryRequest,
    session: SessionDep,
    ports: PortsDep,
    _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))],
) -> list[PaymentLineOut]:
    lines = programme_service.payments_to(session=session, ports=ports, beneficiary=_beneficiary(body.beneficiary))
    return [PaymentLineOut(**vars(line)) for line in lines]


def reconciliation_out(report: reconciliations.Reconciliation) -> ReconciliationOut:
    def tally(t: reconciliations.Tally) -> TallyOut:
        return TallyOut(count=t.count, sum=t.sum)

    return ReconciliationOut(
        cycle_id=report.cycle_id,
        programme=report.programme,
        cycle=report.cycle,
        state=report.state,
        currency=report.currency,
        envelope=tally(report.envelope),
        instructions=tally(report.instructions),
        paid=tally(report.paid),
        failed=tally(report.failed),
        pending=tally(report.pending),
        unlinked=tally(report.unlinked),
        unmatched=tally(report.unmatched),
        returned_to_programme=report.returned_to_programme,
        messages=report.messages,
        matches_control_totals=report.matches_control_totals,
    )


def _programme_out(programme: Programme) -> ProgrammeOut:
    return ProgrammeOut(
        code=programme.code,
        name=programme.name,
        currency=programme.currency,
        source=programme.source,
        eligibility=programme.eligibility,
        entitlement=programme.entitlement,
        income_year=programme.income_year,
        created_at=programme.created_at,
    )


def _required(core_settings: Settings) -> int:
    return required_for(core_settings.approvals_required, cycles.APPROVAL_ACTION)


def _rules_required(core_settings: Settings) -> int:
    return required_for(core_settings.approvals_required, rule_changes.APPROVAL_ACTION)


def _rule_change_out(
    session: Session, programme: Programme, change: ProgrammeRuleChange, core_settings: Settings
) -> RuleChangeOut:
    tally = rule_changes.tally(
        session=session, programme=programme, change=change, required=_rules_required(core_settings)
    )
    return RuleChangeOut(
        id=change.id,
        programme=programme.code,
        state=change.state,
        eligibility=change.eligibility,
        entitlement=change.entitlement,
        income_year=change.income_year,
        proposed_by=change.proposed_by_actor,
        proposed_at=change.proposed_at,
        approvals=tally.approvals,
        approvals_required=tally.required,
        approved_by=change.approved_by,
        decided_at=change.decided_at,
    )


def _cycle_out(
    session: Session, cycle: Cycle, programme: Programme, core_settings: Settings, *, reveal: bool = False
) -> CycleOut:
    """The cycle; its instruction totals only once approved, or when `reveal` (its maker building it)."""
    tally = cycles.cycle_tally(session=session, cycle=cycle, required=_required(core_settings))
    shown = reveal or cycle.state != CycleState.BUILT
    return CycleOut(
        id=cycle.id,
        programme=programme.code,
        name=cycle.name,
        state=cycle.state,
        as_of=cycle.as_of,
        instruction_count=cycle.instruction_count if shown else None,
        instruction_sum=cycle.instruction_sum if shown else None,
        unlinked_count=cycle.unlinked_count,
        control_count=cycle.control_count,
        control_sum=cycle.control_sum,
        approvals=tally.approvals,
        approvals_required=tally.required,
        approved_by=cycle.approved_by,
    )


def _queued_cycle_out(queued: queues.QueuedCycle) -> QueuedCycleOut:
    cycle = queued.cycle
    return QueuedCycleOut(
        id=cycle.id,
        programme=queued.programme,
        name=cycle.name,
        state=cycle.state,
        as_of=cycle.as_of,
        built_at=cycle.created_at,
        approved_by=cycle.approved_by,
    )
