"""Tax HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from ...core.deps import CountryDep, PortsDep, SessionDep, require_scope
from ...core.models import Partner
from . import service
from .schemas import AssessmentOut, ReturnRequest, TaxpayerOut, TaxpayerRequest

REGISTER_SCOPE = "tax:register"
FILE_SCOPE = "tax:file"
READ_SCOPE = "tax:read"

router = APIRouter()


@router.post("/taxpayers", status_code=status.HTTP_201_CREATED, summary="Register a taxpayer and issue a TIN")
def register_taxpayer(
    body: TaxpayerRequest,
    session: SessionDep,
    country: CountryDep,
    ports: PortsDep,
    partner: Annotated[Partner, Depends(require_scope(REGISTER_SCOPE))],
) -> TaxpayerOut:
    taxpayer = service.register_taxpayer(
        session=session, request=body, country=country, ports=ports, actor=partner.name
    )
    session.commit()
    return TaxpayerOut.model_validate(taxpayer)


@router.get("/taxpayers/{tin}", summary="A registered taxpayer")
def taxpayer(
    tin: str,
    session: SessionDep,
    country: CountryDep,
    _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))],
) -> TaxpayerOut:
    return TaxpayerOut.model_validate(service.get_taxpayer(session=session, tin=tin, country=country))


@router.post("/returns", status_code=status.HTTP_201_CREATED, summary="File a return; it is assessed at once")
def file_return(
    body: ReturnRequest,
    session: SessionDep,
    country: CountryDep,
    partner: Annotated[Partner, Depends(require_scope(FILE_SCOPE))],
) -> AssessmentOut:
    assessment = service.file_return(session=session, request=body, country=country, actor=partner.name)
    session.commit()
    return AssessmentOut.model_validate(assessment)


@router.get("/assessments/{assessment_id}", summary="An assessment with the trace of how it was computed")
def assessment(
    assessment_id: int,
    session: SessionDep,
    _partner: Annotated[Partner, Depends(require_scope(READ_SCOPE))],
) -> AssessmentOut:
    return AssessmentOut.model_validate(service.get_assessment(session=session, assessment_id=assessment_id))
