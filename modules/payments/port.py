"""The `Disbursements` port: pay and collect through the ledger, idempotent on the caller's reference."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from ...core.country import LoadedCountry
from ...core.errors import Conflict, Problem
from ...core.money import Money
from ...core.ports import PaymentOutcome
from ...core.registry import Ports
from ...core.runtime import Runtime
from . import service
from .config import PaymentsSettings
from .domain import Beneficiary, TransferOrder


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

    def mandate(self, *, session: Session, national_id: str | None, external_id: str | None) -> str:
        beneficiary = Beneficiary(national_id, external_id)
        return service.resolve(session=session, ports=self._ports, beneficiary=beneficiary).beneficiary_key

    def pay(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
        mandate: str | None = None,
    ) -> PaymentOutcome:
        account = {"funding_account": self._settings.funding_account}
        payee = (national_id, external_id, mandate)
        return self._move(service.transfer, account, session, payee, amount, reference, purpose)

    def collect(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
        mandate: str | None = None,
    ) -> PaymentOutcome:
        account = {"revenue_account": self._settings.revenue_account}
        payer = (national_id, external_id, mandate)
        return self._move(service.collect, account, session, payer, amount, reference, purpose)

    def _move(
        self,
        move: Callable[..., service.TransferOutcome],
        account: dict[str, str],
        session: Session,
        who: tuple[str | None, str | None, str | None],
        amount: Money,
        reference: str,
        purpose: str,
    ) -> PaymentOutcome:
        """Call the service with domain values; a domain problem becomes a rejected outcome with its detail.

        A reference reused for another payment stays a Conflict: that is the caller's bug, not the payee's state.
        """
        try:
            order = TransferOrder(reference, Beneficiary(*who), amount)
            transfer = move(
                session=session,
                ports=self._ports,
                country=self._country,
                order=order,
                actor=f"port:{purpose}"[:200],
                **account,
            ).transfer
        except Conflict:
            raise
        except Problem as problem:
            return PaymentOutcome(reference=reference, state="rejected", reason=problem.detail)
        return PaymentOutcome(reference=reference, state=transfer.state, reason=transfer.reason)
