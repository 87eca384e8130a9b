"""Append-only, hash-chained audit log, keyed and anchored outside the database.

Each event's hash is an HMAC-SHA256 (key derived from SECRET_KEY, core/keys.py) of its content
and the previous event's hash, so editing or deleting a past event breaks every later link, and
re-hashing the rest of the chain needs the key. Against a holder of the key, `audit checkpoint`
(run on a schedule) appends the signed head of the chain (Ed25519, key also derived from
SECRET_KEY) to a folder outside the database; `verify_chain` checks the chain against every
checkpoint, so a rewrite of anything at or before the latest checkpoint is caught.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, bindparam, func, or_, select
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached

from .i18n import _
from .keys import AUDIT_CHAIN_HMAC, checkpoint_signing_key, derive_key
from .models import AuditEvent, AuditHead, utcnow
from .pages import Page, PageRequest
from .pages import fetch as fetch_page

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
    event.hash = _event_hash(event, _configured_hmac())
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


# ---------------------------------------------------------------- the key

_key: bytes | None = None
_hmac_template: hmac.HMAC | None = None


def chain_key(secret: str) -> bytes:
    """The chain's HMAC key, derived from SECRET_KEY (distinct from every other derived key)."""
    return derive_key(secret, AUDIT_CHAIN_HMAC)


def configure(secret: str) -> None:
    """Key the chain for this process; `build_runtime` calls it with the settings' SECRET_KEY."""
    global _key, _hmac_template
    _key = chain_key(secret)
    _hmac_template = hmac.new(_key, digestmod=hashlib.sha256)


def configured_key() -> bytes:
    """The configured chain key (the core migration that re-keys a plain SHA-256 chain asks for it)."""
    _configured_hmac()
    return _key


def _configured_hmac() -> hmac.HMAC:
    if _hmac_template is None:
        raise RuntimeError("the audit chain has no key: build_runtime(settings) (or audit.configure) must run first")
    return _hmac_template


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_id: int | None
    checkpoints: int = 0
    problems: tuple[str, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and not self.problems


def verify_chain(*, session: Session, checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
    """Check every link with the key, the head, and the chain against each signed checkpoint."""
    template = _configured_hmac()
    wanted = {checkpoint.last_event_id for checkpoint in checkpoints}
    seen: dict[int, tuple[str, int]] = {}  # checkpointed event id -> (its hash, its position)
    previous = GENESIS_HASH
    count = 0
    first_broken_id = None
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        count += 1
        if event.previous_hash != previous or _event_hash(event, template) != event.hash:
            first_broken_id = event.id
            break
        if event.id in wanted:
            seen[event.id] = (event.hash, count)
        previous = event.hash
    if first_broken_id is None:
        # Read the head afresh: an AuditHead loaded earlier in this session would be stale.
        query = select(AuditHead.last_hash, AuditHead.last_event_id).where(AuditHead.id == _HEAD_ID)
        head = session.execute(query).first()
        if head is not None and head.last_hash != previous:
            first_broken_id = head.last_event_id
    problems = [] if first_broken_id is not None else [p for c in checkpoints for p in c.problems_with(seen, count)]
    return ChainReport(
        events=count, first_broken_id=first_broken_id, checkpoints=len(checkpoints), problems=tuple(problems)
    )


# ---------------------------------------------------------------- checkpoints outside the database

CHECKPOINT_VERSION = 1
_SIGNED_FIELDS = ("version", "last_event_id", "last_hash", "events", "created_at", "public_key")


@dataclass(frozen=True)
class Checkpoint:
    """One signed head of the chain, as written by `audit checkpoint` (a JSON file)."""

    name: str
    last_event_id: int
    last_hash: str
    events: int
    created_at: str
    signature_problem: str | None

    def problems_with(self, seen: dict[int, tuple[str, int]], count: int) -> list[str]:
        if self.signature_problem is not None:
            return [self.signature_problem]
        if self.events == 0:
            return []
        if count < self.events or self.last_event_id not in seen:
            message = _("audit checkpoint {name}: the chain ({count} events) is shorter than the {events} it signed")
            return [message.format(name=self.name, count=count, events=self.events)]
        hash_then, position = seen[self.last_event_id]
        if hash_then != self.last_hash or position != self.events:
            message = _("audit checkpoint {name}: event {event} differs from the signed chain (rewritten since {time})")
            return [message.format(name=self.name, event=self.last_event_id, time=self.created_at)]
        return []


def public_key_text(secret: str) -> str:
    """The checkpoint signing key's public half (base64 of the raw Ed25519 key), for auditors."""
    raw = checkpoint_signing_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def write_checkpoint(*, session: Session, directory: Path, secret: str) -> Path:
    """Append a signed checkpoint of the current head to `directory`; never overwrites a file."""
    head = session.execute(select(AuditHead.last_hash, AuditHead.last_event_id).where(AuditHead.id == _HEAD_ID)).first()
    last_hash, last_event_id = (head.last_hash, head.last_event_id) if head is not None else (GENESIS_HASH, 0)
    events = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= last_event_id))
    now = datetime.now(UTC)
    content = {
        "version": CHECKPOINT_VERSION,
        "last_event_id": last_event_id,
        "last_hash": last_hash,
        "events": events,
        "created_at": now.isoformat(timespec="microseconds"),
        "public_key": public_key_text(secret),
    }
    content["signature"] = base64.b64encode(checkpoint_signing_key(secret).sign(_signed_bytes(content))).decode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{now:%Y%m%dT%H%M%S%fZ}-{last_event_id}.json"
    with path.open("x", encoding="utf-8") as file:  # "x": an existing checkpoint is never replaced
        json.dump(content, file, indent=2, sort_keys=True)
        file.write("\n")
    return path


