"""G2P Connect mapper adapter (mapper core API v1.0.0) on the mapper's own services (service.py).

A message is received once per sender and `message_id`: the same message again gets the same answer
and changes nothing; another message under a used `message_id` is refused. Each request item is
checked and answered on its own, with the specification's status reason codes. Synchronous
messages (`/mapper/sync/*`) are answered at once, signed; asynchronous ones (`/mapper/*`) are
acknowledged at once and answered by a signed callback to the sender's `/mapper/on-*`, which the
worker delivers with retries and back-off (`deliver_callbacks`); `txn/status` tells how a
transaction ended, and how its callback went.

No raw national ID or VID is stored: an `nid:` or `vid:` address becomes the beneficiary key (the
person's sector token) when the message is received, and answers never echo an id. HTTP stays in
g2p_router.py.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ...core import audit, signing
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.keys import keyed_digest
from ...core.models import Partner, utcnow
from ...core.ports import SectorTokens
from ...core.registry import Ports
from ...core.security import authenticate
from . import g2p_signing, service
from .config import PaymentsSettings
from .domain import AccountDetails, Beneficiary
from .g2p_schemas import _Envelope
from .g2p_signing import SigningMethod
from .models import (
    AccountKind,
    AccountLink,
    AccountLinkHistory,
    G2pItem,
    G2pMessage,
    G2pMessageState,
    G2pSender,
)
from .scopes import LINK_SCOPE, READ_SCOPE

logger = logging.getLogger(__name__)

VERSION = "1.0.0"
OPERATIONS = ("link", "update", "unlink", "resolve", "txn-status")
ITEM_OPERATIONS = ("link", "update", "unlink", "resolve")
ON_ACTION = {"link": "on-link", "update": "on-update", "unlink": "on-unlink", "resolve": "on-resolve"}
ON_ACTION["txn-status"] = "txn-on-status"
CALLBACK_PATH = {operation: f"/mapper/{action}" for operation, action in ON_ACTION.items()}
CALLBACK_PATH["txn-status"] = "/mapper/txn/on-status"
# The spec's other actions: a message naming one is understood but not served here.
OTHER_ACTIONS = frozenset(
    {"search", "subscribe", "unsubscribe", "notify", "disburse", "txn-on-status", "on-search", "on-subscribe"}
    | {"on-disburse", "on-link", "on-update", "on-unlink", "on-resolve", "on-notify", "txn_status"}
)
# Each operation's status reason codes (LinkStatusReasonCode, ... in the specification). A refusal
# whose code an operation's list lacks is answered `rjct` with its message and no code.
REASON_CODES = {
    "link": frozenset(
        {
            "rjct.reference_id.invalid",
            "rjct.reference_id.duplicate",
            "rjct.timestamp.invalid",
            "rjct.id.invalid",
            "rjct.fa.invalid",
            "rjct.name.invalid",
            "rjct.mobile_number.invalid",
            "rjct.unknown.retry",
            "rjct.other.error",
        }
    ),
    "resolve": frozenset(
        {
            "rjct.reference_id.invalid",
            "rjct.reference_id.duplicate",
            "rjct.timestamp.invalid",
            "rjct.id.invalid",
            "rjct.fa.invalid",
            "rjct.resolve_type.not_supported",
        }
    ),
    "update": frozenset(
        {
            "rjct.reference_id.invalid",
            "rjct.reference_id.duplicate",
            "rjct.timestamp.invalid",
            "rjct.beneficiary_name.invalid",
        }
    ),
    "unlink": frozenset(
        {
            "rjct.reference_id.invalid",
            "rjct.reference_id.duplicate",
            "rjct.timestamp.invalid",
            "rjct.beneficiary_name.invalid",
        }
    ),
}
_REFERENCE = re.compile(r"^\S{1,99}$")
_ADDRESS = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,19}):([^@\s]{1,150})@([A-Za-z0-9.-]{1,60})$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
REQUEST_HASH_PURPOSE = "payments g2p-connect request hmac v1"
MAX_NAME = 200


@dataclass(frozen=True)
class Context:
    session: Session
    ports: Ports
    country: LoadedCountry
    settings: PaymentsSettings
    secret: str


@dataclass(frozen=True)
class Answer:
    """What the route answers: status, body bytes (as signed) and headers; `queued` when the worker has work."""

    status: int
    body: bytes
    headers: dict[str, str]
    queued: bool = False


class Refused(Exception):
    """One item refused: the code the specification gives it (if any) and why."""

    def __init__(self, code: str | None, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


# ---------------------------------------------------------------- receiving a message


def receive(
    ctx: Context,
    *,
    operation: str,
    mode: str,
    envelope: _Envelope,
    document: dict[str, Any],
    raw: bytes,
    signature_header: str | None,
    partner: Partner,
) -> Answer:
    """Check who sent the message and its signature, then answer it (sync) or acknowledge it (async)."""
    header = envelope.header
    session = ctx.session
    sender = session.scalar(select(G2pSender).where(G2pSender.partner_id == partner.id))
    if sender is None or not sender.active or header.sender_id != sender.sender_id:
        return _error(ctx, 403, "err.sender_id.invalid", "header.sender_id is not the sender registered for this key")
    if header.receiver_id is not None and header.receiver_id != ctx.settings.g2p_receiver_id:
        return _error(ctx, 403, "err.receiver_id.invalid", f"this receiver is {ctx.settings.g2p_receiver_id!r}")
    try:
        verify(sender, raw=raw, document=document, signature_header=signature_header)
    except signing.BadSignature as bad:
        code = "err.signature.missing" if bad.missing else "err.signature.invalid"
        return _error(ctx, 401, code, str(bad))
    if header.is_msg_encrypted:
        return _error(ctx, 400, "err.encryption.invalid", "encrypted messages are not offered by this mapper")
    callback = None
    if mode == "async":
        callback = callback_base(sender, header.sender_uri)
        if callback is None:
            return _error(ctx, 403, "err.sender_uri.invalid", "sender_uri must start with the callback URI registered")
    digest = request_hash(ctx.secret, operation, mode, document)
    existing = _message(session, sender.sender_id, header.message_id)
    if existing is not None:
        return _replay(ctx, sender, existing, digest, operation, mode)
    message = G2pMessage(
        sender_id=sender.sender_id,
        message_id=header.message_id,
        action=operation,
        mode=mode,
        request_hash=digest,
        transaction_id=getattr(envelope.message, "transaction_id", None),
        correlation_id=uuid.uuid4().hex,
        request=prepare(ctx, operation, mode, envelope, sender, partner),
        state=G2pMessageState.PENDING if mode == "async" else G2pMessageState.DONE,
        callback_uri=callback,
        attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # the same message_id arrived twice at once: the other one was stored first
        existing = _message(session, sender.sender_id, header.message_id)
        assert existing is not None
        return _replay(ctx, sender, existing, digest, operation, mode)
    session.add_all(
        G2pItem(message_pk=message.id, sender_id=sender.sender_id, reference_id=item["reference_id"][:99])
        for item in message.request.get("items", ())
    )
    if mode == "sync":
        message.response = perform(ctx, message)
        message.completed_at = utcnow()
        session.flush()
        return _signed(ctx, sender, message.response, 200)
    session.flush()
    return _ack(ctx, 200, "ACK", message.correlation_id, queued=True)


def verify(sender: G2pSender, *, raw: bytes, document: dict[str, Any], signature_header: str | None) -> None:
    """The sender's signature on the message, by the method it was registered with; BadSignature otherwise."""
    method = sender.signing_method
    if method == SigningMethod.NONE:
        return
    keys = signing.sender_keys(jwks_document=sender.jwks, jwks_url=sender.jwks_url)
    if method == SigningMethod.JWS_HEADER:
        signing.verify_detached(signature_header, raw, keys)
    else:
        signing.verify_body(
            document.get("signature"),
            document.get("header"),
            document.get("message"),
            sender_id=sender.sender_id,
            keys=keys,
        )


