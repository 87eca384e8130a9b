"""Append-only, hash-chained audit log.

Each event's hash covers its content and the previous event's hash, so editing
or deleting any past event breaks every later link and `verify_chain` finds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead, utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def record(
    *, session: Session, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event in the caller's transaction."""
    head = _locked_head(session)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        detail=detail or {},
        previous_hash=head.last_hash,
    )
    event.hash = _event_hash(event)
    session.add(event)
    session.flush()
    head.last_hash = event.hash
    head.last_event_id = event.id
    return event


def events_for(*, session: Session, subject: str, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_id: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def verify_chain(*, session: Session) -> ChainReport:
    previous = GENESIS_HASH
    count = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        count += 1
        if event.previous_hash != previous or _event_hash(event) != event.hash:
            return ChainReport(events=count, first_broken_id=event.id)
        previous = event.hash
    head = session.get(AuditHead, _HEAD_ID)
    if head is not None and head.last_hash != previous:
        return ChainReport(events=count, first_broken_id=head.last_event_id)
    return ChainReport(events=count, first_broken_id=None)


def _locked_head(session: Session) -> AuditHead:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE and its driver begins the transaction at the first write:
        # a no-op write takes the database write lock before the head is read, so two
        # concurrent appenders cannot both chain onto the same head.
        session.execute(update(AuditHead).where(AuditHead.id == _HEAD_ID).values(last_event_id=AuditHead.last_event_id))
    head = session.scalars(select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()).one_or_none()
    if head is None:
        head = AuditHead(id=_HEAD_ID, last_hash=GENESIS_HASH, last_event_id=0)
        session.add(head)
        session.flush()
    return head


def _event_hash(event: AuditEvent) -> str:
    content = {
        "occurred_at": _timestamp(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
        "previous_hash": event.previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _timestamp(moment: datetime) -> str:
    # SQLite hands datetimes back naive (UTC), PostgreSQL in the session's zone:
    # hash the same UTC text either way.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")
