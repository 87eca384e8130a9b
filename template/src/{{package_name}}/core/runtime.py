"""Everything a running deployment needs, built once from settings: used by the app and the CLI."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .country import LoadedCountry, load_country
from .db import make_engine, make_session_factory
from .registry import Module, Ports, installed_modules
from .settings import Settings, get_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    modules: tuple[Module, ...]
    country: LoadedCountry
    engine: Engine
    session_factory: sessionmaker[Session]
    ports: Ports


def load_profile(settings: Settings, modules: tuple[Module, ...]) -> LoadedCountry:
    """The country profile with each installed module's section checked by that module's schema."""
    schemas = {m.name: m.country_schema for m in modules if m.country_schema is not None}
    return load_country(settings.country_profile, schemas)


def build_runtime(settings: Settings | None = None) -> Runtime:
    """Validate settings and the country profile, then connect; raises on the first invalid input."""
    settings = settings or get_settings()
    warning = settings.secret_warning()
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    audit.configure(settings.secret_key.get_secret_value())
    modules = installed_modules()
    country = load_profile(settings, modules)
    engine = make_engine(settings.database_url, echo=settings.database_echo)
    return Runtime(
        settings=settings,
        modules=modules,
        country=country,
        engine=engine,
        session_factory=make_session_factory(engine),
        ports=Ports(modules, settings),
    )