def callback_base(sender: G2pSender, sender_uri: str | None) -> str | None:
    """Where the callback goes: the header's sender_uri if it lies under the registered URI, else the registered one.

    A sender may not send our callbacks anywhere else (we would be posting, signed, to any address).
    """
    registered = (sender.callback_uri or "").rstrip("/")
    if not registered:
        return None
    if sender_uri is None:
        return registered
    wanted = sender_uri.rstrip("/")
    if wanted == registered or wanted.startswith(registered + "/"):
        return wanted
    return None


def request_hash(secret: str, operation: str, mode: str, document: dict[str, Any]) -> str:
    """Keyed, so the hash of a message naming a national ID cannot be reversed by trying every number."""
    content = signing.canonical(document.get("header"), document.get("message"))
    return keyed_digest(secret, REQUEST_HASH_PURPOSE, f"{operation}|{mode}|".encode() + content)


def _message(session: Session, sender_id: str, message_id: str) -> G2pMessage | None:
    query = select(G2pMessage).where(G2pMessage.sender_id == sender_id, G2pMessage.message_id == message_id)
    return session.scalar(query)


def _replay(ctx: Context, sender: G2pSender, existing: G2pMessage, digest: str, operation: str, mode: str) -> Answer:
    if existing.request_hash != digest:
        text = f"message_id {existing.message_id!r} was already used for another message"
        if mode == "sync":
            header = response_header(ctx, sender, operation, "rjct", 0, 0, ("rjct.message_id.duplicate", text))
            return _signed(ctx, sender, {"header": header}, 409)
        return _error(ctx, 409, "err.request.bad", f"{text} (rjct.message_id.duplicate)")
    if mode == "sync":
        assert existing.response is not None
        return _signed(ctx, sender, existing.response, 200)
    return _ack(ctx, 200, "ACK", existing.correlation_id)


# ---------------------------------------------------------------- preparing: everything decided from the message alone


