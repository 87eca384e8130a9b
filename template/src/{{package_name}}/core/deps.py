"""FastAPI dependencies shared by every router, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from . import authorisation
from .callers import Caller
from .country import LoadedCountry
from .i18n import current_locale
from .models import Partner
from .registry import Ports, SettingsT, installed_roles
from .security import authenticate
from .settings import Settings

STAFF_COOKIE = "staff_session"

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Partner API key")
staff_bearer = HTTPBearer(auto_error=False, description="Staff session token (POST /staff/sessions, kind bearer)")
staff_cookie = APIKeyCookie(name=STAFF_COOKIE, auto_error=False, description="Staff session cookie")


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


def get_country(request: Request) -> LoadedCountry:
    return request.app.state.country


def get_ports(request: Request) -> Ports:
    return request.app.state.ports


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def settings_dependency(settings_class: type[SettingsT]) -> Callable[[Request], SettingsT]:
    """A dependency giving an installed part's settings, read once with the app's runtime.

    A module binds it once in its config.py; a test replaces it with `app.dependency_overrides`.
    """

    def part_settings(request: Request) -> SettingsT:
        return request.app.state.runtime.settings_of(settings_class)

    part_settings.__name__ = f"{settings_class.__name__}_dependency"
    return part_settings


def get_locale() -> str:
    """The request's locale, negotiated from Accept-Language by the locale middleware (core/i18n.py)."""
    return current_locale()


async def raw_body(request: Request) -> bytes:
    """The request's exact bytes, which a detached signature covers (FastAPI keeps them after parsing)."""
    return await request.body()


SessionDep = Annotated[Session, Depends(get_session)]
CountryDep = Annotated[LoadedCountry, Depends(get_country)]
PortsDep = Annotated[Ports, Depends(get_ports)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LocaleDep = Annotated[str, Depends(get_locale)]
RawBody = Annotated[bytes, Depends(raw_body)]


def authenticated_partner(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Partner:
    """Any partner with a valid key, whatever its scopes (the API documents in production)."""
    with request.app.state.session_factory() as session:
        return authenticate(session=session, key=key)


def staff_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(staff_bearer)] = None,
    cookie: Annotated[str | None, Security(staff_cookie)] = None,
) -> str | None:
    """The staff session token of the request: the bearer token, else the session cookie."""
    return bearer.credentials if bearer is not None else cookie


StaffTokenDep = Annotated[str | None, Depends(staff_token)]
ApiKeyDep = Annotated[str | None, Security(api_key_header)]


def require_scope(scope: str) -> Callable[..., Caller]:
    """A dependency giving the caller (a partner or a staff member) allowed `scope` (core/authorisation.py).

    It carries `scope` and `partners_only`, so the authorisation matrix test reads what each route needs.
    """

    def dependency(request: Request, key: ApiKeyDep = None, token: StaffTokenDep = None) -> Caller:
        with request.app.state.session_factory.begin() as session:  # a staff session's last use is recorded
            return authorisation.decide(
                session=session,
                settings=request.app.state.settings,
                roles=installed_roles(),
                scope=scope,
                key=key,
                token=token,
            )

    dependency.scope = scope  # type: ignore[attr-defined]
    dependency.partners_only = False  # type: ignore[attr-defined]
    return dependency


def require_partner(scope: str) -> Callable[..., Partner]:
    """For routes that act through a partner's own policy: a partner holding `scope`, never a staff member."""

    def dependency(request: Request, key: ApiKeyDep = None, token: StaffTokenDep = None) -> Partner:
        with request.app.state.session_factory() as session:
            return authorisation.partner_only(
                session=session, settings=request.app.state.settings, scope=scope, key=key, token=token
            )

    dependency.scope = scope  # type: ignore[attr-defined]
    dependency.partners_only = True  # type: ignore[attr-defined]
    return dependency
