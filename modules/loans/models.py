"""Loans tables: products, applications, loans with their schedules, the loan book and daily accruals.

No foreign key leaves the module: a borrower is `token:<sector token>` (by national ID, through the
identity port) or `external:<id>`; money moves through the payments module's ledger (the
`Disbursements` port) or the module's own rail. The loan book here is not a second money ledger: it
records what each borrower owes, in balanced lines per event (`Line`), and every cash line matches
a payment made or collected through the ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...core.db import Base
from ...core.models import utcnow


class ApplicationState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # above the four-eyes amount: a second officer decides
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"


class LoanState(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class Product(Base):
    __tablename__ = "loans_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    made_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Application(Base):
    __tablename__ = "loans_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    product_code: Mapped[str] = mapped_column(String(40))
    borrower: Mapped[str] = mapped_column(String(100), index=True)  # token:<hex> or external:<id>
    # Where the loan is paid and collected: a payments mandate, or `account:<number>` on the module's own rail.
    payee: Mapped[str] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(200))
    principal: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit: Mapped[int | None] = mapped_column(BigInteger)
    consent: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(30), index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    made_by: Mapped[str] = mapped_column(String(200))  # the submitter, as four-eyes counts people
    decided_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Loan(Base):
    __tablename__ = "loans_loan"
    __table_args__ = (Index("ix_loans_loan_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("loans_application.id"), unique=True)
    product_code: Mapped[str] = mapped_column(String(40))
    borrower: Mapped[str] = mapped_column(String(100), index=True)
    payee: Mapped[str] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    principal: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)  # the product's terms when it was disbursed
    disbursed_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20), default=LoanState.ACTIVE)
    schedule_version: Mapped[int] = mapped_column(Integer, default=1)  # a restructuring adds the next
    closed_on: Mapped[date | None] = mapped_column(Date)
    # Where the current schedule version starts: its first instalment's period runs from here to its due
    # date (the disbursement, or the restructuring that made the version).
    schedule_from: Mapped[date] = mapped_column(Date)
    # Of that first instalment's interest, what was earned before the restructuring that made the version
    # (accrued under the previous one already): not earned a second time. 0 for the first version.
    carried_interest: Mapped[int] = mapped_column(BigInteger, default=0)
    # Interest earned day by day is not kept here but in loans_accrual (accrual.accrued_interest: the sum
    # of the loan's rows), and what the daily job reads and moves is kept in the narrow loans_position:
    # the job leaves this wide row (the terms, the names) alone.
    position: Mapped[Position | None] = relationship(back_populates="loan", cascade="all, delete-orphan")


class Position(Base):
    """Where an active loan stands, as the daily accrual reads and moves it: one narrow row per active loan.

    Made at disbursement and kept by every change that settles instalments or makes a schedule version
    (`service.note_position`, its one writer besides the accrual); removed when the loan closes or is
    written off, so the accrual's scan is the active portfolio and nothing else. `schedule_version`,
    `schedule_from` and `carried_interest` are the loan's own, copied so the accrual never reads the
    wide loan row; `disbursed_on` never changes.
    """

    __tablename__ = "loans_position"
    # SQLite: rows in key order, no rowid: a chunk of ids is one range of one b-tree, a few rows a page.
    __table_args__ = ({"sqlite_with_rowid": False},)

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans_loan.id"), primary_key=True)
    loan: Mapped[Loan] = relationship(back_populates="position")
    disbursed_on: Mapped[date] = mapped_column(Date)
    schedule_version: Mapped[int] = mapped_column(Integer)
    schedule_from: Mapped[date] = mapped_column(Date)
    carried_interest: Mapped[int] = mapped_column(BigInteger)
    # The due date of the current schedule's oldest instalment not settled (how late the loan is on any
    # day: ageing.py), and the latest day one of its instalments was settled: with them the accrual ages
    # a loan without reading its instalments.
    unpaid_from: Mapped[date | None] = mapped_column(Date)
    last_settled_on: Mapped[date | None] = mapped_column(Date)
    # The period of the current schedule the daily accrual last found a day in: instalment `period_number`
    # earns `period_interest` (less what a restructuring carried) over (period_start, period_due]. The
    # accrual reads it instead of the instalments while a day falls inside it, and moves it on when a day
    # falls after it; a new schedule version clears it. Nothing else reads it.
    period_number: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_due: Mapped[date | None] = mapped_column(Date)
    period_interest: Mapped[int | None] = mapped_column(BigInteger)


class Instalment(Base):
    """One instalment of one version of a loan's schedule, and what has been paid of it."""

    __tablename__ = "loans_instalment"
    # SQLite: the rows stored in their key's order (no rowid and no second index): the accrual's and
    # servicing's reads by (loan, version, number) are one seek. PostgreSQL ignores it.
    __table_args__ = ({"sqlite_with_rowid": False},)

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans_loan.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_on: Mapped[date] = mapped_column(Date)
    principal: Mapped[int] = mapped_column(BigInteger)
    interest: Mapped[int] = mapped_column(BigInteger)
    fees: Mapped[int] = mapped_column(BigInteger)
    penalties: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_principal: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_interest: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fees: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_penalties: Mapped[int] = mapped_column(BigInteger, default=0)
    # Principal, interest and fees no longer owed on this instalment (a restructuring, early repayment or write-off).
    waived: Mapped[int] = mapped_column(BigInteger, default=0)
    settled_on: Mapped[date | None] = mapped_column(Date)
    penalised_on: Mapped[date | None] = mapped_column(Date)  # the late penalty, charged once


class Event(Base):
    """Something that changed what a borrower owes: disbursed, repaid, penalised, restructured, written off."""

    __tablename__ = "loans_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans_loan.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(160), unique=True)  # idempotency: the same event is booked once
    amount: Mapped[int] = mapped_column(BigInteger)
    booked_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))  # payments, rail, bank_credit, book
    transfer_state: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Line(Base):
    """One line of the loan book: an event's lines sum to zero (debit positive, credit negative)."""

    __tablename__ = "loans_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("loans_event.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans_loan.id"), index=True)
    account: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)


class Accrual(Base):
    """A loan's interest earned on one day: at most one row per loan and day, so a re-run never accrues twice."""

    __tablename__ = "loans_accrual"
    __table_args__ = ({"sqlite_with_rowid": False},)  # SQLite: one b-tree by (loan, day), as loans_instalment

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans_loan.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    interest: Mapped[int] = mapped_column(BigInteger)
    days_past_due: Mapped[int] = mapped_column(Integer)


class BankCredit(Base):
    """An incoming credit read from a bank's camt.054, matched to a loan by its reference or left unmatched."""

    __tablename__ = "loans_bank_credit"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_reference: Mapped[str] = mapped_column(String(120), unique=True)
    loan_reference: Mapped[str | None] = mapped_column(String(140))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))  # matched | unmatched
    reason: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