def prepare(
    ctx: Context, operation: str, mode: str, envelope: _Envelope, sender: G2pSender, partner: Partner
) -> dict[str, Any]:
    """The message as it is stored: the header's verdict and each item checked, ids turned into beneficiary keys."""
    header = envelope.header
    message = envelope.message  # type: ignore[attr-defined]
    prepared: dict[str, Any] = {
        "actor": f"partner:{partner.name}",
        "transaction_id": message.transaction_id,
        "header": {"message_id": header.message_id, "action": header.action, "total_count": header.total_count},
    }
    if operation == "txn-status":
        prepared["txnstatus"] = message.txnstatus_request.model_dump(mode="json")
        prepared["verdict"] = header_verdict(ctx, header, operation, mode, 1)
        return prepared
    items = getattr(message, f"{operation}_request")
    prepared["verdict"] = header_verdict(ctx, header, operation, mode, len(items))
    seen: set[str] = set()
    prepared_items = []
    for item in items:
        entry: dict[str, Any] = {"reference_id": item.reference_id}
        if getattr(item, "fa", None) is not None:
            entry["fa_text"] = item.fa
        if prepared["verdict"] is not None:  # refused whole, the message does nothing: not even use a VID
            prepared_items.append(entry)
            continue
        try:
            _check_reference(item.reference_id, seen)
            if not _timestamp_ok(item.timestamp, ctx.settings):
                raise Refused("rjct.timestamp.invalid", "timestamp must be an ISO 8601 time with its zone, not ahead")
            entry.update(_prepare_item(ctx, operation, item, sender, prepared["actor"]))
        except Refused as refused:
            entry["error"] = [refused.code if refused.code in REASON_CODES[operation] else None, refused.text]
        prepared_items.append(entry)
    prepared["items"] = prepared_items
    return prepared


def header_verdict(ctx: Context, header: Any, operation: str, mode: str, count: int) -> list[str] | None:
    """[reason code, message] when the whole message is refused (MsgHeaderStatusReasonCode), else None."""
    if header.version not in (None, VERSION):
        return ["rjct.version.invalid", f"version must be {VERSION}"]
    if not _stamp_within(header.message_ts, ctx.settings):
        return ["rjct.message_ts.invalid", "message_ts must be an ISO 8601 time with its zone, near our clock"]
    # The specification's sync paths all say `link` (a copy of sync/link), so that is taken there too.
    allowed = {operation} | ({"link"} if mode == "sync" else set())
    if header.action not in allowed:
        if header.action in OTHER_ACTIONS or header.action in OPERATIONS:
            return ["rjct.action.not_supported", f"this path serves action {operation!r}"]
        return ["rjct.action.invalid", f"action must be {operation!r}"]
    if header.total_count > ctx.settings.g2p_max_items:
        return ["rjct.total_count.limit_exceeded", f"at most {ctx.settings.g2p_max_items} requests in one message"]
    if header.total_count != count:
        return ["rjct.total_count.invalid", f"total_count is {header.total_count}, the message holds {count}"]
    return None


def _check_reference(reference_id: str, seen: set[str]) -> None:
    if not _REFERENCE.fullmatch(reference_id):
        raise Refused("rjct.reference_id.invalid", "reference_id must be 1 to 99 characters without spaces")
    if reference_id in seen:
        raise Refused("rjct.reference_id.duplicate", "reference_id is used twice in this message")
    seen.add(reference_id)


def _parse_stamp(text: str) -> datetime | None:
    if not _STAMP.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _timestamp_ok(text: str, settings: PaymentsSettings) -> bool:
    moment = _parse_stamp(text)
    return moment is not None and moment <= datetime.now(UTC) + timedelta(seconds=settings.g2p_message_window_seconds)


def _stamp_within(text: str, settings: PaymentsSettings) -> bool:
    moment = _parse_stamp(text)
    window = timedelta(seconds=settings.g2p_message_window_seconds)
    return moment is not None and abs(datetime.now(UTC) - moment) <= window


