"""The registry: the core and every installed module under `modules/` declare themselves alike.

Each part (the core, then every module in name order) is one `Module`: routes, migrations,
catalogs, settings, scopes, staff roles, CLI, ports and background jobs. The app, the CLI, the
worker, migrations and translations loop over `installed_parts()` and never name a module, so
adding or removing a module folder needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
import yaml
from fastapi import APIRouter
from pydantic import BaseModel
from pydantic_settings import BaseSettings
from sqlalchemy.orm import Session

from .country import LoadedCountry
from .jobs import Job

if TYPE_CHECKING:
    from .runtime import Runtime

PortT = TypeVar("PortT")
SettingsT = TypeVar("SettingsT", bound=BaseSettings)

MANIFEST_FILE = "module.yml"
CORE = "core"


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    version: str
    summary: str
    integrates_with: tuple[str, ...] = ()

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        raw = yaml.safe_load((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        raw["integrates_with"] = tuple(raw.get("integrates_with") or ())
        return cls(**raw)


SeedFunction = Callable[..., list[str]]


@dataclass(frozen=True)
class Finding:
    """What a module says of its configuration in this deployment; `failing` makes `check` exit 1."""

    message: str
    failing: bool = False


ConfigurationCheck = Callable[[LoadedCountry], list[Finding]]
RestoreCheck = Callable[[Session], list[str]]
# A port provider is built once per runtime, on first use, from that runtime (its settings,
# engine, country profile and the other ports), so it never rebuilds any of them.
PortFactory = Callable[["Runtime"], Any]
# A scrape-time metrics collector (a prometheus-client Collector) built per app from its runtime (core/metrics.py).
MetricsFactory = Callable[["Runtime"], Any]


@dataclass(frozen=True)
class Catalogs:
    """A part's gettext catalogs: `<folder>/<lang>/LC_MESSAGES/<domain>.po`."""

    folder: Path
    domain: str = "messages"

    def path(self, language: str) -> Path:
        return self.folder / language / "LC_MESSAGES" / f"{self.domain}.po"

    @property
    def template(self) -> Path:
        """The message template (.pot) translators start from."""
        return self.folder / f"{self.domain}.pot"


@dataclass(frozen=True)
class Role:
    """What a staff member may do when granted it: `permissions` are scopes some installed part declares.

    A `regional` role is granted for one region at a time (a grant may still say everywhere);
    routes on records that have a region check it with `Caller.may_act_in`.
    """

    name: str  # `<part>.<role>`, e.g. `payments.approver`
    title: str
    permissions: tuple[str, ...]
    regional: bool = False


@dataclass(frozen=True)
class Link:
    """A page a part offers in the portal's or the console's menu.

    `title` is marked with `N_()` and translated when shown; a console link with a `scope` is shown
    only to a staff member whose roles grant it (the page itself still checks, on the server).
    """

    path: str
    title: str
    scope: str | None = None


@dataclass(frozen=True)
class Pages:
    """A part's web pages (core/web): server-rendered HTML from its own Jinja2 templates.

    `resident` is mounted at `/me/<part>` and `console` at `/console/<part>` (the core's at `/me`
    and `/console`); templates are found as `<part>/<name>.html` (the core's without a prefix).
    `resident_sign_in` is the path of the page where a resident signs in, when the part offers one.
    """

    templates: Path
    resident: APIRouter | None = None
    console: APIRouter | None = None
    resident_links: tuple[Link, ...] = ()
    console_links: tuple[Link, ...] = ()
    resident_sign_in: str | None = None


