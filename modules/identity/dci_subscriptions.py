"""Subscriptions to a civil registry's live births and deaths (DCI registry core API v1.0.0), and its signatures.

We register a registry (its DCI id, base URL, keys) and send it `POST {registry}/registry/subscribe`,
signed with the deployment's key (core/signing.py) in the envelope's `signature` field, naming our base
URL as `sender_uri`: the registry answers our `/registry/on-subscribe` with each subscription's code
(or its refusal) and pushes the events to our `/registry/notify`, where dci.notify applies them.
Unsubscribing sends `/registry/unsubscribe` with the codes; `/registry/on-unsubscribe` confirms.

The operator's command sends at once (no worker): a registry that cannot be reached, or refuses the
message, is reported, and what the command wrote for it is removed again, so nothing is half-done.
The subscriptions are written before the message goes (the registry may call back before the
command's answer arrives) and deleted when it fails.

A registry registered with keys (a JWKS or a JWKS URL) must sign what it sends us: notify,
on-subscribe, on-unsubscribe; a missing or bad signature is refused (`err.signature.missing`,
`err.signature.invalid`) before anything is read or written.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit, signing
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from .dci_schemas import OnSubscribeRequest, OnUnsubscribeRequest
from .models import DciRegistry, DciSubscription, SubscriptionState

VERSION = "1.0.0"
EVENT_TYPES = ("death", "live_birth")  # dci_VitalEvents codes dci.notify applies
SIGNATURE_NAMESPACE = "spdci"  # as the specification's MsgSignature example names it
RECORD_TYPE = "dci:PersonRecord"
REGISTRY_TYPE = "ns:org:RegistryType:Civil"  # the specification's example of a civil registry's type
# The record attribute whose date says an event happened on or after the day we subscribed.
EVENT_DATE = {"death": "deathdate", "live_birth": "birthdate"}
SEND_TIMEOUT_SECONDS = 10.0
_DCI_ID = re.compile(r"^[A-Za-z0-9._:-]{1,99}$")


class Unauthenticated(Exception):
    """A message a registry must sign, unsigned or badly signed: refused with the DCI error code, nothing done."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


class RegistryUnreachable(Problem):
    """The registry could not be reached, or did not acknowledge: nothing of the command is kept."""

    status = 502

    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="registry-unreachable")


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- signatures of what registries send


def check_signature(session: Session, sender_id: str | None, raw: bytes) -> None:
    """A registry registered with keys must sign its messages (the envelope's `signature`); others are not checked.

    A registry we do not subscribe to may still push to /registry/notify after onboarding out of band:
    its partner key authenticates it, as before.
    """
    registry = session.scalar(select(DciRegistry).where(DciRegistry.name == sender_id)) if sender_id else None
    if registry is None or (registry.jwks is None and not registry.jwks_url):
        return
    try:
        document = json.loads(raw)
        keys = signing.sender_keys(jwks_document=registry.jwks, jwks_url=registry.jwks_url)
        signing.verify_body(
            document.get("signature"),
            document.get("header"),
            document.get("message"),
            sender_id=registry.name,
            keys=keys,
        )
    except signing.BadSignature as bad:
        code = "err.signature.missing" if bad.missing else "err.signature.invalid"
        raise Unauthenticated(code, str(bad)) from None


# ---------------------------------------------------------------- registries and subscriptions (the CLI)


