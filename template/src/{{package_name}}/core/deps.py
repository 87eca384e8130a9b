"""FastAPI dependencies shared by every router, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from .country import LoadedCountry
from .i18n import current_locale
from .models import Partner
from .registry import Ports, SettingsT
from .security import authenticate, authorise
from .settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Partner API key")


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


SessionDep = Annotated[Session, Depends(get_session)]
CountryDep = Annotated[LoadedCountry, Depends(get_country)]
PortsDep = Annotated[Ports, Depends(get_ports)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LocaleDep = Annotated[str, Depends(get_locale)]


def authenticated_partner(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Partner:
    """Any partner with a valid key, whatever its scopes (the API documents in production)."""
    with request.app.state.session_factory() as session:
        return authenticate(session=session, key=key)


def require_scope(scope: str) -> Callable[..., Partner]:
    """A dependency that authenticates the partner and checks it holds `scope`."""

    def dependency(request: Request, key: Annotated[str | None, Security(api_key_header)] = None) -> Partner:
        with request.app.state.session_factory() as session:
            partner = authenticate(session=session, key=key)
        authorise(partner, scope)
        return partner

    return dependency
