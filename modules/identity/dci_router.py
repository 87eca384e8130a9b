"""DCI registry routes (dci.py, dci_subscriptions.py), at the paths the DCI registry core API v1.0.0 gives them.

In our OpenAPI document with the envelope as far as we read it (dci_schemas.py): a request valid by
it is answered 200, its events' or search requests' refusals in-band in DCI's codes. A registry we
subscribe to with its keys registered must sign what it sends: unsigned or badly signed, the message
is answered with the specification's acknowledgement `ERR` (`err.signature.missing`/`.invalid`),
nothing done; in-band too, as an encrypted message is, so our 401 stays the partner key's problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from ...core.deps import CountryDep, PortsDep, RawBody, SessionDep, SettingsDep, require_partner
from ...core.models import Partner
from . import dci, dci_subscriptions
from .config import IdentitySettingsDep
from .dci_schemas import (
    Ack,
    NotifyAck,
    NotifyRequest,
    OnSubscribeRequest,
    OnUnsubscribeRequest,
    SearchAnswer,
    SearchRequest,
)

NOTIFY_SCOPE = "identity:crvs-notify"
SEARCH_SCOPE = "identity:dci-search"

router = APIRouter(prefix="/registry")

CivilRegistry = Annotated[Partner, Depends(require_partner(NOTIFY_SCOPE))]
Searcher = Annotated[Partner, Depends(require_partner(SEARCH_SCOPE))]


@router.post(
    "/notify",
    summary="DCI notify: a civil registry reports live births and deaths",
    response_model_exclude_none=True,
)
def notify(
    body: NotifyRequest,
    raw: RawBody,
    session: SessionDep,
    ports: PortsDep,
    country: CountryDep,
    settings: SettingsDep,
    identity_settings: IdentitySettingsDep,
    partner: CivilRegistry,
) -> NotifyAck:
    try:
        dci_subscriptions.check_signature(session, body.header.sender_id, raw)
    except dci_subscriptions.Unauthenticated as refused:
        return NotifyAck.model_validate(dci.refusal(body.message.transaction_id, refused.code, refused.text))
    answer = dci.notify(
        session=session,
        ports=ports,
        country=country,
        settings=identity_settings,
        partner=partner,
        request=body,
        secret=settings.secret_key.get_secret_value(),
    )
    session.commit()
    return NotifyAck.model_validate(answer)


@router.post(
    "/on-subscribe",
    summary="DCI on-subscribe: a civil registry answers our subscription with its codes",
    response_model_exclude_none=True,
)
def on_subscribe(body: OnSubscribeRequest, raw: RawBody, session: SessionDep, _partner: CivilRegistry) -> Ack:
    return _callback(body, raw, session, dci_subscriptions.on_subscribe)


@router.post(
    "/on-unsubscribe",
    summary="DCI on-unsubscribe: a civil registry confirms the end of our subscriptions",
    response_model_exclude_none=True,
)
def on_unsubscribe(body: OnUnsubscribeRequest, raw: RawBody, session: SessionDep, _partner: CivilRegistry) -> Ack:
    return _callback(body, raw, session, dci_subscriptions.on_unsubscribe)


def _callback(body: Any, raw: bytes, session: Session, handle: Callable[..., dict[str, Any]]) -> Ack:
    """A registry's answer to our request: its signature checked, then handled, acknowledged."""
    try:
        dci_subscriptions.check_signature(session, body.header.sender_id, raw)
    except dci_subscriptions.Unauthenticated as refused:
        return Ack.model_validate(
            dci_subscriptions.ack("ERR", body.message.correlation_id, (refused.code, refused.text))
        )
    answer = handle(session=session, request=body)
    session.commit()
    return Ack.model_validate(answer)


@router.post(
    "/sync/search",
    summary="DCI sync search: a person by UIN, with the attributes the partner's policy allows",
    response_model_exclude_none=True,
)
def sync_search(
    body: SearchRequest, session: SessionDep, country: CountryDep, settings: SettingsDep, partner: Searcher
) -> SearchAnswer:
    answer = dci.search(
        session=session, country=country, partner=partner, request=body, secret=settings.secret_key.get_secret_value()
    )
    session.commit()
    return SearchAnswer.model_validate(answer)