def _prepare_item(ctx: Context, operation: str, item: Any, sender: G2pSender, actor: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if operation == "resolve":
        if item.id is None and item.fa is None:
            raise Refused("rjct.id.invalid", "give id, fa or both")
        if item.scope == "details" and not sender.resolve_details:
            raise Refused("rjct.resolve_type.not_supported", "scope details is not granted to this sender")
        entry["details"] = item.scope == "details"
    if item.id is not None:
        entry["key"] = id_key(ctx, item.id, actor)
    if item.fa is not None:
        entry["fa"] = list(parse_fa(ctx, item.fa))
    name = getattr(item, "name", None)
    if name is not None and operation in ("link", "update") and not 0 < len(name.strip()) <= MAX_NAME:
        code = "rjct.name.invalid" if operation == "link" else "rjct.beneficiary_name.invalid"
        raise Refused(code, f"name must hold 1 to {MAX_NAME} characters")
    phone = getattr(item, "phone_number", None)
    if phone is not None and operation in ("link", "update"):
        try:
            service.normalise_account(
                AccountDetails(AccountKind.MOBILE_MONEY, phone), phone_region=ctx.country.profile.phone_region
            )
        except Problem as problem:
            raise Refused("rjct.mobile_number.invalid", f"phone_number: {problem.message}") from None
    return entry


def parse_address(text: str) -> tuple[str, str, str] | None:
    """(type, value, provider) of `type:value@provider`; type and provider in lower case (they ignore case)."""
    found = _ADDRESS.fullmatch(text)
    if found is None:
        return None
    kind, value, provider = found.groups()
    return kind.lower(), value, provider.lower()


def id_key(ctx: Context, text: str, actor: str) -> str:
    """The beneficiary key of an id address (`nid:`, `vid:` or `ext:…@<provider>`), or Refused (rjct.id.invalid).

    A VID's use is counted and audited by identity under the person, by `actor` (the sender's partner).
    """
    parsed = parse_address(text)
    if parsed is None:
        raise Refused("rjct.id.invalid", "id must be type:value@provider, e.g. nid:1234567890@nid")
    kind, value, provider = parsed
    if provider != ctx.settings.g2p_id_provider:
        raise Refused("rjct.id.invalid", f"this mapper takes ids @{ctx.settings.g2p_id_provider}")
    if kind == "vid":
        return _vid_key(ctx, value, actor)
    if kind not in ("nid", "ext"):
        raise Refused("rjct.id.invalid", "id type must be nid, vid or ext")
    try:
        beneficiary = Beneficiary(national_id=value) if kind == "nid" else Beneficiary(external_id=value)
        return service.beneficiary_key(session=ctx.session, ports=ctx.ports, beneficiary=beneficiary)
    except Problem as problem:
        text = _UNUSABLE_NATIONAL_ID.get(problem.kind, problem.message) if kind == "nid" else problem.message
        raise Refused("rjct.id.invalid", text) from None


# Why identity refused a national ID (the port's problem kinds), worded here: its own messages name the ID,
# which the answer, kept for replays, must not hold. Without identity the message names none.
_UNUSABLE_NATIONAL_ID = {
    "invalid-national-id": "a national ID is digits only, at most 20",
    "not-found": "no active person holds this national ID",
    "conflict": "no active person holds this national ID",
}


# Why identity refused a VID (the port's problem kinds); its own messages name the VID and the national ID.
_UNUSABLE_VID = {
    "vid-revoked": "the VID has been revoked",
    "vid-expired": "the VID has expired",
    "vid-used-up": "the VID has no uses left",
}


def _vid_key(ctx: Context, vid: str, actor: str) -> str:
    tokens = ctx.ports.get(SectorTokens)
    if tokens is None:
        raise Refused("rjct.id.invalid", "VIDs need the identity module, which this deployment does not have")
    try:
        return service.vid_key(session=ctx.session, tokens=tokens, vid=vid, actor=actor)
    except Problem as problem:
        text = _UNUSABLE_VID.get(problem.kind, "no active person holds this VID")
        raise Refused("rjct.id.invalid", text) from None


def parse_fa(ctx: Context, text: str) -> tuple[str, str, str]:
    """(kind, number, bank code) of `account:<number or IBAN>@<bank code>` or `mobile:<number>@<provider>`."""
    parsed = parse_address(text)
    if parsed is None:
        raise Refused("rjct.fa.invalid", "fa must be type:value@provider, e.g. account:12345678@BANKCODE")
    kind, value, provider = parsed
    if kind == "account":
        account_kind = AccountKind.IBAN if value[:2].isalpha() else AccountKind.BANK_ACCOUNT
    elif kind == "mobile":
        account_kind = AccountKind.MOBILE_MONEY
    else:
        raise Refused("rjct.fa.invalid", "fa type must be account or mobile")
    if len(provider) > 11:
        raise Refused("rjct.fa.invalid", "the provider (bank code) after @ is at most 11 characters")
    try:
        normalised = service.normalise_account(
            AccountDetails(account_kind, value, provider.upper()), phone_region=ctx.country.profile.phone_region
        )
    except Problem as problem:
        raise Refused("rjct.fa.invalid", problem.message) from None
    kind_, number, bank_code = normalised
    return kind_, number, bank_code or provider.upper()


def fa_text(kind: str, number: str, bank_code: str | None) -> str:
    """A linked account as a financial address."""
    scheme = "mobile" if kind == AccountKind.MOBILE_MONEY else "account"
    return f"{scheme}:{number}@{bank_code or kind}"


# ---------------------------------------------------------------- performing: the mapper's services, item by item


def perform(ctx: Context, message: G2pMessage) -> dict[str, Any]:
    """The answer (header and message) to a stored message; its effects are made in the caller's transaction."""
    request = message.request
    sender = ctx.session.scalar(select(G2pSender).where(G2pSender.sender_id == message.sender_id))
    assert sender is not None
    verdict = request.get("verdict")
    if verdict:
        header = response_header(ctx, sender, message.action, "rjct", 0, 0, tuple(verdict))
        return {"header": header}  # a refused message has no message part
    if message.action == "txn-status":
        return txn_status(ctx, sender, message)
    items = [_perform_item(ctx, message.action, item, request["actor"]) for item in request["items"]]
    header = response_header(ctx, sender, message.action, "succ", len(items), len(items), None)
    body = {
        "transaction_id": message.transaction_id,
        "correlation_id": message.correlation_id,
        f"{message.action}_response": items,
    }
    return {"header": header, "message": body}


def _perform_item(ctx: Context, operation: str, item: dict[str, Any], actor: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"reference_id": item["reference_id"], "timestamp": _now()}
    if operation == "update" or (operation == "link" and "fa_text" in item):
        answer["fa"] = item.get("fa_text", "")
    try:
        if item.get("error"):
            raise Refused(*item["error"])
        with ctx.session.begin_nested():
            answer.update(_OPERATION[operation](ctx, item, actor))
    except Refused as refused:
        answer.update(_refusal(operation, refused.code, refused.text))
    except DBAPIError as error:  # the database failed this item (a lock, a lost connection): it may work again
        logger.warning("G2P Connect %s item failed in the database: %s", operation, type(error).__name__)
        answer.update(_refusal(operation, "rjct.unknown.retry", "the item could not be stored now; send it again"))
    except Exception:
        logger.exception("G2P Connect %s item failed", operation)
        answer.update(_refusal(operation, "rjct.other.error", "the item could not be processed"))
    return answer


def _refusal(operation: str, code: str | None, text: str) -> dict[str, Any]:
    refused: dict[str, Any] = {"status": "rjct", "status_reason_message": text[:999]}
    if code in REASON_CODES[operation]:
        refused["status_reason_code"] = code
    return refused


def _current(ctx: Context, key: str) -> AccountLink | None:
    return ctx.session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))


