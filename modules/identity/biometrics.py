"""Biometric deduplication behind a small protocol, as MOSIP talks to an ABIS.

The default adapter keeps a gallery of template hashes in `identity_biometric`
and matches when the hash is equal: enough for demos and tests. A real ABIS
adapter (1:N matching on minutiae or faces) implements the same two methods and
is selected with `IDENTITY_BIOMETRIC_ADAPTER=package.module:Class`.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import BiometricRecord


class BiometricAdapter(Protocol):
    def insert(self, *, session: Session, national_id: str, template_ref: str) -> None:
        """Add the holder's template to the gallery."""
        ...

    def identify(self, *, session: Session, template_ref: str) -> list[str]:
        """National IDs whose template matches (1:N)."""
        ...


class LocalHashAdapter:
    """Matches on the SHA-256 of the template reference."""

    def insert(self, *, session: Session, national_id: str, template_ref: str) -> None:
        session.add(BiometricRecord(template_hash=template_hash(template_ref), national_id=national_id))

    def identify(self, *, session: Session, template_ref: str) -> list[str]:
        query = select(BiometricRecord.national_id).where(BiometricRecord.template_hash == template_hash(template_ref))
        return sorted(set(session.scalars(query)))


def template_hash(template_ref: str) -> str:
    return hashlib.sha256(template_ref.encode()).hexdigest()


def load_adapter(name: str) -> BiometricAdapter:
    if name == "local":
        return LocalHashAdapter()
    module_name, _, class_name = name.partition(":")
    if not class_name:
        raise ValueError(f"IDENTITY_BIOMETRIC_ADAPTER={name!r}: expected 'local' or 'package.module:Class'")
    return getattr(importlib.import_module(module_name), class_name)()
