"""OpenID Connect sign-in for staff: the relying-party side of a ministry's OpenID provider.

Ministries already run an OpenID provider (Keycloak, Entra ID, MOSIP eSignet); staff sign in
there and the provider vouches for them with a signed ID token. This module runs the
authorisation-code flow with PKCE (S256), `state` and `nonce`, validates the ID token against the
provider's published keys, and maps a claim of the token (the user's groups or roles) to the
stack's roles through `OIDC_ROLE_MAPPING`. `signed_in` then opens a staff session (core/staff.py)
for the account linked to the person's (issuer, subject), with the grants their claims map to.

Settings come from the environment with the prefix `OIDC_` (docs/oidc.md); the routes answer
404 while `OIDC_ENABLED` is false.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Annotated, Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from . import staff
from .deps import SessionDep, SettingsDep, StaffTokenDep
from .encoding import b64url_decode, b64url_encode
from .errors import NotFound, Problem
from .i18n import N_, _
from .keys import derive_key
from .settings import Settings
from .staff_api import StaffOut, delete_session_cookie, set_session_cookie, staff_out

LOGIN_STATE_HMAC = "oidc login-state hmac-sha256 v1"
LOGIN_COOKIE = "oidc_login"
COOKIE_PATH = "/staff/oidc"
LOGIN_STATE_SECONDS = 600  # time a person has at the provider before the sign-in must start again
PROVIDER_TIMEOUT_SECONDS = 10.0
DISCOVERY_KEYS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# A role name (`payments.approver`), optionally limited to a region code: `payments.approver@NBO`.
ROLE_GRANT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(@[A-Za-z0-9_-]+)?$")
# Symmetric and unsigned algorithms are refused: an ID token must be signed with the provider's private key.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OIDC_", env_file=("deployment.env", ".env"), extra="ignore", hide_input_in_errors=True
    )

    enabled: bool = Field(default=False, description="Whether staff may sign in through the OpenID provider")
    issuer: str = Field(default="", description="The provider's issuer URL; discovery is read below it")
    client_id: str = Field(default="", description="This stack's client id at the provider")
    client_secret: SecretStr = Field(default=SecretStr(""), description="This stack's client secret")
    redirect_url: str = Field(default="", description="This stack's /staff/oidc/callback URL, as registered")
    post_logout_redirect_url: str = Field(default="", description="Where the provider sends staff after logout")
    scopes: str = Field(default="openid profile email", description="Scopes asked for, space-separated")
    roles_claim: str = Field(
        default="roles", description="The claim holding the user's groups or roles; dots reach into objects"
    )
    username_claim: str = Field(default="preferred_username", description="The claim used as the user name")
    display_name_claim: str = Field(default="name", description="The claim used as the display name")
    # A claim value (a group) -> one role, or several, each optionally limited to a region (`role@REGION`).
    role_mapping: dict[str, str | list[str]] = Field(default_factory=dict)
    leeway_seconds: int = Field(default=60, ge=0, le=600, description="Clock difference tolerated on exp and iat")

    @field_validator("role_mapping")
    @classmethod
    def _grants_are_role_names(cls, mapping: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for value in mapping.values():
            for grant in [value] if isinstance(value, str) else value:
                if not ROLE_GRANT_PATTERN.match(grant):
                    raise ValueError(
                        _("OIDC_ROLE_MAPPING: {grant} is not a role name, optionally followed by @REGION").format(
                            grant=grant
                        )
                    )
        return mapping

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OidcSettings:
        if self.enabled and not (self.issuer and self.client_id and self.redirect_url):
            raise ValueError(_("OIDC_ENABLED needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_REDIRECT_URL"))
        return self


@lru_cache(maxsize=1)
def get_oidc_settings() -> OidcSettings:
    """The OIDC settings, read once per process; tests replace this dependency."""
    return OidcSettings()


def enabled_oidc(settings: Annotated[OidcSettings, Depends(get_oidc_settings)]) -> OidcSettings:
    if not settings.enabled:
        raise NotFound(N_("OpenID Connect sign-in is not enabled on this deployment"))
    check_role_mapping(settings.role_mapping)
    return settings


def check_role_mapping(mapping: dict[str, str | list[str]]) -> None:
    """Refuse a mapping to a role no installed part declares (a module removed, a typo), or a region on a national role.

    Checked on every request to /staff/oidc (it is cheap), so a wrong mapping stops every sign-in
    with the reason rather than only the sign-ins of the people in the group at fault.
    """
    for value in mapping.values():
        for text in [value] if isinstance(value, str) else value:
            role, _at, region = text.partition("@")
            try:
                staff.check_grant(role, region or None)
            except Problem as error:
                raise OidcMisconfigured(
                    _("OIDC_ROLE_MAPPING cannot be used: {problem}").format(problem=error.detail)
                ) from error


OidcDep = Annotated[OidcSettings, Depends(enabled_oidc)]


# The domain: grants, the identity, and the problems of a refused sign-in.


@dataclass(frozen=True)
class Grant:
    role: str
    region: str | None = None  # None: the role reaches every region


@dataclass(frozen=True)
class StaffIdentity:
    """A person the provider vouched for, with the stack's roles their claims map to."""

    issuer: str
    subject: str
    username: str
    display_name: str
    grants: tuple[Grant, ...]