def _same_account(account: AccountLink | AccountLinkHistory, fa: list[str] | tuple[str, ...]) -> bool:
    """The same account: kind and number, and the bank where the link names one (an IBAN may be linked without)."""
    kind, number, bank_code = fa
    return (account.kind, account.number) == (kind, number) and (
        account.bank_code is None or account.bank_code.upper() == bank_code.upper()
    )


def _account_filter(model: type[AccountLink] | type[AccountLinkHistory], fa: list[str]) -> tuple[Any, ...]:
    """Rows holding the account `fa`: a bank account number is only unique within its bank."""
    kind, number, bank_code = fa
    same = (model.kind == kind, model.number == number)
    return same + ((model.bank_code == bank_code,) if kind == AccountKind.BANK_ACCOUNT else ())


def _link(ctx: Context, item: dict[str, Any], actor: str, *, updating: bool) -> dict[str, Any]:
    key, (kind, number, bank_code) = item["key"], item["fa"]
    current = _current(ctx, key)
    if updating and current is None:
        raise Refused(None, "no financial address is linked to this id; link it first")
    if not updating and current is not None and not _same_account(current, item["fa"]):
        raise Refused("rjct.id.invalid", "this id is linked to another financial address; send update to change it")
    service.link_account(
        session=ctx.session,
        ports=ctx.ports,
        country=ctx.country,
        beneficiary=Beneficiary(mandate=key),
        account=AccountDetails(kind, number, bank_code),
        actor=actor,
    )
    return {"status": "succ"}


def _unlink(ctx: Context, item: dict[str, Any], actor: str) -> dict[str, Any]:
    current = _current(ctx, item["key"])
    if current is not None and "fa" in item and not _same_account(current, item["fa"]):
        raise Refused(None, "this fa is not the one linked to this id")
    try:
        service.unlink_account(
            session=ctx.session, ports=ctx.ports, beneficiary=Beneficiary(mandate=item["key"]), actor=actor
        )
    except NotFound:
        raise Refused(None, "no financial address is linked to this id") from None
    return {"status": "succ"}


def _resolve(ctx: Context, item: dict[str, Any], actor: str) -> dict[str, Any]:
    key, fa = item.get("key"), item.get("fa")
    details = item.get("details", False)
    if key is not None:
        current = _current(ctx, key)
        if current is None:
            earlier = ctx.session.scalar(
                select(AccountLinkHistory.id).where(AccountLinkHistory.beneficiary_key == key).limit(1)
            )
            return {"status": "succ", "status_reason_code": "succ.id.inactive" if earlier else "succ.id.not_found"}
        found = current
        if fa is not None and not _same_account(current, fa):
            return {"status": "succ", "status_reason_code": "succ.fa.not_linked_to_id"}
        code = "succ.fa.active" if fa is not None else "succ.id.active"
    else:
        found = ctx.session.scalar(select(AccountLink).where(*_account_filter(AccountLink, fa)).limit(1))
        if found is None:
            before = _account_filter(AccountLinkHistory, fa)
            earlier = ctx.session.scalar(select(AccountLinkHistory.id).where(*before).limit(1))
            return {"status": "succ", "status_reason_code": "succ.fa.inactive" if earlier else "succ.fa.not_found"}
        code = "succ.fa.active"
    answer: dict[str, Any] = {"status": "succ", "status_reason_code": code}
    if details:
        provider = found.bank_code or found.kind
        answer["fa"] = fa_text(found.kind, found.number, found.bank_code)
        answer["account_provider_info"] = {"name": provider, "code": provider}
    return answer


