"""Payments HTTP API: the mapper, transfers and balances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ...core.deps import CountryDep, PortsDep, SessionDep, require_scope
from ...core.models import Partner
from . import service
from .config import payments_settings
from .models import AccountLink, Transfer, TransferState
from .schemas import AccountOut, BalanceOut, BeneficiaryRef, LinkRequest, TransferOut, TransferRequest

LINK_SCOPE = "payments:link"
READ_SCOPE = "payments:read"
TRANSFER_SCOPE = "payments:transfer"

router = APIRouter()

BeneficiaryQuery = Annotated[BeneficiaryRef, Query()]


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    summary="Link a beneficiary to a financial account (re-linking replaces it)",
)
def link_account(
    body: LinkRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    response: Response,
    partner: Annotated[Partner, Depends(require_scope(LINK_SCOPE))],
) -> AccountOut:
    outcome = service.link_account(session=session, ports=ports, country=country, request=body, actor=partner.name)
    session.commit()
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return _account_out(outcome.link)


@router.get("/accounts/resolve", summary="The financial account a beneficiary is paid into")
def resolve_account(
    beneficiary: BeneficiaryQuery,
    session: SessionDep,
    ports: PortsDep,
    _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))],
) -> AccountOut:
    return _account_out(service.resolve(session=session, ports=ports, beneficiary=beneficiary))


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
    partner: Annotated[Partner, Depends(require_scope(TRANSFER_SCOPE))],
) -> TransferOut:
    outcome = service.transfer(
        session=session,
        ports=ports,
        country=country,
        request=body,
        funding_account=payments_settings().funding_account,
        actor=partner.name,
    )
    session.commit()
    if outcome.transfer.state == TransferState.REJECTED:
        raise service.TransferRejected(outcome.transfer)
    if outcome.replayed:
        response.status_code = status.HTTP_200_OK
    return _transfer_out(outcome.transfer)


@router.get("/transfers/{client_reference}", summary="A transfer and the state it ended in")
def get_transfer(
    client_reference: str, session: SessionDep, _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))]
) -> TransferOut:
    return _transfer_out(service.get_transfer(session=session, client_reference=client_reference))


@router.get("/balances", summary="A beneficiary's ledger balance, derived from its entries")
def get_balance(
    beneficiary: BeneficiaryQuery,
    session: SessionDep,
    ports: PortsDep,
    _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))],
) -> BalanceOut:
    found = service.balance(session=session, ports=ports, beneficiary=beneficiary)
    return BalanceOut(
        beneficiary=found.account.owner,
        account=found.account.code,
        currency=found.account.currency,
        balance=found.amount,
    )


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