class SignInRefused(Problem):
    status = 401

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="sign-in-refused", **extensions)


class ProviderUnavailable(Problem):
    status = 502

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="openid-provider-unavailable", **extensions)


def bad_answer(reason: str) -> ProviderUnavailable:
    """The problem for a provider that failed or answered what OpenID Connect does not allow (`reason` is technical)."""
    return ProviderUnavailable(_("the OpenID provider answered badly: {reason}").format(reason=reason))


class OidcMisconfigured(Problem):
    status = 500

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="oidc-misconfigured", **extensions)


class NoStaffRole(Problem):
    status = 403

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail, kind="no-staff-role", **extensions)


def grants_from_claims(claims: dict[str, Any], roles_claim: str, mapping: dict[str, str | list[str]]) -> list[Grant]:
    """The grants the roles claim's values map to, in the claim's order, each once; unmapped values give none."""
    grants: list[Grant] = []
    for value in _claim_values(claims, roles_claim):
        mapped = mapping.get(value, [])
        for text in [mapped] if isinstance(mapped, str) else mapped:
            role, _at, region = text.partition("@")
            grant = Grant(role=role, region=region or None)
            if grant not in grants:
                grants.append(grant)
    return grants


def _claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """A claim's string values; `realm_access.roles` reaches into Keycloak's nested claim."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def person_from_claims(claims: dict[str, Any], settings: OidcSettings) -> StaffIdentity:
    username = claims.get(settings.username_claim)
    if not isinstance(username, str) or not username:
        raise SignInRefused(
            _("the ID token has no {claim} claim to name the user").format(claim=settings.username_claim)
        )
    grants = grants_from_claims(claims, settings.roles_claim, settings.role_mapping)
    if not grants:
        raise NoStaffRole(
            _("{user} holds no role in this deployment: their groups map to none (OIDC_ROLE_MAPPING)").format(
                user=username
            )
        )
    display_name = claims.get(settings.display_name_claim)
    return StaffIdentity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        username=username,
        display_name=display_name if isinstance(display_name, str) and display_name else username,
        grants=tuple(grants),
    )


# The provider: discovery, keys, the code exchange and the ID token.


@lru_cache(maxsize=8)
def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata, read once per process (a failure is not cached: the next sign-in asks again)."""
    metadata = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise bad_answer("discovery names another issuer")
    missing = [key for key in DISCOVERY_KEYS if not isinstance(metadata.get(key), str)]
    if missing:
        raise bad_answer("discovery lacks " + ", ".join(missing))
    return metadata


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=PROVIDER_TIMEOUT_SECONDS)
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise bad_answer(type(error).__name__) from error
    if not isinstance(answer, dict):
        raise bad_answer("not an object")
    return answer


@dataclass(frozen=True)
class LoginState:
    """What the browser keeps (in a signed cookie) between the redirect to the provider and the callback."""

    state: str
    nonce: str
    code_verifier: str
    started: int  # Unix time, so an old cookie is refused


