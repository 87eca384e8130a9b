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

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached

from .models import AuditEvent, AuditHead, utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
_EVENTS, _HEAD = AuditEvent.__table__, AuditHead.__table__
_HEAD_SEEN = "core.audit.head"  # session.info key: (transaction, head hash it holds locked)
_EVENT_COLUMNS = ("occurred_at", "actor", "action", "subject", "detail", "previous_hash", "hash")
_INSERT_EVENT = _EVENTS.insert().returning(_EVENTS.c.id)
_MOVE_HEAD = (
    _HEAD.update()
    .where(_HEAD.c.id == _HEAD_ID)
    .values(last_hash=bindparam("new_hash"), last_event_id=bindparam("event_id"))
)
# SQLite ignores FOR UPDATE and its driver begins the transaction at the first write: a no-op
# write takes the database write lock as it reads the head, so two concurrent appenders cannot
# both chain onto the same head. PostgreSQL takes a row lock without writing (an UPDATE would
# leave a dead row version per event).
_LOCK_HEAD_BY_WRITING = (
    _HEAD.update()
    .where(_HEAD.c.id == _HEAD_ID)
    .values(last_event_id=_HEAD.c.last_event_id)
    .returning(_HEAD.c.last_hash)
)
_LOCK_HEAD_FOR_UPDATE = select(_HEAD.c.last_hash).where(_HEAD.c.id == _HEAD_ID).with_for_update()


def record(
    *, session: Session, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event in the caller's transaction.

    Prepared Core statements (lock and read the head, insert the event, move the head) rather
    than ORM flushes: every authentication appends one event under the chain's lock, so the
    append is on the hot path of the busiest endpoint.
    """
    connection = session.connection()
    event = AuditEvent(
        occurred_at=utcnow(),
        actor=actor,
        action=action,
        subject=subject,
        detail=detail or {},
        previous_hash=_locked_head_hash(session, connection),
    )
    event.hash = _event_hash(event)
    event.id = connection.execute(_INSERT_EVENT, {name: getattr(event, name) for name in _EVENT_COLUMNS}).scalar_one()
    connection.execute(_MOVE_HEAD, {"new_hash": event.hash, "event_id": event.id})
    session.info[_HEAD_SEEN] = (_innermost_transaction(session), event.hash)
    # Written already: attach it as a loaded row so callers can read it and delete it like any other.
    make_transient_to_detached(event)
    session.add(event)
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
    # Read the head afresh: an AuditHead loaded earlier in this session would be stale.
    head = session.execute(select(AuditHead.last_hash, AuditHead.last_event_id).where(AuditHead.id == _HEAD_ID)).first()
    if head is not None and head.last_hash != previous:
        return ChainReport(events=count, first_broken_id=head.last_event_id)
    return ChainReport(events=count, first_broken_id=None)


def _locked_head_hash(session: Session, connection: Connection) -> str:
    # The lock lasts until the transaction ends: within one (a group commit's batch appends
    # dozens of events) the head this session last wrote is still the head. A savepoint begun
    # or ended since then is a different innermost transaction, so the head is read again.
    transaction, last_hash = session.info.get(_HEAD_SEEN, (None, None))
    if transaction is not None and transaction is _innermost_transaction(session):
        return last_hash
    lock = _LOCK_HEAD_BY_WRITING if connection.dialect.name == "sqlite" else _LOCK_HEAD_FOR_UPDATE
    last_hash = connection.execute(lock).scalar_one_or_none()
    if last_hash is None:
        connection.execute(_HEAD.insert(), {"id": _HEAD_ID, "last_hash": GENESIS_HASH, "last_event_id": 0})
        last_hash = GENESIS_HASH
    return last_hash


def _innermost_transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


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
