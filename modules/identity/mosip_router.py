"""MOSIP ID Authentication's routes (mosip.py), at MOSIP's own paths: `/idauthentication/v1/...`.

Left out of our OpenAPI document: their contract is MOSIP's (the body is a signed, partly encrypted
MOSIP envelope, refused with MOSIP's error codes, never a 422), so the schema-driven fuzz of our own
API has nothing to state about them; tests/test_mosip.py covers them, with MOSIP's own client.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ...core.deps import CountryDep, SessionDep, SettingsDep
from . import mosip
from .config import IdentitySettingsDep
from .deps import SessionFactory
from .mosip_errors import PATH_INCOMPLETE
from .notifier import OutboxNotifier

PREFIX = "/idauthentication/v1"
SIGNATURE_HEADER = "signature"
RESPONSE_SIGNATURE_HEADER = "response-signature"

root_router = APIRouter(include_in_schema=False)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def _context(
    session: SessionDep,
    session_factory: SessionFactory,
    country: CountryDep,
    settings: SettingsDep,
    identity_settings: IdentitySettingsDep,
) -> mosip.Context:
    secret = settings.secret_key.get_secret_value()
    return mosip.Context(
        session=session,
        session_factory=session_factory,
        country=country,
        settings=identity_settings,
        secret=secret,
        notifier=lambda: OutboxNotifier(secret=secret, expiry_seconds=identity_settings.notify_expiry_seconds),
    )


ContextDep = Annotated[mosip.Context, Depends(_context)]


@root_router.post(PREFIX + "/{operation}/{misp_license_key}/{partner_id}/{api_key}")
def ida(
    operation: str,
    misp_license_key: str,
    partner_id: str,
    api_key: str,
    body: RawBody,
    request: Request,
    ctx: ContextDep,
) -> Response:
    """MOSIP's auth, kyc and otp (anything else is a path MOSIP does not have)."""
    if operation not in mosip.OPERATIONS:
        return _respond(mosip.refuse("auth", [PATH_INCOMPLETE], ctx))
    answer = mosip.handle(
        operation=operation,
        misp_license_key=misp_license_key,
        partner_id=partner_id,
        api_key=api_key,
        body=body,
        signature=request.headers.get(SIGNATURE_HEADER),
        ctx=ctx,
    )
    return _respond(answer)


@root_router.post(PREFIX + "/{rest:path}")
def ida_incomplete(rest: str, ctx: ContextDep) -> Response:
    """A path with fewer (or more) segments than MOSIP's: MOSIP's IDA-MPA-038."""
    operation = rest.split("/", 1)[0]
    return _respond(mosip.refuse(operation if operation in mosip.OPERATIONS else "auth", [PATH_INCOMPLETE], ctx))


def _respond(answer: mosip.Answer) -> Response:
    return Response(
        content=answer.body, media_type="application/json", headers={RESPONSE_SIGNATURE_HEADER: answer.signature}
    )
