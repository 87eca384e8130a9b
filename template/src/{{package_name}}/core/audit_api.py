"""The audit viewer's API: the log filtered by person, action and subject, and the chain's verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, WithJsonSchema

from . import audit
from .callers import Caller
from .deps import SessionDep, SettingsDep, require_scope
from .pages import PageOut, PageRequestDep
from .schemas import UtcDatetime

AUDIT_SCOPE = "core:audit"

router = APIRouter(prefix="/audit")

Auditor = Annotated[Caller, Depends(require_scope(AUDIT_SCOPE))]
# A query string has no null to send: an absent filter is no filter.
Filter = WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200})
PersonFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="Who acted, without the role: `staff:amina`, `partner:Bank A`"),
    Filter,
]
ActionFilter = Annotated[str | None, Query(min_length=1, max_length=200, description="e.g. `approval.given`"), Filter]
SubjectFilter = Annotated[str | None, Query(min_length=1, max_length=200, description="e.g. `cycle:12`"), Filter]


class AuditEventOut(BaseModel):
    id: int
    occurred_at: UtcDatetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


class ChainReportOut(BaseModel):
    intact: bool
    events: int
    first_broken_id: int | None
    checkpoints: int
    problems: list[str]


@router.get("/events", summary="The audit log, oldest first, filtered by person, action and subject")
def audit_events(
    session: SessionDep,
    page: PageRequestDep,
    _auditor: Auditor,
    person: PersonFilter = None,
    action: ActionFilter = None,
    subject: SubjectFilter = None,
) -> PageOut[AuditEventOut]:
    listed = audit.list_events(session=session, page=page, person=person, action=action, subject=subject)
    return PageOut(
        items=[AuditEventOut.model_validate(event, from_attributes=True) for event in listed.items], next=listed.next
    )


@router.get(
    "/verification",
    summary="Check every link of the chain with its key and the chain against the signed checkpoints",
)
def audit_verification(session: SessionDep, settings: SettingsDep, _auditor: Auditor) -> ChainReportOut:
    secret = settings.secret_key.get_secret_value()
    checkpoints = audit.read_checkpoints(settings.audit_checkpoint_dir, secret=secret)
    report = audit.verify_chain(session=session, checkpoints=checkpoints)
    return ChainReportOut(
        intact=report.intact,
        events=report.events,
        first_broken_id=report.first_broken_id,
        checkpoints=report.checkpoints,
        problems=list(report.problems),
    )
