"""The `Disbursements` port: pay and collect through the ledger, idempotent on the caller's reference."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from sqlalchemy.orm import Session

from ...core.country import LoadedCountry
from ...core.errors import Conflict, Problem
from ...core.money import Money
from ...core.ports import PaymentOutcome
from ...core.registry import Ports, installed_modules
from ...core.runtime import load_profile
from ...core.settings import Settings
from . import service
from .config import payments_settings
from .domain import Beneficiary, TransferOrder


class LedgerDisbursements:
    """What tax (and any other module) uses to pay refunds and record collections."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _country(self) -> LoadedCountry:
        return load_profile(self._settings, installed_modules())

    @cached_property
    def _ports(self) -> Ports:
        return Ports(installed_modules(), self._settings)

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
        account = {"funding_account": payments_settings().funding_account}
        return self._move(service.transfer, account, session, national_id, external_id, amount, reference, purpose)

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
        account = {"revenue_account": payments_settings().revenue_account}
        return self._move(service.collect, account, session, national_id, external_id, amount, reference, purpose)

    def _move(
        self,
        move: Callable[..., service.TransferOutcome],
        account: dict[str, str],
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
    ) -> PaymentOutcome:
        """Call the service with domain values; a domain problem becomes a rejected outcome with its detail.

        A reference reused for another payment stays a Conflict: that is the caller's bug, not the payee's state.
        """
        try:
            order = TransferOrder(reference, Beneficiary(national_id, external_id), amount)
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
