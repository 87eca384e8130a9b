"""Tax tables: the taxpayer register, returns, and the assessments made from them.

No foreign key leaves the module: a taxpayer is linked to a person by a sector
token (`token:<hex>`) or an external reference (`external:<id>`), never by a row
of another module.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...core.db import Base
from ...core.models import utcnow


class TaxpayerKind(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class TaxpayerStatus(StrEnum):
    ACTIVE = "active"
    DEREGISTERED = "deregistered"
    DECEASED = "deceased"


class ReturnKind(StrEnum):
    INCOME = "income"
    VAT = "vat"


class AssessmentState(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


class EntryKind(StrEnum):
    ASSESSED = "assessed"  # tax of an assessment (VAT: the net, negative for a credit)
    PENALTY = "penalty"  # late-filing penalty of an assessment
    SUPERSEDED = "superseded"  # reverses the tax and penalty of a superseded assessment
    INTEREST = "interest"  # interest charged on unpaid tax
    PAID = "paid"  # a payment received (negative)
    REFUNDED = "refunded"  # a refund paid out (positive: it uses up a credit)


class ObjectionState(StrEnum):
    LODGED = "lodged"
    UNDER_REVIEW = "under_review"
    ALLOWED = "allowed"
    PARTIALLY_ALLOWED = "partially_allowed"
    DISALLOWED = "disallowed"


class Taxpayer(Base):
    __tablename__ = "tax_taxpayer"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(100))  # token:<sector token> or external:<id>
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=TaxpayerStatus.ACTIVE)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first level of the address given at registration (core/authorisation.py `region_of`); a
    # taxpayer without one (registered without an address, or before regions) is reached nationally only.
    region: Mapped[str | None] = mapped_column(String(200))


class TaxReturn(Base):
    """One version of a return: version 1 is the original, each amendment adds the next."""

    __tablename__ = "tax_return"
    __table_args__ = (
        UniqueConstraint("tin", "kind", "period", "version"),
        Index("ix_tax_return_kind_period", "kind", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(20))
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), default=ReturnKind.INCOME)
    period: Mapped[str] = mapped_column(String(10))  # "2024" (fiscal year), "2024-03", "2024-Q1"
    version: Mapped[int] = mapped_column(Integer, default=1)
    income: Mapped[int] = mapped_column(BigInteger)  # minor units; for VAT the total of the sales lines
    lines: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # VAT: {"sales": [...], "purchases": [...]}
    currency: Mapped[str] = mapped_column(String(3))
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    filed_on: Mapped[date | None] = mapped_column(Date)  # the original filing date, kept by amendments
    filed_by: Mapped[str | None] = mapped_column(String(100))


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
    kind: Mapped[str] = mapped_column(String(10), default=ReturnKind.INCOME)
    period: Mapped[str | None] = mapped_column(String(10))
    penalty: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units, late filing
    due_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=AssessmentState.CURRENT)
    superseded_by: Mapped[int | None] = mapped_column(Integer)


class AccountEntry(Base):
    """A line of a taxpayer's running account: positive adds to what they owe, negative is a credit."""

    __tablename__ = "tax_account_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    tin: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units, signed
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    assessment_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(20))  # payments | receipt
    state: Mapped[str] = mapped_column(String(20), default="committed")  # committed | pending | rejected
    booked_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Objection(Base):
    __tablename__ = "tax_objection"
    # The objections queue reads one or two states in id order (queues.py).
    __table_args__ = (Index("ix_tax_objection_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("tax_assessment.id"), index=True)
    tin: Mapped[str] = mapped_column(String(20), index=True)
    state: Mapped[str] = mapped_column(String(20), default=ObjectionState.LODGED)
    grounds: Mapped[str] = mapped_column(String(2000))
    claimed_income: Mapped[int | None] = mapped_column(BigInteger)
    decided_income: Mapped[int | None] = mapped_column(BigInteger)
    decision_note: Mapped[str | None] = mapped_column(String(2000))
    lodged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    new_assessment_id: Mapped[int | None] = mapped_column(Integer)
    # Who lodged it (`Caller.person`: the taxpayer's agent or partner): four-eyes refuses them as a
    # decider. None: lodged before makers were recorded.
    lodged_by: Mapped[str | None] = mapped_column(String(200), default=None)