_OPERATION = {
    "link": lambda ctx, item, actor: _link(ctx, item, actor, updating=False),
    "update": lambda ctx, item, actor: _link(ctx, item, actor, updating=True),
    "unlink": _unlink,
    "resolve": _resolve,
}


def txn_status(ctx: Context, sender: G2pSender, message: G2pMessage) -> dict[str, Any]:
    """How the sender's earlier transaction of `txn_type` went: by transaction_id, correlation_id or references."""
    query_ = message.request["txnstatus"]
    kind, attribute, value = query_["txn_type"], query_["attribute_type"], query_["attribute_value"]
    wanted = select(G2pMessage).where(G2pMessage.sender_id == sender.sender_id, G2pMessage.action == kind)
    references: set[str] | None = None
    if attribute == "reference_id_list" and isinstance(value, list):
        references = set(value)
        holding = select(G2pItem.message_pk).where(
            G2pItem.sender_id == sender.sender_id, G2pItem.reference_id.in_(references)
        )
        wanted = wanted.where(G2pMessage.id.in_(holding))
    elif attribute in ("transaction_id", "correlation_id") and isinstance(value, str):
        column = G2pMessage.transaction_id if attribute == "transaction_id" else G2pMessage.correlation_id
        wanted = wanted.where(column == value)
    else:
        shape = "a list" if attribute == "reference_id_list" else "one value"
        header = response_header(ctx, sender, "txn-status", "rjct", 1, 1, (None, f"{attribute} takes {shape}"))
        return {"header": header}  # a refused message has no message part
    found = list(ctx.session.scalars(wanted.order_by(G2pMessage.id)))
    if not found:
        header = response_header(ctx, sender, "txn-status", "rjct", 1, 1, (None, f"no {kind} transaction found"))
        return {"header": header}  # a refused message has no message part
    items: list[dict[str, Any]] = []
    for earlier in found:
        items += [i for i in _items_of(earlier) if references is None or i["reference_id"] in references]
    header = response_header(ctx, sender, "txn-status", "succ", 1, 1, None)
    header["meta"] = {
        "transactions": [
            {
                "correlation_id": m.correlation_id,
                "mode": m.mode,
                "state": m.state,
                "callback_attempts": m.attempts,
                "callback_error": m.last_error,
            }
            for m in found
        ]
    }
    first = found[0]
    status = {
        "transaction_id": first.transaction_id or "",
        "correlation_id": first.correlation_id,
        f"{kind}_response": items,
    }
    body = {
        "transaction_id": message.transaction_id,
        "correlation_id": message.correlation_id,
        "txnstatus_response": {"txn_type": ON_ACTION[kind], "txn_status": status},
    }
    return {"header": header, "message": body}


def _items_of(message: G2pMessage) -> list[dict[str, Any]]:
    """A message's answered items; those not answered yet are `pdng`, those of a refused message `rjct`."""
    answered = (message.response or {}).get("message")
    if answered:
        return list(answered[f"{message.action}_response"])
    refused = (message.response or {}).get("header")
    items = []
    for item in message.request.get("items", ()):
        entry: dict[str, Any] = {"reference_id": item["reference_id"], "timestamp": _now()}
        if refused:
            entry.update(status="rjct", status_reason_message=refused.get("status_reason_message") or "")
        else:
            entry["status"] = "pdng"
        if message.action == "update":
            entry["fa"] = item.get("fa_text", "")
        items.append(entry)
    return items


# ---------------------------------------------------------------- answers


def response_header(
    ctx: Context,
    sender: G2pSender,
    operation: str,
    status: str,
    total: int,
    completed: int,
    reason: tuple[str | None, str] | None,
) -> dict[str, Any]:
    header: dict[str, Any] = {
        "version": VERSION,
        "message_id": uuid.uuid4().hex,
        "message_ts": _now(),
        "action": ON_ACTION[operation],
        "status": status,
        "total_count": total,
        "completed_count": completed,
        "sender_id": ctx.settings.g2p_receiver_id,
        "receiver_id": sender.sender_id,
        "is_msg_encrypted": False,
    }
    if reason is not None:
        code, text = reason
        if code:
            header["status_reason_code"] = code
        header["status_reason_message"] = text[:999]
    return header


