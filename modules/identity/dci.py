"""DCI civil-registration events and registry search (DCI registry core API v1.0.0), for this registry.

- `notify`: a civil registry (CRVS) pushes live births and deaths. A death marks the person deceased
  through the ID lifecycle (service.set_status) after every installed module's `LifeEvents` listener
  has been told (payments stops future payouts, tax marks the taxpayer deceased); a live birth enrols
  the child with the birth registration number (BRN) as its application ID (`BRN-<number>`), the
  parent's address, no phone: an ordinary enrolment, deduplicated and possibly held like any other.
- `search`: a partner looks a person up by UIN (our national ID) and gets the attributes its identity
  policy allows (the eKYC attributes set with `identity policy`), each read audited under the person.

Each message is kept with its answer (sealed: a search answer names a person), keyed by sender and
`message_id`: a replay gets the same answer and changes nothing; a different message reusing the id
is refused (`rjct.message_id.duplicate`).
Outcomes per event or search request are in-band, in DCI's status codes, in English (as the
specification's codes are meant for systems); see docs/standards.md for what is and is not supported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...core import audit
from ...core.approvals import Signatory
from ...core.callers import Caller
from ...core.country import LoadedCountry
from ...core.errors import Problem
from ...core.keys import keyed_digest
from ...core.models import Partner
from ...core.ports import Death
from ...core.registry import Ports
from . import notifier, policies, service
from .applications import Application
from .config import IdentitySettings
from .dci_schemas import NotifyEvent, NotifyRequest, PersonRecord, SearchItem, SearchRequest
from .models import DciMessage, PersonStatus
from .schemas import NAME_LENGTH

VERSION = "1.0.0"
RECEIVER_ID = "national-id-registry"
RECORD_TYPE = "dci:PersonRecord"
BRN_PREFIX = "BRN-"
MAX_BRN = 36 - len(BRN_PREFIX)  # an enrolment's application ID holds 36 characters
SEX_IN = {"male": "M", "female": "F", "other": "X", "unknown": "X"}
SEX_OUT = {"M": "male", "F": "female", "X": "other"}
REQUEST_DIGEST_PURPOSE = "identity dci request hmac v1"
_ISO_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$")


class Rejected(Exception):
    """One event or search request refused, in DCI's terms (`rjct.*` code and an English message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Received:
    """Who sent a message: the partner whose key it came with, and the sender id it names."""

    partner: Partner
    sender_id: str

    @property
    def caller(self) -> Caller:
        return Caller(kind="partner", id=self.partner.id, name=self.partner.name)

    @property
    def source(self) -> str:
        return f"dci:{self.sender_id}"


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- notify


def notify(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    settings: IdentitySettings,
    partner: Partner,
    request: NotifyRequest,
    secret: str,
) -> dict[str, Any]:
    """Apply a notify message's events; the answer is an acknowledgement with each event's outcome."""
    received = Received(partner, request.header.sender_id or f"partner-{partner.id}")
    header, message = request.header, request.message
    if header.is_msg_encrypted:
        return _ack(
            "ERR", message.transaction_id, error=("err.encryption.invalid", "encrypted messages: not supported")
        )
    row, replay = _claim(session, received, header.message_id, "notify", request.model_dump(mode="json"), secret)
    if replay is not None:
        return replay
    if row is None:
        return _ack("ERR", message.transaction_id, error=("err.request.bad", ": ".join(_DUPLICATE)))
    statuses = [
        _apply_event(session, ports, country, settings, received, header.message_id, e) for e in message.notify_event
    ]
    answer = _ack("ACK", message.transaction_id, statuses=statuses)
    _keep(row, answer, secret)
    audit.record(
        session=session,
        actor=received.caller.actor,
        action="identity.dci.notify",
        subject=received.source,
        detail={
            "message_id": header.message_id,
            "transaction_id": message.transaction_id,
            "events": [{"reference_id": s["reference_id"], "status": s["status"]} for s in statuses],
        },
    )
    return answer


