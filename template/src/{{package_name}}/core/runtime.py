"""Everything a running deployment needs, built once from settings: used by the app, the CLI and port providers."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from pydantic_settings import BaseSettings
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .country import LoadedCountry, load_country
from .db import make_engine, make_session_factory
from .registry import Module, Ports, SettingsT, installed_modules, installed_parts
from .settings import Settings, get_settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    modules: tuple[Module, ...]
    country: LoadedCountry
    engine: Engine
    session_factory: sessionmaker[Session]
    # Each part's own settings class, read once: {IdentitySettings: IdentitySettings(...), ...}
    part_settings: Mapping[type[BaseSettings], BaseSettings]

    @cached_property
    def ports(self) -> Ports:
        """The installed modules' ports, each built on first use from this runtime."""
        return Ports(self.modules, self)

    def settings_of(self, settings_class: type[SettingsT]) -> SettingsT:
        """An installed part's settings, as read when the runtime was built."""
        return self.part_settings[settings_class]  # type: ignore[return-value]


def load_profile(settings: Settings, modules: tuple[Module, ...]) -> LoadedCountry:
    """The country profile with each installed module's section checked by that module's schema."""
    schemas = {m.name: m.country_schema for m in modules if m.country_schema is not None}
    return load_country(settings.country_profile, schemas)


def read_part_settings(settings: Settings) -> dict[type[BaseSettings], BaseSettings]:
    """Every installed part's settings, read from the environment; raises on the first invalid one."""
    read: dict[type[BaseSettings], BaseSettings] = {Settings: settings}
    for part in installed_parts():
        if part.settings is not None and part.settings not in read:
            read[part.settings] = part.settings()
    return read


def build_runtime(settings: Settings | None = None) -> Runtime:
    """Validate settings and the country profile, then connect; raises on the first invalid input."""
    settings = settings or get_settings()
    warning = settings.secret_warning()
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    audit.configure(settings.secret_key.get_secret_value())
    modules = installed_modules()
    part_settings = read_part_settings(settings)
    country = load_profile(settings, modules)
    engine = make_engine(settings.database_url, echo=settings.database_echo)
    return Runtime(
        settings=settings,
        modules=modules,
        country=country,
        engine=engine,
        session_factory=make_session_factory(engine),
        part_settings=part_settings,
    )
