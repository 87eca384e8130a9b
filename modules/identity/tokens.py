"""Sector tokens: a keyed hash of the national ID per sector (the SectorTokens port).

Payments and tax hold the token, never the ID: a leak of their tables does not
reveal ID numbers, and tokens of two sectors cannot be joined without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from ...core import audit
from ...core.runtime import Runtime
from . import vids
from .residents import active_person


def sector_token(*, secret: str, national_id: str, sector: str) -> str:
    return hmac.new(secret.encode(), f"{sector}:{national_id}".encode(), hashlib.sha256).hexdigest()


class RegistrySectorTokens:
    """Provides core.ports.SectorTokens from this registry."""

    def __init__(self, runtime: Runtime) -> None:
        self._secret = runtime.settings.secret_key.get_secret_value()

    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        active_person(session=session, national_id=national_id)
        return sector_token(secret=self._secret, national_id=national_id, sector=sector)

    def token_for_vid(self, *, session: Session, vid: str, sector: str, actor: str) -> str:
        row = vids.usable_vid(session=session, vid=vid)
        active_person(session=session, national_id=row.national_id)
        # Counted and audited as an authentication by VID is (auth.py): the resident sees who used it.
        if row.uses_left is not None:
            row.uses_left -= 1
        audit.record(
            session=session,
            actor=actor,
            action="identity.vid.used",
            subject=f"person:{row.national_id}",
            detail={"kind": row.kind, "sector": sector, "result": "success"},
        )
        return sector_token(secret=self._secret, national_id=row.national_id, sector=sector)
