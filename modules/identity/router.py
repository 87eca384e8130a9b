"""Identity HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ...core.deps import CountryDep, SessionDep, require_scope
from ...core.models import Partner
from . import service
from .config import identity_settings
from .schemas import EnrolmentOut, EnrolmentRequest, PersonOut

ENROL_SCOPE = "identity:enrol"
READ_SCOPE = "identity:read"

router = APIRouter()


@router.post("/enrolments", status_code=status.HTTP_201_CREATED, summary="Enrol a resident")
def enrol(
    body: EnrolmentRequest,
    session: SessionDep,
    country: CountryDep,
    response: Response,
    partner: Annotated[Partner, Depends(require_scope(ENROL_SCOPE))],
) -> EnrolmentOut:
    enrolment = service.enrol(
        session=session, request=body, country=country, settings=identity_settings(), actor=partner.name
    )
    session.commit()
    if enrolment.status != "issued":
        response.status_code = status.HTTP_202_ACCEPTED
    return _enrolment_out(enrolment)


@router.get("/enrolments/{application_id}", summary="Status of an enrolment application")
def enrolment_status(
    application_id: str, session: SessionDep, _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))]
) -> EnrolmentOut:
    return _enrolment_out(service.get_enrolment(session=session, application_id=application_id))


@router.get("/persons/{national_id}", summary="A registered person")
def person(
    national_id: str,
    session: SessionDep,
    country: CountryDep,
    _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))],
) -> PersonOut:
    return PersonOut.model_validate(service.get_person(session=session, national_id=national_id, country=country))


def _enrolment_out(enrolment) -> EnrolmentOut:
    return EnrolmentOut(
        application_id=enrolment.application_id,
        status=enrolment.status,
        national_id=enrolment.national_id,
        candidates=enrolment.candidates,
    )
