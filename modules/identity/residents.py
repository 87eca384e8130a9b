"""The ResidentRegistry port: active residents in national-ID order, read in keyset batches, and
one resident's details for another module's eKYC, audited as a use of their ID."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.errors import Conflict, NotFound
from ...core.i18n import _
from ...core.ports import Resident
from .idnumbers import InvalidNationalId
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

    def know(self, *, session: Session, national_id: str, purpose: str, consent: str, actor: str) -> Resident:
        person = active_person(session=session, national_id=national_id)
        audit.record(
            session=session,
            actor=actor,
            action="identity.ekyc",
            subject=f"person:{national_id}",
            detail={"purpose": purpose, "consent": consent, "result": "success"},
        )
        return Resident(
            national_id=national_id, date_of_birth=person.date_of_birth, sex=person.sex, address=person.address or {}
        )


def active_person(*, session: Session, national_id: str) -> Person:
    """The person holding `national_id`; a Problem naming the field when the ID is malformed, unknown or not active."""
    if not (national_id.isascii() and national_id.isdigit() and len(national_id) <= 20):
        raise InvalidNationalId(
            "national_id: " + _("'{national_id}' must be at most 20 digits").format(national_id=national_id)
        )
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    if person is None:
        raise NotFound("national_id: " + _("no person holds '{national_id}'").format(national_id=national_id))
    if person.status != PersonStatus.ACTIVE:
        raise Conflict(
            "national_id: "
            + _("'{national_id}' is {status}, not active").format(national_id=national_id, status=person.status)
        )
    return person
