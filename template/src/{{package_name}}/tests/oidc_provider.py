"""A real OpenID Connect provider for the sign-in tests: pyop (IdentityPython) behind a small Starlette app.

pyop does the provider's work (authorisation requests, codes bound to PKCE challenges, client
authentication, signed ID tokens, userinfo, end-session); this file only gives it HTTP
endpoints, a login form checked against the test's user table, and an RSA key made at start.
Like a Keycloak mapper, the token endpoint puts the user's `preferred_username`, `name` and
`groups` in the ID token. `rewrite_id_token` lets a test change what the token endpoint hands out
(another audience, a changed payload) to check the relying party refuses it.
"""

from __future__ import annotations

import html
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from Cryptodome.PublicKey import RSA
from jwkest.jwk import RSAKey
from jwkest.jws import JWS
from oic.oic.message import AuthorizationRequest, EndSessionRequest
from pyop.authz_state import AuthorizationState
from pyop.exceptions import InvalidAuthenticationRequest, InvalidClientAuthentication, OAuthError
from pyop.provider import Provider
from pyop.subject_identifier import HashBasedSubjectIdentifierFactory
from pyop.userinfo import Userinfo
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class User:
    username: str
    password: str
    name: str
    groups: tuple[str, ...] = ()


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str


@dataclass
class RunningProvider:
    issuer: str
    provider: Provider
    signing_key: RSAKey
    # What the token endpoint does to each ID token before handing it out (identity by default).
    rewrite_id_token: Callable[[str], str] = lambda token: token
    end_session_requests: list[dict[str, str]] = field(default_factory=list)

    def sign(self, claims: dict[str, Any]) -> str:
        """A token with these claims, signed with the provider's own key (as it would sign one)."""
        return JWS(msg=json.dumps(claims), alg="RS256").sign_compact([self.signing_key])


LOGIN_FORM = """<!doctype html><title>Sign in</title>
<form method="post" action="/authorize">
<input type="hidden" name="request" value="{request}">
<input name="username"><input name="password" type="password"><button>Sign in</button>
</form>"""


def build_provider(issuer: str, users: list[User], client: Client) -> RunningProvider:
    signing_key = RSAKey(key=RSA.generate(2048), alg="RS256", kid=f"test-{int(time.time())}")
    configuration = {
        # pyop's configuration check insists on an https issuer, as OpenID Connect Discovery does; the
        # test serves plain http on the loopback, so the issuer is set to it once the check has passed.
        "issuer": issuer.replace("http://", "https://", 1),
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "name", "preferred_username", "groups"],
    }
    clients = {
        client.client_id: {
            "client_secret": client.client_secret,
            "redirect_uris": [client.redirect_uri],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "post_logout_redirect_uris": [client.post_logout_redirect_uri],
        }
    }
    userinfo = Userinfo(
        {u.username: {"name": u.name, "preferred_username": u.username, "groups": list(u.groups)} for u in users}
    )
    provider = Provider(
        signing_key,
        configuration,
        AuthorizationState(HashBasedSubjectIdentifierFactory("test salt")),
        clients,
        userinfo,
    )
    provider.configuration_information["issuer"] = issuer
    return RunningProvider(issuer=issuer, provider=provider, signing_key=signing_key)


def provider_app(running: RunningProvider, users: list[User]) -> Starlette:
    provider = running.provider
    passwords = {u.username: u.password for u in users}

    def id_token_claims(user_id: str, _client_id: str) -> dict[str, Any]:
        claims = provider.userinfo[user_id]
        return {"preferred_username": claims["preferred_username"], "name": claims["name"], "groups": claims["groups"]}

    async def discovery(_request: Request) -> Response:
        return JSONResponse(provider.provider_configuration.to_dict())

    async def jwks(_request: Request) -> Response:
        return JSONResponse(provider.jwks)

    async def authorize_form(request: Request) -> Response:
        try:
            provider.parse_authentication_request(request.url.query)
        except InvalidAuthenticationRequest as error:
            return HTMLResponse(html.escape(str(error)), status_code=400)
        return HTMLResponse(LOGIN_FORM.format(request=html.escape(request.url.query)))

    async def authorize_login(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        username = form.get("username", "")
        if username not in passwords or passwords[username] != form.get("password"):
            return HTMLResponse("wrong user name or password", status_code=401)
        authentication_request: AuthorizationRequest = provider.parse_authentication_request(form["request"])
        answer = provider.authorize(authentication_request, username)
        return RedirectResponse(answer.request(authentication_request["redirect_uri"]), status_code=303)

    async def token(request: Request) -> Response:
        try:
            answer = provider.handle_token_request(
                (await request.body()).decode(), _authorization(request), extra_id_token_claims=id_token_claims
            )
        except InvalidClientAuthentication as error:
            return JSONResponse({"error": error.oauth_error, "error_description": str(error)}, status_code=401)
        except OAuthError as error:
            return JSONResponse({"error": error.oauth_error, "error_description": str(error)}, status_code=400)
        body = answer.to_dict()
        body["id_token"] = running.rewrite_id_token(body["id_token"])
        return JSONResponse(body)

    async def userinfo(request: Request) -> Response:
        try:
            return JSONResponse(provider.handle_userinfo_request(request.url.query, _authorization(request)).to_dict())
        except ValueError as error:  # OAuthError, and pyop's BearerTokenError, a plain ValueError
            return JSONResponse({"error": "invalid_token", "error_description": str(error)}, status_code=401)

    async def end_session(request: Request) -> Response:
        running.end_session_requests.append(dict(parse_qsl(request.url.query)))
        end_session_request = EndSessionRequest().deserialize(request.url.query)
        provider.logout_user(end_session_request=end_session_request)
        redirect = provider.do_post_logout_redirect(end_session_request)
        return RedirectResponse(redirect, status_code=303) if redirect else HTMLResponse("signed out")

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize_form, methods=["GET"]),
            Route("/authorize", authorize_login, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo, methods=["GET", "POST"]),
            Route("/logout", end_session),
        ]
    )


def _authorization(request: Request) -> dict[str, str]:
    """The Authorization header under the name pyop looks it up by (Starlette's headers are lower case)."""
    value = request.headers.get("authorization")
    return {"Authorization": value} if value else {}


@contextmanager
def running_provider(users: list[User], client: Client) -> Iterator[RunningProvider]:
    """The provider serving on a free 127.0.0.1 port in a thread, for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
    running = build_provider(issuer, users, client)
    server = uvicorn.Server(uvicorn.Config(provider_app(running, users), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test OpenID provider did not start")
        time.sleep(0.02)
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