def refusal(transaction_id: str, code: str, text: str) -> dict[str, Any]:
    """A whole message refused before anything is read: ERR with the specification's error code."""
    return _ack("ERR", transaction_id, error=(code, text))


_DUPLICATE = ("rjct.message_id.duplicate", "message_id was already used by this sender for another message")


def _ack(
    status: str,
    transaction_id: str,
    *,
    statuses: list[dict[str, Any]] | None = None,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"ack_status": status, "timestamp": now_text(), "correlation_id": transaction_id}
    if error is not None:
        message["error"] = {"code": error[0], "message": error[1]}
    message["notify_status"] = statuses or []
    return {"message": message}


def _apply_event(
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    settings: IdentitySettings,
    received: Received,
    message_id: str,
    event: NotifyEvent,
) -> dict[str, Any]:
    records = event.data.reg_records if isinstance(event.data.reg_records, list) else [event.data.reg_records]
    reference = f"{message_id}/{event.reference_id}"
    try:
        with session.begin_nested():  # an event refused leaves nothing behind, the others stand
            for record in records:
                kind = event.data.reg_event_type or _event_type(record)
                if kind == "death":
                    _death(session, ports, country, received, reference, record)
                else:
                    _birth(session, country, settings, received, record)
    except Rejected as refused:
        return _status(event.reference_id, "rjct", refused.code, refused.message)
    except Problem as problem:
        return _status(event.reference_id, "rjct", "rjct.record.invalid", str(problem))
    return _status(event.reference_id, "succ")


def _status(reference_id: str, status: str, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"reference_id": reference_id, "status": status}
    if code:
        answer |= {"status_reason_code": code, "status_reason_message": message}
    return answer


def _event_type(record: PersonRecord) -> str:
    if record.deathdate:
        return "death"
    if record.identifier_type == "BRN":
        return "live_birth"
    raise Rejected(
        "rjct.event_type.invalid",
        "data.reg_event_type: not given, and the record is neither a death (deathdate) nor a birth (BRN)",
    )


def _death(
    session: Session, ports: Ports, country: LoadedCountry, received: Received, reference: str, record: PersonRecord
) -> None:
    if record.identifier_type != "UIN":
        raise Rejected("rjct.identifier_type.invalid", "identifier_type: a death names the person by UIN")
    died_on = _day(record.deathdate, "deathdate") if record.deathdate else None
    person = service.get_person(session=session, national_id=record.identifier, country=country, for_update=True)
    if person.status == PersonStatus.DECEASED:
        return  # told before (by this registry or another): nothing more to do
    service.set_status(
        session=session,
        ports=ports,
        national_id=person.national_id,
        status=PersonStatus.DECEASED,
        reason=f"death registered by {received.sender_id}",
        country=country,
        actor=received.caller.actor,
        reported=Death(
            national_id=person.national_id, date_of_death=died_on, source=received.source, reference=reference
        ),
    )


def _birth(
    session: Session, country: LoadedCountry, settings: IdentitySettings, received: Received, record: PersonRecord
) -> None:
    if record.identifier_type != "BRN":
        raise Rejected("rjct.identifier_type.invalid", "identifier_type: a live birth names the child by BRN")
    if len(record.identifier) > MAX_BRN or not re.fullmatch(r"[A-Za-z0-9-]+", record.identifier):
        raise Rejected("rjct.identifier.invalid", f"identifier: a BRN of at most {MAX_BRN} letters, digits or '-'")
    name = record.name
    if name is None or not name.given_name or not name.sur_name:
        raise Rejected("rjct.name.invalid", "name: a live birth needs given_name and sur_name")
    if not record.birthdate:
        raise Rejected("rjct.birthdate.invalid", "birthdate: a live birth needs the date of birth")
    born_on = _day(record.birthdate, "birthdate")
    given_name = " ".join(part for part in (name.given_name, name.second_name) if part)
    if len(given_name) > NAME_LENGTH:
        raise Rejected("rjct.name.invalid", f"name: given_name and second_name together hold at most {NAME_LENGTH}")
    application = Application(
        application_id=BRN_PREFIX + record.identifier,
        given_name=given_name,
        family_name=name.sur_name,
        date_of_birth=born_on,
        sex=SEX_IN[record.sex or "unknown"],
        address=_parent_address(session, country, record),
    )
    # The enrolment's audit event names the registry's partner; the notify event (identity.dci.notify)
    # names the message and event it came from.
    service.enrol(
        session=session, request=application, country=country, settings=settings, maker=Signatory.of(received.caller)
    )


