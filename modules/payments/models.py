"""Payments tables: the mapper (beneficiary → financial account) and a double-entry ledger.

A beneficiary is keyed `token:<sector token>` (identified by national ID through
the identity module) or `ext:<external ID>`; the raw national ID is never stored.
Balances are never stored either: they are the sum of an account's entries.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ...core.db import Base
from ...core.models import utcnow

SYSTEM_OWNER = "system"


class AccountKind(StrEnum):
    IBAN = "iban"
    BANK_ACCOUNT = "bank_account"
    MOBILE_MONEY = "mobile_money"


class TransferState(StrEnum):
    RECEIVED = "received"
    RESERVED = "reserved"
    COMMITTED = "committed"
    REJECTED = "rejected"


class AccountLink(Base):
    """The financial account a beneficiary is paid into now (one per beneficiary)."""

    __tablename__ = "payments_account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40))
    bank_code: Mapped[str | None] = mapped_column(String(11))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountLinkHistory(Base):
    """A financial account a beneficiary was paid into before being re-linked."""

    __tablename__ = "payments_account_link_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_key: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(40))
    bank_code: Mapped[str | None] = mapped_column(String(11))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LedgerAccount(Base):
    """A ledger account: the funding account (owner `system`) or one per beneficiary."""

    __tablename__ = "payments_ledger_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    owner: Mapped[str] = mapped_column(String(80), index=True)
    allow_negative: Mapped[bool] = mapped_column(Boolean)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Transfer(Base):
    """One payment instruction, unique by the client's reference; `state` is where it ended."""

    __tablename__ = "payments_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_reference: Mapped[str] = mapped_column(String(64), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=TransferState.RECEIVED)
    beneficiary_key: Mapped[str] = mapped_column(String(80), index=True)
    payer_account_id: Mapped[int] = mapped_column(ForeignKey("payments_ledger_account.id"))
    payee_account_id: Mapped[int] = mapped_column(ForeignKey("payments_ledger_account.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Entry(Base):
    """One leg of a committed transfer: a signed amount in minor units (debits negative)."""

    __tablename__ = "payments_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("payments_transfer.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("payments_ledger_account.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
