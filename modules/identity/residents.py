"""The ResidentRegistry port: active residents in national-ID order, read in keyset batches."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.ports import Resident
from .models import Person, PersonStatus


class RegistryResidents:
    """Provides core.ports.ResidentRegistry from this registry."""

    def iter_residents(self, *, session: Session, batch_size: int = 1000) -> Iterator[Resident]:
        after = ""
        while True:
            rows = session.execute(
                select(Person.national_id, Person.date_of_birth, Person.sex, Person.address)
                .where(Person.status == PersonStatus.ACTIVE, Person.national_id > after)
                .order_by(Person.national_id)
                .limit(batch_size)
            ).all()
            for national_id, date_of_birth, sex, address in rows:
                yield Resident(national_id=national_id, date_of_birth=date_of_birth, sex=sex, address=address or {})
            if len(rows) < batch_size:
                return
            after = rows[-1][0]
