"""The calls on records that have a region, as each installed module declares them for the authorisation matrix.

A module lists them in its own `tests/regions.py` as `CALLS`, a tuple of `RegionCall`; the matrix
(tests/test_authorisation.py) finds the tables of the installed modules, so the core names none.
Each call's `prepare` makes a record in the region it is given (through the API with a partner key
holding every scope, or through the module's services) and answers the request that acts on it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ..core.country import LoadedCountry
from ..core.registry import installed_modules

MODULES = __package__.rsplit(".", 1)[0] + ".modules"


@dataclass(frozen=True)
class RegionSetup:
    """What a call's set-up may use; `serial` differs for every record the matrix asks for."""

    client: TestClient
    session: Session
    country: LoadedCountry
    partner: dict[str, str]  # headers of a partner key holding every installed scope
    region: str
    serial: int

    @property
    def address(self) -> dict[str, str]:
        """An address in the set-up's region (the profile's first address level)."""
        return {self.country.profile.address_levels[0]: self.region}


@dataclass(frozen=True)
class RegionRequest:
    method: str
    path: str
    json: Any = None


@dataclass(frozen=True)
class RegionCall:
    """A route acting on a record with a region, made by `role` (a regional role) on a record `prepare` makes."""

    name: str  # shown when the matrix fails, e.g. "GET /things/{id}"
    role: str
    prepare: Callable[[RegionSetup], RegionRequest]


def installed_region_calls() -> Iterator[RegionCall]:
    """The calls every installed module declares in its `tests/regions.py`."""
    for module in installed_modules():
        if (module.folder / "tests" / "regions.py").is_file():
            yield from importlib.import_module(f"{MODULES}.{module.name}.tests.regions").CALLS
