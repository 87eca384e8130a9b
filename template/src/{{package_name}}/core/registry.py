"""The module registry: every installed module under `modules/` registers itself.

The core loops over what is installed and never imports a module by name, so
adding or removing a module folder needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.orm import Session

from .country import LoadedCountry
from .settings import Settings

PortT = TypeVar("PortT")

MANIFEST_FILE = "module.yml"


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


@dataclass(frozen=True)
class Module:
    """What a module contributes; built in the module's `__init__.py` as `module`."""

    manifest: Manifest
    router: APIRouter
    migrations: Path
    scopes: tuple[str, ...]
    cli: typer.Typer | None = None
    country_schema: type[BaseModel] | None = None
    provides: Mapping[type, Callable[[Settings], Any]] = field(default_factory=dict)
    seed: SeedFunction | None = None
    # Shown by `check` and /meta, so a gap in the country's data (a missing law) is never silent.
    configuration_check: ConfigurationCheck | None = None
    # JSON Schema keywords for the module's `deployment_value` markers (core/schemas.py) in this deployment.
    openapi_values: Callable[[LoadedCountry], dict[str, dict[str, Any]]] | None = None

    def findings(self, country: LoadedCountry) -> list[Finding]:
        return self.configuration_check(country) if self.configuration_check else []

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def folder(self) -> Path:
        """The module's own folder (its migrations live in it)."""
        return self.migrations.parent


@dataclass(frozen=True)
class SeedContext:
    session: Session
    country: LoadedCountry
    ports: Ports


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


class Ports:
    """Look up a port (a Protocol from core.ports) provided by an installed module."""

    def __init__(self, modules: tuple[Module, ...], settings: Settings) -> None:
        self._providers = {port: factory(settings) for module in modules for port, factory in module.provides.items()}

    def get(self, port: type[PortT]) -> PortT | None:
        return self._providers.get(port)