def register(
    *,
    session: Session,
    name: str,
    base_url: str,
    our_sender_id: str,
    our_url: str,
    jwks_document: dict[str, Any] | None,
    jwks_url: str | None,
) -> DciRegistry:
    """The registry as given (a new one, or its details replaced); Problem naming the field otherwise."""
    for field, dci_id in (("registry", name), ("sender_id", our_sender_id)):
        if not _DCI_ID.fullmatch(dci_id):
            raise Unprocessable(_("1 to 99 of letters, digits and . _ : -"), field=field)
    for field, url in (("url", base_url), ("our_url", our_url), ("jwks_url", jwks_url)):
        if url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise Unprocessable(_("an http(s) URL"), field=field)
    if jwks_document is not None:
        try:
            signing.check_jwks(jwks_document)
        except ValueError as error:
            raise Unprocessable(str(error), field="jwks") from None
    registry = session.scalar(select(DciRegistry).where(DciRegistry.name == name))
    if registry is None:
        registry = DciRegistry(name=name)
        session.add(registry)
    registry.base_url, registry.our_url = base_url.rstrip("/"), our_url.rstrip("/")
    registry.our_sender_id, registry.jwks, registry.jwks_url = our_sender_id, jwks_document, jwks_url
    session.flush()
    return registry


def subscribe(
    *,
    session: Session,
    registry: DciRegistry,
    events: Sequence[str],
    secret: str,
    actor: str,
    client: httpx.Client | None = None,
) -> list[DciSubscription]:
    """Ask the registry for these event types; the subscriptions are `requested` until it answers on-subscribe.

    Commits the subscriptions before sending (the registry may call back at once); if the registry is
    unreachable or refuses the message, deletes them (and the registry, if new and left with none)
    and raises RegistryUnreachable.
    """
    wanted = list(dict.fromkeys(events))
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if not wanted or unknown:
        raise Unprocessable(_("one or more of {events}").format(events=", ".join(EVENT_TYPES)), field="events")
    active = (SubscriptionState.REQUESTED, SubscriptionState.SUBSCRIBED)
    taken = session.scalars(
        select(DciSubscription.event_type).where(
            DciSubscription.registry_id == registry.id, DciSubscription.state.in_(active)
        )
    ).all()
    if already := sorted(set(wanted) & set(taken)):
        raise Conflict(
            _("already subscribed or requested at {registry}: {events}").format(
                registry=registry.name, events=", ".join(already)
            )
        )
    transaction_id = uuid.uuid4().hex
    made = [
        DciSubscription(
            registry_id=registry.id, event_type=event, transaction_id=transaction_id, reference_id=uuid.uuid4().hex
        )
        for event in wanted
    ]
    session.add_all(made)
    session.commit()
    today = datetime.now(UTC).date().isoformat()
    message = {
        "transaction_id": transaction_id,
        "subscribe_request": [
            {
                "reference_id": s.reference_id,
                "timestamp": now_text(),
                "subscribe_criteria": {
                    "version": VERSION,
                    "reg_type": REGISTRY_TYPE,
                    "reg_event_type": s.event_type,
                    "filter_type": "predicate",
                    # Every event from today on: what happened before is the registry's to tell in a search.
                    "filter": [
                        {
                            "seq_num": 1,
                            "expression1": {
                                "attribute_name": EVENT_DATE[s.event_type],
                                "operator": "ge",
                                "attribute_value": today,
                            },
                        }
                    ],
                    "notify_record_type": RECORD_TYPE,
                },
            }
            for s in made
        ],
    }
    try:
        answer = _send(registry, "subscribe", message, len(made), secret, client)
    except RegistryUnreachable:
        for subscription in made:
            session.delete(subscription)
        if not session.scalars(select(DciSubscription.id).where(DciSubscription.registry_id == registry.id)).first():
            session.delete(registry)
        session.commit()
        raise
    if isinstance(answer.get("message"), dict) and "subscribe_response" in answer["message"]:
        _apply_subscribe_response(session, registry, answer["message"])  # a registry answering at once
    audit.record(
        session=session,
        actor=actor,
        action="identity.dci.subscribe",
        subject=f"dci:{registry.name}",
        detail={"transaction_id": transaction_id, "events": wanted, "base_url": registry.base_url},
    )
    session.commit()
    return made