def signed_body(ctx: Context, sender: G2pSender | None, envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The envelope as sent, signed the way the sender was registered (our key; docs/standards.md)."""
    if sender is not None and sender.signing_method == SigningMethod.BODY:
        signature = signing.sign_body(
            envelope["header"],
            envelope.get("message"),
            namespace="g2p",
            sender_id=ctx.settings.g2p_receiver_id,
            secret=ctx.secret,
        )
        body = json.dumps({"signature": signature, **envelope}, ensure_ascii=False).encode()
        return body, {}
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return body, {"Signature": signing.sign_detached(body, ctx.secret)}


def _signed(ctx: Context, sender: G2pSender, envelope: dict[str, Any], status: int) -> Answer:
    body, headers = signed_body(ctx, sender, envelope)
    return Answer(status, body, headers)


def _ack(ctx: Context, status: int, ack_status: str, correlation_id: str, **more: Any) -> Answer:
    ack: dict[str, Any] = {"ack_status": ack_status, "timestamp": _now(), "correlation_id": correlation_id}
    error = more.pop("error", None)
    if error is not None:
        ack["error"] = error
    body = json.dumps({"message": ack}, ensure_ascii=False).encode()
    return Answer(status, body, {"Signature": signing.sign_detached(body, ctx.secret)}, **more)


def _error(ctx: Context, status: int, code: str, text: str) -> Answer:
    return _ack(ctx, status, "ERR", uuid.uuid4().hex, error={"code": code, "message": text[:999]})


def error_answer(secret: str, status: int, code: str, text: str) -> Answer:
    """An ERR acknowledgement where no context is built (a body of the wrong shape)."""
    ack = {"ack_status": "ERR", "timestamp": _now(), "correlation_id": uuid.uuid4().hex}
    ack["error"] = {"code": code, "message": text[:999]}  # type: ignore[assignment]
    body = json.dumps({"message": ack}, ensure_ascii=False).encode()
    return Answer(status, body, {"Signature": signing.sign_detached(body, secret)})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- access tokens (OAuth2 client credentials)

# The specification's scopes (OidcScope) and the payments scope a partner needs for each.
TOKEN_SCOPES = {
    "mapper.link": LINK_SCOPE,
    "mapper.update": LINK_SCOPE,
    "mapper.unlink": LINK_SCOPE,
    "mapper.resolve": READ_SCOPE,
    "mapper.status": READ_SCOPE,
}


class ClientRefused(Exception):
    """Client credentials that are not a registered sender's (OAuth2 `invalid_client`)."""


def client_token(
    *, session: Session, settings: PaymentsSettings, secret: str, client_id: str, client_secret: str, scope: str | None
) -> tuple[str, str]:
    """An access token for a sender: `client_id` is its sender_id, `client_secret` its partner's API key.

    The token names the partner; each request still checks the partner's key is usable and holds the
    route's scope, so revoking the key or a scope takes effect at once. Returns (token, granted scopes).
    """
    try:
        partner = authenticate(session=session, key=client_secret)
    except Problem:
        raise ClientRefused("the client credentials are not valid") from None
    sender = session.scalar(select(G2pSender).where(G2pSender.partner_id == partner.id))
    if sender is None or not sender.active or sender.sender_id != client_id:
        raise ClientRefused("the client credentials are not valid")
    asked = set(scope.split()) if scope else set(TOKEN_SCOPES)
    granted = " ".join(name for name, needs in TOKEN_SCOPES.items() if name in asked and needs in partner.scopes)
    token = g2p_signing.issue_token(
        secret=secret,
        issuer=settings.g2p_receiver_id,
        sender_id=sender.sender_id,
        partner_id=partner.id,
        scope=granted,
        seconds=settings.g2p_token_seconds,
    )
    return token, granted


# ---------------------------------------------------------------- senders (the CLI registers them)


def register_sender(
    *,
    session: Session,
    sender_id: str,
    partner_id: int,
    signing_method: str,
    jwks_document: dict[str, Any] | None,
    jwks_url: str | None,
    callback_uri: str | None,
    resolve_details: bool,
    actor: str,
) -> G2pSender:
    """Register (or re-register) a partner as a G2P Connect sender; audited. Problem naming the field otherwise."""
    if session.get(Partner, partner_id) is None:
        raise NotFound(_("no partner with id {id}").format(id=partner_id), field="partner_id")
    if not re.fullmatch(r"^[A-Za-z0-9._:-]{1,99}$", sender_id):
        raise Unprocessable(_("1 to 99 of letters, digits and . _ : -"), field="sender_id")
    if signing_method not in set(SigningMethod):
        raise Unprocessable(_("one of {methods}").format(methods=", ".join(SigningMethod)), field="signing_method")
    if signing_method != SigningMethod.NONE and jwks_document is None and not jwks_url:
        raise Unprocessable(_("a signing sender needs its public keys: a JWKS file or URL"), field="jwks")
    if jwks_document is not None:
        try:
            signing.check_jwks(jwks_document)
        except (ValueError, TypeError, KeyError) as error:
            raise Unprocessable(str(error), field="jwks") from None
    for field, uri in (("jwks_url", jwks_url), ("callback_uri", callback_uri)):
        if uri is not None and not re.fullmatch(r"^https?://[^\s]+$", uri):
            raise Unprocessable(_("an http(s) URL"), field=field)
    taken = session.scalar(
        select(G2pSender).where(G2pSender.sender_id == sender_id, G2pSender.partner_id != partner_id)
    )
    if taken is not None:
        raise Conflict(_("sender_id {id} belongs to partner {partner}").format(id=sender_id, partner=taken.partner_id))
    sender = session.scalar(select(G2pSender).where(G2pSender.partner_id == partner_id))
    if sender is None:
        sender = G2pSender(partner_id=partner_id)
        session.add(sender)
    sender.sender_id, sender.signing_method = sender_id, signing_method
    sender.jwks, sender.jwks_url, sender.callback_uri = jwks_document, jwks_url, callback_uri
    sender.resolve_details, sender.active = resolve_details, True
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="payments.g2p.sender_registered",
        subject=f"partner:{partner_id}",
        detail={"sender_id": sender_id, "signing_method": signing_method, "callback_uri": callback_uri},
    )
    return sender


