"""Who registers for tax, as the services take it: a domain value, whoever the caller is (the API,
the seed, a CLI command, another module or a web page), never an HTTP request body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ...core.errors import Unprocessable
from ...core.i18n import _

PartyKind = Literal["individual", "business"]


@dataclass(frozen=True)
class NewTaxpayer:
    """A party to register: a business by its registration number (`external_id`); an individual
    by exactly one of their national ID (where identity is installed) or their external ID."""

    kind: PartyKind
    name: str
    national_id: str | None = None
    external_id: str | None = None
    # Keyed by the profile's address levels; tax keeps only its first level, the taxpayer's region.
    address: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = identifier_problem(self.kind, national_id=self.national_id, external_id=self.external_id)
        if problem is not None:
            raise Unprocessable(problem)


def identifier_problem(kind: PartyKind, *, national_id: str | None, external_id: str | None) -> str | None:
    """What is wrong with how a party identifies itself, prefixed with the field at fault; None if nothing."""
    if kind == "business":
        if national_id is not None:
            return "national_id: " + _("a business registers with external_id (its registration number)")
        if external_id is None:
            return "external_id: " + _("a business needs its registration number")
    elif (national_id is None) == (external_id is None):
        return _("an individual registers with exactly one of national_id or external_id")
    return None
