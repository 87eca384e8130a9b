"""Tax tables: the taxpayer register, returns, and the assessments made from them.

No foreign key leaves the module: a taxpayer is linked to a person by a sector
token (`token:<hex>`) or an external reference (`external:<id>`), never by a row
of another module.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...core.db import Base
from ...core.models import utcnow


class TaxpayerKind(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class Taxpayer(Base):
    __tablename__ = "tax_taxpayer"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(100))  # token:<sector token> or external:<id>
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaxReturn(Base):
    __tablename__ = "tax_return"
    __table_args__ = (UniqueConstraint("tin", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    income: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Assessment(Base):
    __tablename__ = "tax_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("tax_return.id"), unique=True)
    tin: Mapped[str] = mapped_column(String(20), index=True)
    year: Mapped[int] = mapped_column(Integer)
    taxable: Mapped[int] = mapped_column(BigInteger)  # minor units, after allowance and base rounding
    tax_due: Mapped[int] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str] = mapped_column(String(3))
    trace: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
