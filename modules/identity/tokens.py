"""Sector tokens: a keyed hash of the national ID per sector (the SectorTokens port).

Payments and tax hold the token, never the ID: a leak of their tables does not
reveal ID numbers, and tokens of two sectors cannot be joined without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from ...core.runtime import Runtime
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
