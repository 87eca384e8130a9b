"""G2P Connect's routes at the specification's own paths (the module's `root_router`): thin, g2p.py does the work.

`/mapper/{link,update,unlink,resolve}` and `/mapper/txn/status` acknowledge and call back;
`/mapper/sync/...` answer at once; `/oauth2/client/token` gives senders an access token for their
client credentials. The key our answers and callbacks are signed with is the core's, at `/.well-known/jwks.json`.
A body of the wrong shape is answered the specification's way (`ERR`, `err.request.bad`, HTTP 400),
never with our 422 problem document.
"""

# No `from __future__ import annotations`: the endpoints below are made in a loop, and FastAPI reads
# their annotations, which name the loop's model and scope, when each is defined.

import json
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Header, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from ...core import authorisation, jobs
from ...core.deps import ApiKeyDep, CountryDep, PortsDep, RawBody, SessionDep, SettingsDep
from ...core.i18n import _
from ...core.models import Partner
from ...core.schemas import Line, as_utc
from ...core.security import AuthenticationFailed, authorise
from . import g2p, g2p_schemas, g2p_signing
from .config import PaymentsSettings, PaymentsSettingsDep
from .jobs import G2P_CALLBACKS
from .scopes import LINK_SCOPE, READ_SCOPE

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/client/token"  # noqa: S105 - a path, not a password
SIGNATURE_HEADER = "Signature"
# The OpenAPI extension marking a standard's route: its errors are the standard's bodies (docs/architecture.md).
STANDARD = {"x-standard": "G2P Connect 1.0.0"}