def _parent_address(session: Session, country: LoadedCountry, record: PersonRecord) -> dict[str, str]:
    """The first registered parent's address (a newborn lives with them); none when no parent is known here."""
    for parent in (record.parent1_identifier, record.parent2_identifier):
        if parent is None or parent.identifier_type != "UIN":
            continue
        try:
            found = service.get_person(session=session, national_id=parent.identifier, country=country)
        except Problem:
            continue
        return dict(found.address)
    return {}


def _day(text: str | None, field: str) -> date:
    match = _ISO_DAY.match(text or "")
    try:
        if match is None:
            raise ValueError(text)
        day = date.fromisoformat(match.group(1))
    except ValueError:
        raise Rejected(
            f"rjct.{field}.invalid", f"{field}: an ISO 8601 date (YYYY-MM-DD), optionally with a time"
        ) from None
    if day > datetime.now(UTC).date():
        raise Rejected(f"rjct.{field}.invalid", f"{field}: in the future")
    return day


# ---------------------------------------------------------------- search


def search(
    *, session: Session, country: LoadedCountry, partner: Partner, request: SearchRequest, secret: str
) -> dict[str, Any]:
    """Answer a sync search: one result per search request, the person's attributes as the policy allows."""
    header, message = request.header, request.message
    received = Received(partner, header.sender_id)
    if header.is_msg_encrypted:
        return _on_search(
            header,
            message.transaction_id,
            [],
            "rjct",
            ("rjct.action.not_supported", "encrypted messages: not supported"),
        )
    row, replay = _claim(session, received, header.message_id, "search", request.model_dump(mode="json"), secret)
    if replay is not None:
        return replay
    if row is None:
        return _on_search(header, message.transaction_id, [], "rjct", _DUPLICATE)
    policy = policies.policy_of(session=session, partner=partner)
    allowed = set(policy.ekyc_attributes) if policy else set()
    results = [
        _search_one(session, country, received, header.message_id, item, allowed) for item in message.search_request
    ]
    answer = _on_search(header, message.transaction_id, results, "succ")
    _keep(row, answer, secret)
    return answer


def _on_search(
    header, transaction_id: str, results: list[dict[str, Any]], status: str, error: tuple[str, str] | None = None
) -> dict[str, Any]:
    answer_header: dict[str, Any] = {
        "version": VERSION,
        "message_id": header.message_id,
        "message_ts": now_text(),
        "action": "on-search",
        "status": status,
        "total_count": len(results),
        "completed_count": len(results),
        "sender_id": RECEIVER_ID,
        "receiver_id": header.sender_id,
        "is_msg_encrypted": False,
    }
    if error is not None:
        answer_header |= {"status_reason_code": error[0], "status_reason_message": error[1]}
    return {
        "header": answer_header,
        "message": {"transaction_id": transaction_id, "correlation_id": transaction_id, "search_response": results},
    }


