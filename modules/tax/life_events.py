"""Tax's listener to the population register's life events (core.ports.LifeEvents).

A death makes the person's taxpayer record deceased (final, as an officer's change would be), audited
with the source of the news; a person who is no taxpayer is left alone.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ...core.ports import Death
from ...core.runtime import Runtime
from . import service
from .models import TaxpayerStatus


class TaxLifeEvents:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def person_died(self, *, session: Session, death: Death, actor: str) -> None:
        taxpayer = service.taxpayer_of_person(session=session, national_id=death.national_id, ports=self._runtime.ports)
        if taxpayer is None or taxpayer.status == TaxpayerStatus.DECEASED:
            return
        service.set_status(
            session=session,
            tin=taxpayer.tin,
            status=TaxpayerStatus.DECEASED,
            country=self._runtime.country,
            actor=actor,
            source={
                "reason": "death reported",
                "date_of_death": death.date_of_death and death.date_of_death.isoformat(),
                "source": death.source,
                "reference": death.reference,
            },
        )