def list_senders(*, session: Session) -> list[G2pSender]:
    return list(session.scalars(select(G2pSender).order_by(G2pSender.id)))


# ---------------------------------------------------------------- callbacks (the worker's part)


@dataclass
class Delivered:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_callbacks(
    *,
    session_factory: sessionmaker[Session],
    ports: Ports,
    country: LoadedCountry,
    settings: PaymentsSettings,
    secret: str,
    limit: int = 100,
    client: httpx.Client | None = None,
) -> Delivered:
    """Answer the acknowledged messages that are due and POST each answer, signed, to its sender's `/mapper/on-*`.

    A message is leased first (its next attempt moved past this run), so two workers never deliver it
    at once. Its operation is performed once, its answer stored with the effects; a failed delivery is
    tried again after `g2p_callback_backoff_seconds`, doubled each time, up to `g2p_callback_attempts`;
    then the message is `failed` (txn/status still answers it, with the last error).
    """
    now = utcnow()
    lease = now + timedelta(seconds=settings.g2p_callback_timeout_seconds * 2 + 5)
    with session_factory.begin() as session:
        due = (
            select(G2pMessage.id)
            .where(
                G2pMessage.state == G2pMessageState.PENDING,
                or_(G2pMessage.next_attempt_at.is_(None), G2pMessage.next_attempt_at <= now),
            )
            .order_by(G2pMessage.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if ids:
            session.execute(update(G2pMessage).where(G2pMessage.id.in_(ids)).values(next_attempt_at=lease))
    outcome = Delivered()
    own_client = client is None
    http = client or httpx.Client(timeout=settings.g2p_callback_timeout_seconds)
    try:
        for message_id in ids:
            _deliver_one(session_factory, ports, country, settings, secret, message_id, http, outcome)
    finally:
        if own_client:
            http.close()
    return outcome


def _deliver_one(
    session_factory: sessionmaker[Session],
    ports: Ports,
    country: LoadedCountry,
    settings: PaymentsSettings,
    secret: str,
    message_id: int,
    http: httpx.Client,
    outcome: Delivered,
) -> None:
    with session_factory() as session:
        ctx = Context(session=session, ports=ports, country=country, settings=settings, secret=secret)
        message = session.get(G2pMessage, message_id)
        if message is None or message.state != G2pMessageState.PENDING:
            return
        if message.response is None:
            message.response = perform(ctx, message)
            session.commit()  # the effects and the answer together, once: a delivery failing later redoes neither
        sender = session.scalar(select(G2pSender).where(G2pSender.sender_id == message.sender_id))
        body, headers = signed_body(ctx, sender, message.response)
        error = _post(http, f"{message.callback_uri}{CALLBACK_PATH[message.action]}", body, headers)
        message.attempts += 1
        now = utcnow()
        if error is None:
            message.state, message.completed_at, message.next_attempt_at, message.last_error = "done", now, None, None
            outcome.delivered += 1
        elif message.attempts >= settings.g2p_callback_attempts:
            message.state, message.next_attempt_at, message.last_error = G2pMessageState.FAILED, None, error
            outcome.failed += 1
            logger.warning("G2P Connect callback %s failed for good: %s", message.correlation_id, error)
        else:
            wait = settings.g2p_callback_backoff_seconds * 2 ** (message.attempts - 1)
            message.next_attempt_at, message.last_error = now + timedelta(seconds=wait), error
            outcome.retrying += 1
        session.commit()


def _post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> str | None:
    """None when the sender took the callback (2xx, not an ERR acknowledgement); else what went wrong."""
    try:
        answer = http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500]
    if not answer.is_success:
        return f"HTTP {answer.status_code}"
    try:
        ack = answer.json().get("message", {})
    except (ValueError, AttributeError):
        return None
    if isinstance(ack, dict) and ack.get("ack_status") == "ERR":
        return f"ERR {json.dumps(ack.get('error'))}"[:500]
    return None