def authorization_url(settings: OidcSettings, metadata: dict[str, Any]) -> tuple[str, LoginState]:
    """Where to send the browser, and the login state the callback needs to check the answer."""
    login = LoginState(
        state=generate_token(32), nonce=generate_token(32), code_verifier=generate_token(64), started=int(time.time())
    )
    url = add_params_to_uri(
        metadata["authorization_endpoint"],
        [
            ("response_type", "code"),
            ("client_id", settings.client_id),
            ("redirect_uri", settings.redirect_url),
            ("scope", settings.scopes),
            ("state", login.state),
            ("nonce", login.nonce),
            ("code_challenge", create_s256_code_challenge(login.code_verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    return url, login


def exchange_code(settings: OidcSettings, metadata: dict[str, Any], code: str, login: LoginState) -> str:
    """The ID token the provider gives for the code (client_secret_basic authentication), still unchecked."""
    try:
        response = httpx.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": settings.redirect_url,
                "code_verifier": login.code_verifier,
            },
            auth=(settings.client_id, settings.client_secret.get_secret_value()),
            timeout=PROVIDER_TIMEOUT_SECONDS,
        )
        answer = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise bad_answer(type(error).__name__) from error
    if not isinstance(answer, dict):
        raise bad_answer("not an object")
    if response.status_code != 200 or not isinstance(answer.get("id_token"), str):
        raise SignInRefused(
            _("the OpenID provider refused the sign-in: {error}").format(error=answer.get("error", "no ID token"))
        )
    return answer["id_token"]


# Claims whose check failed -> what the person is told.
CLAIM_PROBLEMS = {
    "iss": N_("the ID token was not issued by the configured OpenID provider"),
    "aud": N_("the ID token is meant for another client"),
    "azp": N_("the ID token is meant for another client"),
    "exp": N_("the ID token has expired"),
    "iat": N_("the ID token's issue time is missing or in the future"),
    "nonce": N_("the ID token's nonce does not match this sign-in"),
    "sub": N_("the ID token names no subject"),
}


def validate_id_token(id_token: str, settings: OidcSettings, metadata: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The ID token's claims, once its signature (the provider's JWKS), iss, aud, exp, iat and nonce are right."""
    try:
        keys = KeySet.import_key_set(_get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as error:
        raise bad_answer("unusable JWKS") from error
    allowed = [
        a for a in metadata.get("id_token_signing_alg_values_supported", ["RS256"]) if a in ASYMMETRIC_ALGORITHMS
    ]
    try:
        claims = jwt.decode(id_token, keys, algorithms=allowed).claims
    except (JoseError, ValueError) as error:
        raise SignInRefused(
            N_("the ID token's signature does not verify against the OpenID provider's keys")
        ) from error
    registry = jwt.JWTClaimsRegistry(
        leeway=settings.leeway_seconds,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.client_id},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError as error:
        raise SignInRefused(CLAIM_PROBLEMS["exp"]) from error
    except ClaimError as error:
        raise SignInRefused(CLAIM_PROBLEMS.get(error.claim, CLAIM_PROBLEMS["iss"])) from error
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.client_id:
        raise SignInRefused(CLAIM_PROBLEMS["azp"])  # OpenID Connect Core 3.1.3.7: several audiences need azp
    return claims


def logout_url(settings: OidcSettings, metadata: dict[str, Any], id_token: str | None) -> str | None:
    """The provider's RP-initiated logout URL, or None when the provider offers no end-session endpoint."""
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    params = [("client_id", settings.client_id)]
    if id_token:
        params.append(("id_token_hint", id_token))
    if settings.post_logout_redirect_url:
        params.append(("post_logout_redirect_uri", settings.post_logout_redirect_url))
    return add_params_to_uri(endpoint, params)


# Signed cookies: HMAC-SHA256 with a key derived from SECRET_KEY for each purpose (core/keys.py).


def sign_value(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    body = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(derive_key(secret, purpose), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unsign_value(secret: str, purpose: str, signed: str | None) -> dict[str, Any] | None:
    """The payload of a value `sign_value` made with this secret and purpose; None for anything else."""
    body, _dot, mac = (signed or "").rpartition(".")
    expected = hmac.new(derive_key(secret, purpose), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(b64url_decode(body))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def read_login_state(secret: str, cookie: str | None, *, now: int | None = None) -> LoginState:
    payload = unsign_value(secret, LOGIN_STATE_HMAC, cookie)
    try:
        login = LoginState(**payload) if payload is not None else None
    except TypeError:
        login = None
    current = int(time.time()) if now is None else now
    if login is None or not 0 <= current - login.started <= LOGIN_STATE_SECONDS:
        raise SignInRefused(N_("the sign-in has expired or was not started from this browser; start again"))
    return login


def _set_cookie(response: Response, name: str, value: str, settings: OidcSettings, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: Lax sends the cookie with it
        secure=settings.redirect_url.startswith("https://"),
    )


# The routes.

router = APIRouter(prefix="/staff/oidc")
NOT_ENABLED = {404: {"description": "OpenID Connect sign-in is not enabled"}}
PROVIDER_DOWN = {502: {"description": "The OpenID provider could not be reached or answered badly"}}


@router.get(
    "/login",
    summary="Staff sign-in: redirect to the ministry's OpenID provider",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's authorisation endpoint"}, **NOT_ENABLED, **PROVIDER_DOWN},
)
def login(oidc: OidcDep, settings: SettingsDep) -> RedirectResponse:
    url, state = authorization_url(oidc, discover(oidc.issuer))
    response = RedirectResponse(url, status_code=302)
    signed = sign_value(settings.secret_key.get_secret_value(), LOGIN_STATE_HMAC, asdict(state))
    _set_cookie(response, LOGIN_COOKIE, signed, oidc, LOGIN_STATE_SECONDS)
    return response


@router.get(
    "/callback",
    summary="Staff sign-in: the OpenID provider's answer",
    responses={
        200: {"model": StaffOut, "description": "A staff session is open (the cookie); who signed in, their roles"},
        401: {"description": "The sign-in is refused: state, code or ID token not valid, or the account disabled"},
        403: {"description": "The person holds no role in this deployment"},
        409: {"description": "The user name belongs to another staff account"},
        500: {"description": "OIDC_ROLE_MAPPING names a role this deployment cannot grant"},
        **NOT_ENABLED,
        **PROVIDER_DOWN,
    },
)
def callback(
    request: Request,
    oidc: OidcDep,
    settings: SettingsDep,
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    secret = settings.secret_key.get_secret_value()
    login_state = read_login_state(secret, request.cookies.get(LOGIN_COOKIE))
    if state is None or not hmac.compare_digest(state, login_state.state):
        raise SignInRefused(N_("the state returned by the OpenID provider does not match this sign-in"))
    if error is not None or not code:
        raise SignInRefused(_("the OpenID provider refused the sign-in: {error}").format(error=error or "no code"))
    metadata = discover(oidc.issuer)
    id_token = exchange_code(oidc, metadata, code, login_state)
    claims = validate_id_token(id_token, oidc, metadata, login_state.nonce)
    response = signed_in(person_from_claims(claims, oidc), id_token, request, session, settings)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


def signed_in(person: StaffIdentity, id_token: str, request: Request, session: Session, settings: Settings) -> Response:
    """Open a cookie session, as the local sign-in does, for the account linked to the person; answer /staff/me.

    The session keeps the ID token (server-side, never in a cookie) for the provider's logout.
    """
    account = staff.sign_in_linked(
        session=session,
        issuer=person.issuer,
        subject=person.subject,
        user_name=person.username,
        display_name=person.display_name,
        grants=[(grant.role, grant.region) for grant in person.grants],
    )
    opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings, id_token=id_token)
    body = staff_out(staff.resolve(session=session, token=opened.token, settings=settings)).model_dump(mode="json")
    session.commit()
    response = JSONResponse(body)
    set_session_cookie(response, opened, settings, request)
    return response


@router.get(
    "/logout",
    summary="Staff sign-out at the OpenID provider",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To the provider's end-session endpoint"}, **NOT_ENABLED, **PROVIDER_DOWN},
)
def logout(oidc: OidcDep, settings: SettingsDep, session: SessionDep, token: StaffTokenDep = None) -> RedirectResponse:
    """End the staff session of the request, then the person's at the provider (with the session's ID token as hint)."""
    id_token = None
    if token:
        id_token = staff.sign_out_linked(session=session, token=token, settings=settings)
        session.commit()
    url = logout_url(oidc, discover(oidc.issuer), id_token)
    response = RedirectResponse(url or oidc.post_logout_redirect_url or "/", status_code=302)
    delete_session_cookie(response)
    return response