class G2pRoute(APIRoute):
    """A request body of the wrong shape answered as G2P Connect (or OAuth2, for the token) says, not with a 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                where = "; ".join(
                    f"{'.'.join(str(part) for part in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                    for e in error.errors()[:5]
                )
            except HTTPException as error:  # a body that is not JSON (or form data) at all
                if error.status_code != 400:
                    raise
                where = str(error.detail)
            if request.url.path == TOKEN_PATH:
                body = {"error": "invalid_request", "error_description": where[:500]}
                return JSONResponse(body, status_code=400)
            secret = request.app.state.settings.secret_key.get_secret_value()
            refused = g2p.error_answer(secret, 400, "err.request.bad", where or "the body is not a mapper message")
            return _response(refused)

        return answer


root_router = APIRouter(route_class=G2pRoute)

g2p_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="G2PConnectAccessToken",
    description=f"An access token from POST {TOKEN_PATH} (client credentials)",
)


def g2p_partner(scope: str) -> Callable[..., Partner]:
    """The partner calling, by its API key or an access token we issued it; staff members are refused (403).

    It carries `scope` and `partners_only` as the core's dependencies do, for the authorisation matrix test.
    """

    def dependency(
        request: Request,
        key: ApiKeyDep = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(g2p_bearer)] = None,
    ) -> Partner:
        settings = request.app.state.settings
        payments = request.app.state.runtime.settings_of(PaymentsSettings)
        token = bearer.credentials if bearer is not None else None
        with request.app.state.session_factory() as session:
            if not key and token:
                try:
                    claims = g2p_signing.read_token(
                        token, secret=settings.secret_key.get_secret_value(), issuer=payments.g2p_receiver_id
                    )
                except g2p_signing.ExpiredToken:
                    raise AuthenticationFailed(
                        _("the access token expired; ask {path} for a new one").format(path=TOKEN_PATH)
                    ) from None
                except g2p_signing.NotOurToken:
                    claims = None
                if claims is not None:
                    partner = session.get(Partner, claims["pid"])
                    if partner is None or not _usable(partner):
                        raise AuthenticationFailed(_("the API key is not valid or has been revoked"))
                    authorise(partner, scope)
                    return partner
            return authorisation.partner_only(session=session, settings=settings, scope=scope, key=key, token=token)

    dependency.scope = scope  # type: ignore[attr-defined]
    dependency.partners_only = True  # type: ignore[attr-defined]
    return dependency


def _usable(partner: Partner) -> bool:
    """What `authenticate` checks of a key, for a partner holding an access token instead."""
    expired = partner.expires_at is not None and as_utc(partner.expires_at) <= datetime.now(UTC)
    return partner.active and not partner.awaiting_approval and not expired


SignatureHeader = Annotated[
    str | None,
    Header(
        alias=SIGNATURE_HEADER,
        max_length=8000,
        description="For senders registered with jws-header: a JWS over the exact body, payload detached",
    ),
]


def _response(answer: g2p.Answer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type="application/json", headers=answer.headers)


def _hand_over(settings: Any) -> None:
    """Wake a worker at once (PostgreSQL, WORKER_HANDOFF); otherwise its schedule finds the message within seconds."""
    if not jobs.hands_off(settings):
        return
    try:
        jobs.defer(settings, G2P_CALLBACKS, lock=G2P_CALLBACKS)
    except Exception:  # the periodic run delivers it all the same
        logger.warning("could not hand the G2P Connect callbacks to a worker; the schedule will", exc_info=True)


_ACK_OR_PROBLEM = {
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/AckResponse"}},
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}},
    }
}

MAPPER_OPERATIONS: dict[str, tuple[str, str, type, type]] = {
    # operation: (path, scope, request envelope, answer envelope)
    "link": ("link", LINK_SCOPE, g2p_schemas.LinkEnvelope, g2p_schemas.OnLink),
    "update": ("update", LINK_SCOPE, g2p_schemas.UpdateEnvelope, g2p_schemas.OnUpdate),
    "unlink": ("unlink", LINK_SCOPE, g2p_schemas.UnlinkEnvelope, g2p_schemas.OnUnlink),
    "resolve": ("resolve", READ_SCOPE, g2p_schemas.ResolveEnvelope, g2p_schemas.OnResolve),
    "txn-status": ("txn/status", READ_SCOPE, g2p_schemas.TxnStatusEnvelope, g2p_schemas.OnTxnStatus),
}


def _mapper_route(operation: str, mode: Literal["sync", "async"]) -> None:
    path, scope, envelope_model, answer_model = MAPPER_OPERATIONS[operation]

    def endpoint(
        envelope: envelope_model,  # type: ignore[valid-type]
        raw: RawBody,
        partner: Annotated[Partner, Depends(g2p_partner(scope))],
        session: SessionDep,
        ports: PortsDep,
        country: CountryDep,
        settings: SettingsDep,
        payments: PaymentsSettingsDep,
        signature: SignatureHeader = None,
    ) -> Response:
        ctx = g2p.Context(
            session=session,
            ports=ports,
            country=country,
            settings=payments,
            secret=settings.secret_key.get_secret_value(),
        )
        answer = g2p.receive(
            ctx,
            operation=operation,
            mode=mode,
            envelope=envelope,
            document=json.loads(raw),
            raw=raw,
            signature_header=signature,
            partner=partner,
        )
        session.commit()
        if answer.queued:
            _hand_over(settings)
        return _response(answer)

    if mode == "sync":
        url, summary = f"/mapper/sync/{path}", f"G2P Connect {operation}, answered at once (signed)"
        answered = {200: {"model": answer_model}, 409: {"model": answer_model}}
    else:
        url, summary = f"/mapper/{path}", f"G2P Connect {operation}: acknowledged, answered by a signed callback"
        answered = {200: {"model": g2p_schemas.AckResponse}, 409: {"model": g2p_schemas.AckResponse}}
    root_router.add_api_route(
        url,
        endpoint,
        methods=["POST"],
        name=f"g2p_{mode}_{operation.replace('-', '_')}",
        summary=summary,
        response_class=Response,
        responses={**answered, 400: {"model": g2p_schemas.AckResponse}, 401: _ACK_OR_PROBLEM, 403: _ACK_OR_PROBLEM},
        openapi_extra=STANDARD,
    )


for _operation in MAPPER_OPERATIONS:
    _mapper_route(_operation, "async")
    _mapper_route(_operation, "sync")


@root_router.post(
    TOKEN_PATH,
    summary="G2P Connect access token for a sender's client credentials (OAuth2 client_credentials)",
    response_model=g2p_schemas.TokenOut,
    responses={400: {"model": g2p_schemas.OAuthError}, 401: {"model": g2p_schemas.OAuthError}},
    openapi_extra=STANDARD,
)
def client_token(
    grant_type: Annotated[Literal["client_credentials"], Form()],
    client_id: Annotated[Line, Form(min_length=1, max_length=99, description="The sender_id")],
    client_secret: Annotated[Line, Form(min_length=1, max_length=200, description="The sender's partner API key")],
    session: SessionDep,
    settings: SettingsDep,
    payments: PaymentsSettingsDep,
    scope: Annotated[Line | None, Form(max_length=500)] = None,
) -> Any:
    try:
        token, granted = g2p.client_token(
            session=session,
            settings=payments,
            secret=settings.secret_key.get_secret_value(),
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
        )
    except g2p.ClientRefused as refused:
        body = {"error": "invalid_client", "error_description": str(refused)}
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Basic"})
    return g2p_schemas.TokenOut(
        access_token=token,
        token_type="bearer",  # noqa: S106 - the token's type, not a password
        expires_in=str(payments.g2p_token_seconds),
        scope=granted,
    )