def read_checkpoints(directory: Path, *, secret: str) -> list[Checkpoint]:
    """Every checkpoint in `directory`, its signature checked against the key derived from `secret`."""
    if not directory.is_dir():
        return []
    expected_public_key = public_key_text(secret)
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(expected_public_key))
    return [_read_checkpoint(path, public_key, expected_public_key) for path in sorted(directory.glob("*.json"))]


def newest_checkpoint(directory: Path, *, secret: str) -> Checkpoint | None:
    """The newest checkpoint whose signature holds (file names sort by time), reading from the newest down."""
    if not directory.is_dir():
        return None
    expected_public_key = public_key_text(secret)
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(expected_public_key))
    for path in sorted(directory.glob("*.json"), reverse=True):
        checkpoint = _read_checkpoint(path, public_key, expected_public_key)
        if checkpoint.signature_problem is None:
            return checkpoint
    return None


def _read_checkpoint(path: Path, public_key: Ed25519PublicKey, expected_public_key: str) -> Checkpoint:
    bad = _("audit checkpoint {name}: bad signature or unreadable ({reason})")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(content["signature"], validate=True)
        if content.get("public_key") != expected_public_key:
            reason = _("signed with another key")
        else:
            public_key.verify(signature, _signed_bytes(content))
            reason = None
        checkpoint = Checkpoint(
            name=path.name,
            last_event_id=int(content["last_event_id"]),
            last_hash=str(content["last_hash"]),
            events=int(content["events"]),
            created_at=str(content["created_at"]),
            signature_problem=None if reason is None else bad.format(name=path.name, reason=reason),
        )
    except InvalidSignature:
        reason = _("the signature does not match its content")
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = type(error).__name__
    else:
        return checkpoint
    return Checkpoint(
        name=path.name,
        last_event_id=0,
        last_hash="",
        events=0,
        created_at="",
        signature_problem=bad.format(name=path.name, reason=reason),
    )


def _signed_bytes(content: dict[str, Any]) -> bytes:
    signed = {name: content[name] for name in _SIGNED_FIELDS}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


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


def _event_hash(event: AuditEvent, template: hmac.HMAC) -> str:
    """HMAC-SHA256 of the event's canonical JSON (the HMAC state keyed once, copied per event)."""
    content = {
        "occurred_at": _timestamp(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
        "previous_hash": event.previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = template.copy()
    digest.update(canonical.encode())
    return digest.hexdigest()


def _timestamp(moment: datetime) -> str:
    # SQLite hands datetimes back naive (UTC), PostgreSQL in the session's zone:
    # hash the same UTC text either way.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


# ---------------------------------------------------------------- reading the log


def list_events(
    *,
    session: Session,
    page: PageRequest,
    person: str | None = None,
    action: str | None = None,
    subject: str | None = None,
) -> Page[AuditEvent]:
    """A page of events, oldest first, filtered by who acted, what they did and to what.

    `person` is the actor without the role (`staff:amina`, `partner:Bank A`): the log names the
    role a staff member acted in beside them (`staff:amina (payments.approver)`), and an auditor
    asks what a person did whatever the role.
    """
    query = select(AuditEvent)
    if person is not None:
        query = query.where(
            or_(AuditEvent.actor == person, AuditEvent.actor.startswith(f"{person} (", autoescape=True))
        )
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if subject is not None:
        query = query.where(AuditEvent.subject == subject)
    return fetch_page(session, query, AuditEvent.id, page)