def unsubscribe(
    *,
    session: Session,
    registry: DciRegistry,
    events: Sequence[str],
    secret: str,
    actor: str,
    client: httpx.Client | None = None,
) -> list[DciSubscription]:
    """Send the codes of the subscriptions to these event types; `unsubscribing` until the registry's on-unsubscribe.

    Nothing changes if the registry is unreachable or refuses the message (RegistryUnreachable).
    """
    subscribed = list(
        session.scalars(
            select(DciSubscription)
            .where(
                DciSubscription.registry_id == registry.id,
                DciSubscription.state == SubscriptionState.SUBSCRIBED,
                DciSubscription.event_type.in_(list(events) or EVENT_TYPES),
            )
            .order_by(DciSubscription.id)
        )
    )
    if not subscribed:
        raise NotFound(
            _("no subscription at {registry} to end (a requested one has no code yet)").format(registry=registry.name)
        )
    message = {
        "transaction_id": uuid.uuid4().hex,
        "timestamp": now_text(),
        "subscription_codes": [s.subscription_code for s in subscribed],
    }
    _send(registry, "unsubscribe", message, len(subscribed), secret, client)
    for subscription in subscribed:
        subscription.state = SubscriptionState.UNSUBSCRIBING
    audit.record(
        session=session,
        actor=actor,
        action="identity.dci.unsubscribe",
        subject=f"dci:{registry.name}",
        detail={"transaction_id": message["transaction_id"], "codes": message["subscription_codes"]},
    )
    session.commit()
    return subscribed


def registry_named(session: Session, name: str) -> DciRegistry:
    registry = session.scalar(select(DciRegistry).where(DciRegistry.name == name))
    if registry is None:
        raise NotFound(_("no registry '{registry}': subscribe to it first").format(registry=name), field="registry")
    return registry


def subscriptions(session: Session) -> list[tuple[DciRegistry, DciSubscription]]:
    rows = session.execute(
        select(DciRegistry, DciSubscription)
        .join(DciSubscription, DciSubscription.registry_id == DciRegistry.id)
        .order_by(DciRegistry.name, DciSubscription.id)
    )
    return [(registry, subscription) for registry, subscription in rows]


def envelope(registry: DciRegistry, action: str, message: dict[str, Any], count: int, secret: str) -> dict[str, Any]:
    """A signed request to the registry: MsgHeader_V1.0.0, our base URL as `sender_uri`, the body signature."""
    header = {
        "version": VERSION,
        "message_id": uuid.uuid4().hex,
        "message_ts": now_text(),
        "action": action,
        "sender_id": registry.our_sender_id,
        "sender_uri": registry.our_url,
        "receiver_id": registry.name,
        "total_count": count,
        "is_msg_encrypted": False,
    }
    signature = signing.sign_body(
        header, message, namespace=SIGNATURE_NAMESPACE, sender_id=registry.our_sender_id, secret=secret
    )
    return {"signature": signature, "header": header, "message": message}


