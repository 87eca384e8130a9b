"""A registered resident for the core's page access matrix (tests/test_page_access.py reads `register`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.country import LoadedCountry
from ..applications import Application
from ..config import IdentitySettings
from ..service import enrol
from .conftest import ADDRESS, PHONE


def register(session: Session, country: LoadedCountry) -> str:
    """Enrol one resident through the real pipeline, commit, and return their national ID."""
    application = Application(
        application_id="page-access-0001",
        given_name="Amina",
        family_name="Wanjiru",
        date_of_birth=date(1985, 4, 12),
        sex="F",
        phone=PHONE,
        address=ADDRESS,
    )
    enrolment = enrol(
        session=session,
        request=application,
        country=country,
        settings=IdentitySettings(),
        maker=Signatory(person="test", actor="test"),
    )
    session.commit()
    assert enrolment.national_id is not None
    return enrolment.national_id