def _search_one(
    session: Session, country: LoadedCountry, received: Received, message_id: str, item: SearchItem, allowed: set[str]
) -> dict[str, Any]:
    answer: dict[str, Any] = {"reference_id": item.reference_id, "timestamp": now_text()}
    criteria = item.search_criteria
    query = criteria.query
    if criteria.query_type != "idtype-value" or not isinstance(query, dict) or query.get("type") not in ("UIN", "NID"):
        return answer | _rejected(
            "rjct.search_criteria.invalid", "search_criteria: only query_type idtype-value with type UIN is supported"
        )
    value = query.get("value")
    if not isinstance(value, str):
        return answer | _rejected("rjct.search_criteria.invalid", "search_criteria.query.value: the UIN, a string")
    if not allowed:
        return answer | _rejected(
            "rjct.search_criteria.invalid",
            f"partner '{received.partner.name}' has no eKYC attributes in its identity policy",
        )
    try:
        person = service.get_person(session=session, national_id=value, country=country)
    except Problem as problem:
        if problem.status != 404:
            return answer | _rejected("rjct.search_criteria.invalid", str(problem))
        return answer | {"status": "succ", "status_reason_message": "no person holds this UIN"}
    audit.record(
        session=session,
        actor=received.caller.actor,
        action="identity.dci.search",
        subject=f"person:{person.national_id}",
        detail={
            "sender_id": received.sender_id,
            "message_id": message_id,
            "reference_id": item.reference_id,
            "attributes": sorted(allowed),
        },
    )
    return answer | {
        "status": "succ",
        "data": {"version": VERSION, "reg_record_type": RECORD_TYPE, "reg_records": _record(person, allowed)},
    }


def _rejected(code: str, message: str) -> dict[str, Any]:
    return {"status": "rjct", "status_reason_code": code, "status_reason_message": message}


def _record(person, allowed: set[str]) -> dict[str, Any]:
    """dci_PersonRecord of what the policy allows; `status` (ours) says whether the person is alive and active."""
    record: dict[str, Any] = {"identifier_type": "UIN", "identifier": person.national_id, "status": person.status}
    name = {}
    if "given_name" in allowed:
        name["given_name"] = person.given_name
    if "family_name" in allowed:
        name["sur_name"] = person.family_name
    if name:
        record["name"] = name
    if "sex" in allowed:
        record["sex"] = SEX_OUT.get(person.sex, "unknown")
    if "date_of_birth" in allowed:
        record["birthdate"] = person.date_of_birth.isoformat()
    if "phone" in allowed and person.phone:
        record["phone_number"] = person.phone
    if "address" in allowed:
        record["address"] = {"formatted": ", ".join(str(part) for part in person.address.values())}
    return record


# ---------------------------------------------------------------- messages


def _claim(
    session: Session, received: Received, message_id: str, action: str, content: dict[str, Any], secret: str
) -> tuple[DciMessage | None, dict[str, Any] | None]:
    """(the new message's row, None), or (None, the stored answer) for a replay, or (None, None) for an id reused."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    digest = keyed_digest(secret, REQUEST_DIGEST_PURPOSE, canonical)
    query = select(DciMessage).where(DciMessage.sender_id == received.sender_id, DciMessage.message_id == message_id)
    row = DciMessage(
        partner_id=received.partner.id,
        sender_id=received.sender_id,
        message_id=message_id,
        action=action,
        request_hash=digest,
        sealed_answer="",  # sealed once answered, in the same transaction
    )
    try:
        with session.begin_nested():  # the unique key makes a concurrent twin wait, then find ours
            session.add(row)
    except IntegrityError:
        stored = session.scalar(query)
        if stored is None:
            raise
        if stored.request_hash == digest and stored.action == action and stored.partner_id == received.partner.id:
            return None, json.loads(notifier.read_sealed(stored.sealed_answer, _sealed_for(stored), secret=secret))
        return None, None
    return row, None


def _keep(row: DciMessage, answer: dict[str, Any], secret: str) -> None:
    row.sealed_answer = notifier.seal(json.dumps(answer, ensure_ascii=False), _sealed_for(row), secret=secret)


def _sealed_for(row: DciMessage) -> str:
    """What a stored answer is bound to (the seal's associated data): it cannot be moved to another message."""
    return f"dci:{row.sender_id}:{row.message_id}"
