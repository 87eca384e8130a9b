"""Ports: the small Protocols through which modules use each other.

A module that is present provides its ports (see `Module.provides`); a module
that needs one asks `Ports.get(...)` and falls back to its stand-alone
behaviour, or refuses with a clear error, when nobody provides it.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session


class SectorTokens(Protocol):
    """Turns a national ID into a per-sector token, so other modules never store the raw ID."""

    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        """The sector token of a registered, active person; raises a Problem otherwise."""
        ...