def _send(
    registry: DciRegistry, action: str, message: dict[str, Any], count: int, secret: str, client: httpx.Client | None
) -> dict[str, Any]:
    """POST the message; its answer when the registry took it (2xx, not ERR or NACK), RegistryUnreachable otherwise."""
    url = f"{registry.base_url}/registry/{action}"
    body = json.dumps(envelope(registry, action, message, count, secret), ensure_ascii=False).encode()
    http = client or httpx.Client(timeout=SEND_TIMEOUT_SECONDS)
    try:
        answer = http.post(url, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as error:
        reason = f"{type(error).__name__}: {error}"
        raise RegistryUnreachable(_("{url} could not be reached: {reason}").format(url=url, reason=reason)) from None
    finally:
        if client is None:
            http.close()
    try:
        document = answer.json()
    except ValueError:
        document = {}
    ack = document.get("message") if isinstance(document, dict) else None
    status = ack.get("ack_status") if isinstance(ack, dict) else None
    if not answer.is_success or status in ("ERR", "NACK"):
        error = ack.get("error") if isinstance(ack, dict) else None
        reason = f"HTTP {answer.status_code} {status or ''} {json.dumps(error or '')}".strip()
        raise RegistryUnreachable(_("{url} did not take the message: {reason}").format(url=url, reason=reason))
    return document


# ---------------------------------------------------------------- the registry's callbacks


def on_subscribe(*, session: Session, request: OnSubscribeRequest) -> dict[str, Any]:
    """Record each subscription's outcome: its code (`subscribed`) or the registry's reason (`refused`)."""
    registry = session.scalar(select(DciRegistry).where(DciRegistry.name == request.header.sender_id))
    if registry is None:
        return ack("ERR", request.message.correlation_id, ("err.sender_id.invalid", "we do not subscribe to it"))
    _apply_subscribe_response(session, registry, request.message.model_dump(mode="json"))
    return ack("ACK", request.message.correlation_id)


def _apply_subscribe_response(session: Session, registry: DciRegistry, message: dict[str, Any]) -> None:
    """Only `requested` subscriptions move: a late or replayed answer cannot revive an ended one."""
    for item in message.get("subscribe_response") or ():
        subscription = session.scalar(
            select(DciSubscription).where(
                DciSubscription.registry_id == registry.id,
                DciSubscription.reference_id == item.get("reference_id"),
                DciSubscription.state == SubscriptionState.REQUESTED,
            )
        )
        if subscription is None or item.get("status") not in ("succ", "rjct"):
            continue
        codes = [i.get("code") or i.get("subscription_code") for i in item.get("subscriptions") or ()]
        code = next((c for c in codes if c), None)
        if item["status"] == "succ" and code:
            subscription.state, subscription.subscription_code, subscription.reason = (
                SubscriptionState.SUBSCRIBED,
                code,
                None,
            )
        else:
            reason = item.get("status_reason_code") or "rjct"
            text = item.get("status_reason_message") or ("no subscription code" if item["status"] == "succ" else "")
            subscription.state, subscription.reason = SubscriptionState.REFUSED, f"{reason}: {text}".rstrip(": ")[:999]
        _audit_change(session, registry, subscription)


def on_unsubscribe(*, session: Session, request: OnUnsubscribeRequest) -> dict[str, Any]:
    """The registry confirms the end of subscriptions by code: `unsubscribed`."""
    message = request.message
    registry = session.scalar(select(DciRegistry).where(DciRegistry.name == request.header.sender_id))
    if registry is None:
        return ack("ERR", message.correlation_id, ("err.sender_id.invalid", "we do not subscribe to it"))
    ended = [s.code for s in message.subscription_status if s.status == "unsubscribe"]
    for subscription in session.scalars(
        select(DciSubscription).where(
            DciSubscription.registry_id == registry.id,
            DciSubscription.subscription_code.in_(ended),
            DciSubscription.state.in_((SubscriptionState.UNSUBSCRIBING, SubscriptionState.SUBSCRIBED)),
        )
    ):
        subscription.state = SubscriptionState.UNSUBSCRIBED
        _audit_change(session, registry, subscription)
    return ack("ACK", message.correlation_id)


def _audit_change(session: Session, registry: DciRegistry, subscription: DciSubscription) -> None:
    audit.record(
        session=session,
        actor=f"dci:{registry.name}",
        action="identity.dci.subscription",
        subject=f"dci:{registry.name}",
        detail={
            "event_type": subscription.event_type,
            "state": subscription.state,
            "code": subscription.subscription_code,
            "reason": subscription.reason,
        },
    )


def ack(status: str, correlation_id: str, error: tuple[str, str] | None = None) -> dict[str, Any]:
    """The specification's acknowledgement (`Response`)."""
    message: dict[str, Any] = {"ack_status": status, "timestamp": now_text(), "correlation_id": correlation_id}
    if error is not None:
        message["error"] = {"code": error[0], "message": error[1]}
    return {"message": message}
