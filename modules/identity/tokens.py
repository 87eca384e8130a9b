"""Sector tokens: a keyed hash of the national ID per sector (the SectorTokens port).

Payments and tax hold the token, never the ID: a leak of their tables does not
reveal ID numbers, and tokens of two sectors cannot be joined without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.errors import Conflict, NotFound
from ...core.i18n import _
from ...core.runtime import Runtime
from .idnumbers import InvalidNationalId
from .models import Person, PersonStatus


def sector_token(*, secret: str, national_id: str, sector: str) -> str:
    return hmac.new(secret.encode(), f"{sector}:{national_id}".encode(), hashlib.sha256).hexdigest()


class RegistrySectorTokens:
    """Provides core.ports.SectorTokens from this registry."""

    def __init__(self, runtime: Runtime) -> None:
        self._secret = runtime.settings.secret_key.get_secret_value()

    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        if not (national_id.isascii() and national_id.isdigit() and len(national_id) <= 20):
            raise InvalidNationalId(
                "national_id: " + _("'{national_id}' must be at most 20 digits").format(national_id=national_id)
            )
        status = session.scalar(select(Person.status).where(Person.national_id == national_id))
        if status is None:
            raise NotFound("national_id: " + _("no person holds '{national_id}'").format(national_id=national_id))
        if status != PersonStatus.ACTIVE:
            raise Conflict(
                "national_id: "
                + _("'{national_id}' is {status}, not active").format(national_id=national_id, status=status)
            )
        return sector_token(secret=self._secret, national_id=national_id, sector=sector)
