"""Demo residents: synthetic people from Faker, enrolled through the real pipeline."""

from __future__ import annotations

import uuid

from faker import Faker

from ...core.approvals import Signatory
from ...core.i18n import ngettext
from ...core.registry import SeedContext
from . import service
from .applications import Application
from .config import IdentitySettings

DEMO_RESIDENTS = 12


def seed(context: SeedContext) -> list[str]:
    fake = _faker(context.country.profile.locale)
    issued = []
    for _ in range(DEMO_RESIDENTS):
        request = Application(
            application_id=str(uuid.uuid4()),
            given_name=fake.first_name(),
            family_name=fake.last_name(),
            date_of_birth=fake.date_of_birth(minimum_age=18, maximum_age=90),
            sex=fake.random_element(["F", "M"]),
        )
        enrolment = service.enrol(
            session=context.session,
            request=request,
            country=context.country,
            settings=context.runtime.settings_of(IdentitySettings),
            maker=Signatory(person="seed", actor="seed"),
        )
        if enrolment.national_id:
            issued.append(enrolment.national_id)
    if not issued:
        return []
    message = ngettext(
        "enrolled {count} demo resident, e.g. national ID {national_id}",
        "enrolled {count} demo residents, e.g. national ID {national_id}",
        len(issued),
    )
    return ["identity: " + message.format(count=len(issued), national_id=issued[0])]


def _faker(locale: str) -> Faker:
    try:
        return Faker(locale)
    except AttributeError:
        return Faker("en")
