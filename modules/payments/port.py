"""The `Disbursements` port: pay and collect through the ledger, idempotent on the caller's reference."""

from __future__ import annotations

import hashlib

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, Problem, validation_message
from ...core.i18n import _
from ...core.models import utcnow
from ...core.money import Money
from ...core.ports import PaymentOutcome
from ...core.registry import Ports
from ...core.runtime import Runtime
from . import service
from .config import PaymentsSettings
from .models import Entry, Transfer, TransferState
from .schemas import BeneficiaryRef, TransferRequest

PAYERS_ACCOUNT = "EXTERNAL_PAYERS"  # money arriving from outside the ledger (banks) enters here


class LedgerDisbursements:
    """What tax (and any other module) uses to pay refunds and record collections."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._settings = runtime.settings_of(PaymentsSettings)

    @property
    def _country(self) -> LoadedCountry:
        return self._runtime.country

    @property
    def _ports(self) -> Ports:
        return self._runtime.ports

    def pay(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
    ) -> PaymentOutcome:
        try:
            request = TransferRequest(
                client_reference=reference,
                beneficiary=BeneficiaryRef.of(national_id=national_id, external_id=external_id),
                amount=amount.amount,
                currency=amount.currency,
            )
            outcome = service.transfer(
                session=session,
                ports=self._ports,
                country=self._country,
                request=request,
                funding_account=self._settings.funding_account,
                actor=f"port:{purpose}"[:200],
            )
        except ValidationError as error:
            return PaymentOutcome(reference=reference, state="rejected", reason=_first_error(error))
        except Conflict:
            raise
        except Problem as problem:
            return PaymentOutcome(reference=reference, state="rejected", reason=problem.detail)
        return PaymentOutcome(reference=reference, state=outcome.transfer.state, reason=outcome.transfer.reason)

    def collect(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
    ) -> PaymentOutcome:
        try:
            request = TransferRequest(
                client_reference=reference,
                beneficiary=BeneficiaryRef.of(national_id=national_id, external_id=external_id),
                amount=amount.amount,
                currency=amount.currency,
            )
            service._check_currency(request.currency, self._country.profile.currency)
            key = service.beneficiary_key(session=session, ports=self._ports, beneficiary=request.beneficiary)
        except ValidationError as error:
            return PaymentOutcome(reference=reference, state="rejected", reason=_first_error(error))
        except Problem as problem:
            return PaymentOutcome(reference=reference, state="rejected", reason=problem.detail)
        digest = hashlib.sha256(f"collect|{reference}|{key}|{amount.amount}|{amount.currency}".encode()).hexdigest()
        existing = session.scalar(select(Transfer).where(Transfer.client_reference == reference))
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(
                    "reference: "
                    + _("'{reference}' was already used for a different payment").format(reference=reference)
                )
            return PaymentOutcome(reference=reference, state=existing.state)
        payer = service.ensure_funding_account(session=session, code=PAYERS_ACCOUNT, currency=amount.currency)
        payee = service.ensure_beneficiary_account(
            session=session, key=self._settings.revenue_account, currency=amount.currency
        )
        payee.owner = "system"
        record = Transfer(
            client_reference=reference,
            request_hash=digest,
            state=TransferState.COMMITTED,
            beneficiary_key=key,
            payer_account_id=payer.id,
            payee_account_id=payee.id,
            amount=amount.amount,
            currency=amount.currency,
            completed_at=utcnow(),
        )
        session.add(record)
        session.flush()
        session.add_all(
            [
                Entry(transfer_id=record.id, account_id=payer.id, amount=-amount.amount),
                Entry(transfer_id=record.id, account_id=payee.id, amount=amount.amount),
            ]
        )
        session.flush()
        audit.record(
            session=session,
            actor=f"port:{purpose}"[:200],
            action="payments.collection.committed",
            subject=key,
            detail={"reference": reference, "amount": amount.amount, "currency": amount.currency},
        )
        return PaymentOutcome(reference=reference, state=TransferState.COMMITTED)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {validation_message(first)}"
