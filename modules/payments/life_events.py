"""Payments' listener to the population register's life events (core.ports.LifeEvents).

A death stops future payouts: the person's beneficiary key is recorded as stopped, and no cycle built
afterwards gives them an instruction (cycles.py), whatever the programme's source. Cycles already built
keep their instructions: their envelope was approved as it is.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.ports import Death, SectorTokens
from ...core.runtime import Runtime
from .models import StoppedBeneficiary
from .service import SECTOR


class PaymentsLifeEvents:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def person_died(self, *, session: Session, death: Death, actor: str) -> None:
        tokens = self._runtime.ports.get(SectorTokens)
        if tokens is None:  # nobody to turn the ID into our key (identity publishes deaths, so it is there)
            return
        key = f"token:{tokens.token_for(session=session, national_id=death.national_id, sector=SECTOR)}"
        if session.scalar(select(StoppedBeneficiary.id).where(StoppedBeneficiary.beneficiary_key == key)) is not None:
            return
        session.add(
            StoppedBeneficiary(
                beneficiary_key=key,
                reason="deceased",
                effective=death.date_of_death,
                source=death.source,
                reference=death.reference[:420],
            )
        )
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="payments.beneficiary.stopped",
            subject=f"beneficiary:{key}",
            detail={
                "reason": "deceased",
                "date_of_death": death.date_of_death and death.date_of_death.isoformat(),
                "source": death.source,
                "reference": death.reference,
            },
        )


def stopped_among(session: Session, keys: list[str]) -> set[str]:
    """Those of `keys` no cycle may pay any more."""
    if not keys:
        return set()
    query = select(StoppedBeneficiary.beneficiary_key).where(StoppedBeneficiary.beneficiary_key.in_(keys))
    return set(session.scalars(query))
