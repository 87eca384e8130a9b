"""Loans HTTP API: thin callers of the services."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, status

from ...core.approvals import Signatory
from ...core.authorisation import check_region
from ...core.callers import Caller
from ...core.deps import CountryDep, PortsDep, SessionDep, require_scope
from . import accrual, book, camt054, service, servicing
from .config import LoansSettingsDep
from .models import Application, Loan
from .schemas import (
    APPLICATION_PATTERN,
    BANK_CREDITS_MEDIA_TYPE,
    LOAN_PATTERN,
    ApplicationOut,
    ApplicationRequest,
    BankCreditOut,
    BankCreditsOut,
    EventOut,
    InstalmentOut,
    LoanOut,
    PayoffOut,
    PortfolioOut,
    ProductOut,
    ProductRequest,
    RejectRequest,
    RepaymentRequest,
    RestructureRequest,
    StatementOut,
    WriteOffRequest,
    fraction_text,
)
from .scopes import APPLY_SCOPE, DECIDE_SCOPE, PRODUCT_SCOPE, READ_SCOPE, SERVICE_SCOPE

router = APIRouter()

ApplicationPath = Annotated[str, Path(pattern=APPLICATION_PATTERN, description="An application's reference")]
LoanPath = Annotated[str, Path(pattern=LOAN_PATTERN, description="A loan's reference")]


def _context(session: SessionDep, country: CountryDep, ports: PortsDep, settings: LoansSettingsDep) -> service.Context:
    return service.Context(session=session, country=country, ports=ports, settings=settings)


ContextDep = Annotated[service.Context, Depends(_context)]


@router.post("/products", status_code=status.HTTP_201_CREATED, summary="Create a loan product (its terms as data)")
def create_product(
    body: ProductRequest, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(PRODUCT_SCOPE))]
) -> ProductOut:
    product = service.create_product(
        context=context, code=body.code, name=body.name, terms=body.terms, actor=caller.actor
    )
    context.session.commit()
    return ProductOut.model_validate(product)


@router.get("/products", summary="Loan products")
def products(session: SessionDep, _caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]) -> list[ProductOut]:
    return [ProductOut.model_validate(product) for product in service.list_products(session=session)]


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    summary="Apply for a loan: decided at once (approved and paid, or rejected with reasons) or held for four eyes",
)
def apply(
    body: ApplicationRequest, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(APPLY_SCOPE))]
) -> ApplicationOut:
    request = service.LoanRequest(
        product=body.product,
        principal=body.principal,
        national_id=body.national_id,
        external_id=body.external_id,
        consent=body.consent,
        account=body.account,
        channel="api",
    )
    application = service.apply(context=context, request=request, submitter=Signatory.of(caller), today=date.today())
    check_region(caller, application.region)  # before commit: refused, nothing is kept
    context.session.commit()
    return _application_out(context, application)


@router.get("/applications/{reference}", summary="A loan application and its decision")
def application(
    reference: ApplicationPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> ApplicationOut:
    found = service.get_application(session=context.session, reference=reference)
    check_region(caller, found.region)
    return _application_out(context, found)


@router.post("/applications/{reference}/approve", summary="Approve a held application (not its submitter); it is paid")
def approve(
    reference: ApplicationPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(DECIDE_SCOPE))]
) -> ApplicationOut:
    check_region(caller, service.get_application(session=context.session, reference=reference).region)
    application = service.approve(
        context=context, reference=reference, approver=Signatory.of(caller), today=date.today()
    )
    context.session.commit()
    return _application_out(context, application)


@router.post("/applications/{reference}/reject", summary="Reject a held application, with the reason")
def reject(
    reference: ApplicationPath,
    body: RejectRequest,
    context: ContextDep,
    caller: Annotated[Caller, Depends(require_scope(DECIDE_SCOPE))],
) -> ApplicationOut:
    check_region(caller, service.get_application(session=context.session, reference=reference).region)
    application = service.reject(
        context=context, reference=reference, approver=Signatory.of(caller), reason=body.reason
    )
    context.session.commit()
    return _application_out(context, application)


@router.get("/accounts/{reference}", summary="A loan: its schedule, what is owed and its arrears")
def loan(
    reference: LoanPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> LoanOut:
    found = service.get_loan(session=context.session, reference=reference)
    check_region(caller, found.region)
    return loan_out(context, found)


@router.post(
    "/accounts/{reference}/repayments",
    summary="Collect a repayment from the linked account and apply it (fees, penalties, interest, principal)",
)
def repay(
    reference: LoanPath,
    body: RepaymentRequest,
    context: ContextDep,
    caller: Annotated[Caller, Depends(require_scope(SERVICE_SCOPE))],
) -> EventOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    event = service.repay(
        context=context,
        reference=reference,
        amount=body.amount,
        payment_reference=body.payment_reference,
        source="pull",
        actor=caller.actor,
        today=date.today(),
    )
    context.session.commit()
    return EventOut.model_validate(event)


def _application_out(context: service.Context, application: Application) -> ApplicationOut:
    out = ApplicationOut.model_validate(application)
    made = context.session.query(Loan.reference).filter(Loan.application_id == application.id).scalar()
    return out.model_copy(update={"loan": made})


def loan_out(context: service.Context, loan: Loan) -> LoanOut:
    schedule = service.current_schedule(context.session, loan)
    aged = servicing.ageing_of(context.session, loan)
    return LoanOut(
        reference=loan.reference,
        product_code=loan.product_code,
        currency=loan.currency,
        principal=loan.principal,
        disbursed_on=loan.disbursed_on,
        state=loan.state,
        days_past_due=aged.days_past_due,
        arrears_bucket=aged.bucket,
        accrued_interest=accrual.accrued_interest(context.session, loan.id),
        owed=book.balances(context.session, loan.id),
        schedule=[InstalmentOut.model_validate(instalment) for instalment in schedule],
    )


# ---------------------------------------------------------------- servicing (servicing.py, camt054.py)


def _payoff_out(payoff: servicing.Payoff) -> PayoffOut:
    return PayoffOut(**vars(payoff), total=payoff.total)


@router.get(
    "/accounts/{reference}/payoff",
    summary="What settles the loan today (principal, interest accrued to date, fees, penalties)",
    responses={409: {"description": "The loan is closed or written off"}},
)
def payoff_quote(
    reference: LoanPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> PayoffOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    return _payoff_out(servicing.quote(context=context, reference=reference, today=date.today()))


@router.post(
    "/accounts/{reference}/payoff",
    summary="Repay the loan early: collect the payoff, rebate the unearned interest and close it (once)",
)
def payoff(
    reference: LoanPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(SERVICE_SCOPE))]
) -> EventOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    event = servicing.repay_early(context=context, reference=reference, actor=caller.actor, today=date.today())
    context.session.commit()
    return EventOut.model_validate(event)


@router.post(
    "/accounts/{reference}/restructure",
    summary="Reschedule the outstanding principal over a number of instalments from today (a new schedule version)",
)
def restructure(
    reference: LoanPath,
    body: RestructureRequest,
    context: ContextDep,
    caller: Annotated[Caller, Depends(require_scope(SERVICE_SCOPE))],
) -> LoanOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    found = servicing.restructure(
        context=context, reference=reference, instalments=body.instalments, actor=caller.actor, today=date.today()
    )
    context.session.commit()
    return loan_out(context, found)


@router.post("/accounts/{reference}/write-off", summary="Write the loan off, with the reason: everything owed")
def write_off(
    reference: LoanPath,
    body: WriteOffRequest,
    context: ContextDep,
    caller: Annotated[Caller, Depends(require_scope(SERVICE_SCOPE))],
) -> LoanOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    found = servicing.write_off(
        context=context, reference=reference, reason=body.reason, actor=caller.actor, today=date.today()
    )
    context.session.commit()
    return loan_out(context, found)


@router.get("/accounts/{reference}/statement", summary="A loan's events, their lines and what was owed after each")
def statement(
    reference: LoanPath, context: ContextDep, caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]
) -> StatementOut:
    check_region(caller, service.get_loan(session=context.session, reference=reference).region)
    found = servicing.statement(session=context.session, reference=reference)
    return StatementOut.model_validate({**vars(found), "events": [vars(event) for event in found.events]})


@router.get(
    "/portfolio", summary="Active loans, outstanding principal, portfolio at risk (30, 90 days), repayment rate"
)
def portfolio(context: ContextDep, caller: Annotated[Caller, Depends(require_scope(READ_SCOPE))]) -> PortfolioOut:
    found = servicing.portfolio(context=context, today=date.today(), regions=caller.regions)
    return PortfolioOut(
        **vars(found),
        par30=fraction_text(found.par30),
        par90=fraction_text(found.par90),
        repayment_rate=fraction_text(found.repayment_rate),
    )


@router.post(
    "/bank-credits",
    summary="Apply the credits of a bank's camt.054 as repayments (each credit once; unknown ones kept unmatched)",
    openapi_extra={
        "requestBody": {
            "content": {
                BANK_CREDITS_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary", "description": "An ISO 20022 camt.054"}
                }
            }
        }
    },
)
def bank_credits(
    context: ContextDep,
    body: Annotated[bytes, Body(media_type=BANK_CREDITS_MEDIA_TYPE)],
    caller: Annotated[Caller, Depends(require_scope(SERVICE_SCOPE))],
) -> BankCreditsOut:
    result = camt054.ingest(context=context, message=body, actor=caller.actor)
    context.session.commit()
    return BankCreditsOut(
        read=result.read,
        matched=result.matched,
        unmatched=result.unmatched,
        already=result.already,
        credits=[BankCreditOut.model_validate(credit) for credit in result.credits],
    )