@dataclass(frozen=True)
class Module:
    """What a part contributes: built in a module's `__init__.py` as `module`, and by the core in core/part.py."""

    manifest: Manifest
    router: APIRouter
    migrations: Path
    scopes: tuple[str, ...]
    cli: typer.Typer | None = None
    # The staff roles the part declares (core/staff.py grants them; core/authorisation.py reads them).
    roles: tuple[Role, ...] = ()
    # The scopes among `scopes` that move money: a partner key holding one works only once approved
    # by enough people other than its requester (four-eyes, core/security.py).
    money_scopes: tuple[str, ...] = ()
    # Read from the environment once per runtime; routes get them through a dependency (core/deps.py).
    settings: type[BaseSettings] | None = None
    catalogs: Catalogs | None = None
    country_schema: type[BaseModel] | None = None
    provides: Mapping[type, PortFactory] = field(default_factory=dict)
    seed: SeedFunction | None = None
    # Shown by `check` and /meta, so a gap in the country's data (a missing law) is never silent.
    configuration_check: ConfigurationCheck | None = None
    # JSON Schema keywords for the module's `deployment_value` markers (core/schemas.py) in this deployment.
    openapi_values: Callable[[LoadedCountry], dict[str, dict[str, Any]]] | None = None
    # The part's resident-portal and console pages (core/web/shell.py mounts them).
    pages: Pages | None = None
    # Collectors computed when /metrics is scraped (a queue's depth); counters live in the part's own code.
    metrics: tuple[MetricsFactory, ...] = ()
    # Background work the worker runs (core/jobs.py): periodic upkeep, and work the API hands over.
    jobs: tuple[Job, ...] = ()
    # What must hold in the part's tables before a restored backup may serve (core/backup.py): each
    # broken invariant as one (translated) line, none when it holds. Run on the scratch copy, read only.
    restore_check: RestoreCheck | None = None
    # Routes at paths a published standard fixes (MOSIP IDA's /idauthentication/v1/...), mounted at the
    # root instead of under the part's prefix.
    root_router: APIRouter | None = None

    def findings(self, country: LoadedCountry) -> list[Finding]:
        return self.configuration_check(country) if self.configuration_check else []

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def folder(self) -> Path:
        """The part's own folder (its migrations live in it)."""
        return self.migrations.parent

    @property
    def route_prefix(self) -> str:
        """Where its routes are mounted; the core's are at the root (/health, /meta)."""
        return "" if self.name == CORE else f"/{self.name}"

    def page_prefix(self, area: str) -> str:
        """Where its pages of `area` ("me" or "console") are mounted."""
        return f"/{area}" if self.name == CORE else f"/{area}/{self.name}"


@dataclass(frozen=True)
class SeedContext:
    session: Session
    runtime: Runtime

    @property
    def country(self) -> LoadedCountry:
        return self.runtime.country

    @property
    def ports(self) -> Ports:
        return self.runtime.ports


def installed_parts() -> tuple[Module, ...]:
    """The core, then every installed module."""
    from .part import core  # the core's routes need the registry: imported when first asked

    return (core, *installed_modules())


def installed_roles() -> dict[str, Role]:
    """Every installed part's roles by name."""
    return {role.name: role for part in installed_parts() for role in part.roles}


@cache
def installed_modules() -> tuple[Module, ...]:
    from .. import modules as modules_package

    found = []
    for info in sorted(pkgutil.iter_modules(modules_package.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        package = importlib.import_module(f"{modules_package.__name__}.{info.name}")
        module = getattr(package, "module", None)
        if not isinstance(module, Module):
            raise TypeError(f"modules/{info.name}/__init__.py must define `module = Module(...)`")
        if module.name != info.name:
            raise TypeError(f"modules/{info.name}: manifest name {module.name!r} differs from its folder name")
        found.append(module)
    return tuple(found)


def money_scopes() -> frozenset[str]:
    """Every installed module's scopes that move money."""
    return frozenset(scope for module in installed_modules() for scope in module.money_scopes)


class PortCycle(RuntimeError):
    """Two providers that each need the other to be built: a wiring mistake, refused on first use."""


class Ports:
    """Look up a port (a Protocol from core.ports) provided by an installed module.

    Each provider is built on first use from the runtime, so a provider may ask the runtime's
    ports for another one (as long as no two providers need each other).
    """

    def __init__(self, modules: tuple[Module, ...], runtime: Runtime) -> None:
        self._factories = {port: factory for module in modules for port, factory in module.provides.items()}
        # Every module's provider of each port, for ports many may provide (LifeEvents listeners).
        self._every: dict[type, list[tuple[str, PortFactory]]] = {}
        for module in modules:
            for port, factory in module.provides.items():
                self._every.setdefault(port, []).append((module.name, factory))
        self._runtime = runtime
        self._built: dict[Any, Any] = {}
        self._building: set[Any] = set()
        # Requests are served from a thread pool: one provider per port, built by one thread;
        # re-entrant because a provider being built may ask for another port.
        self._lock = threading.RLock()

    def provides(self, port: type) -> bool:
        return port in self._factories

    def get(self, port: type[PortT]) -> PortT | None:
        factory = self._factories.get(port)
        if factory is None:
            return None
        return self._build(port, port, factory)

    def every(self, port: type[PortT]) -> list[PortT]:
        """Each installed module's provider of `port`, in module order (none: an empty list)."""
        return [self._build(port, (port, name), factory) for name, factory in self._every.get(port, [])]

    def _build(self, port: type, key: Any, factory: PortFactory) -> Any:
        with self._lock:
            if key not in self._built:
                if key in self._building:
                    raise PortCycle(f"the provider of {port.__name__} needs itself, through another port")
                self._building.add(key)
                try:
                    self._built[key] = factory(self._runtime)
                finally:
                    self._building.discard(key)
            return self._built[key]
