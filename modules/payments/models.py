"""Payments tables: the mapper, a double-entry ledger, programmes, cycles and payment instructions.

A beneficiary is keyed `token:<sector token>` (identified by national ID through
the identity module) or `ext:<external ID>`; the raw national ID is never stored.
Balances are never stored either: they are the sum of an account's entries.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
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


class CycleState(StrEnum):
    BUILT = "built"  # instructions computed from eligibility and entitlement rules; awaiting its approvals
    APPROVED = "approved"  # the envelope (control count and sum) was approved
    DISBURSING = "disbursing"
    DISBURSED = "disbursed"  # every chunk is done: each instruction settled or returned


class ChunkState(StrEnum):
    PENDING = "pending"  # instructions not yet in the ledger
    PAID = "paid"  # ledger entries committed; instructions to send to the bank
    SENT = "sent"  # sent on an asynchronous rail; waiting for its status reports
    DONE = "done"


class InstructionState(StrEnum):
    UNLINKED = "unlinked"  # eligible, but no financial account is linked: not in the envelope
    PENDING = "pending"  # in the envelope, not yet in the ledger
    COMMITTED = "committed"  # ledger entries written; to be sent to the bank (again, on a retry)
    SENT = "sent"  # in a pain.001 the bank has not answered yet
    ACCEPTED = "accepted"  # pain.002 accepted it; waiting for the camt.054 booking
    SETTLED = "settled"  # camt.054 booked it on the beneficiary's account: paid
    RETURNED = "returned"  # failed for good: ledger entries reversed, money back in the programme


class Programme(Base):
    """A G2P programme: eligibility rules and entitlement written as data (OpenG2P's model)."""

    __tablename__ = "payments_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(20))  # registry | enrolled
    eligibility: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    entitlement: Mapped[dict[str, Any]] = mapped_column(JSON)
    income_year: Mapped[int | None] = mapped_column(Integer)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RuleChangeState(StrEnum):
    PENDING = "pending"  # proposed; the programme keeps its rules until enough approvers approved these
    APPROVED = "approved"  # in force: the programme's rules are these
    SUPERSEDED = "superseded"  # a newer proposal for the programme replaced it; its approvals are void


class ProgrammeRuleChange(Base):
    """New rules proposed for a programme, in force once enough people other than the proposer approved them."""

    __tablename__ = "payments_programme_rule_change"
    __table_args__ = (Index("ix_payments_programme_rule_change_programme_id_state", "programme_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("payments_programme.id"))
    state: Mapped[str] = mapped_column(String(20))
    eligibility: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    entitlement: Mapped[dict[str, Any]] = mapped_column(JSON)
    income_year: Mapped[int | None] = mapped_column(Integer)
    proposed_by: Mapped[str] = mapped_column(String(200))  # the proposer's person (core.callers.Caller.person)
    proposed_by_actor: Mapped[str] = mapped_column(String(200))
    proposed_by_role: Mapped[str | None] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Enrolment(Base):
    """A beneficiary enrolled in a programme by list (CSV or API), with the attributes its rules read."""

    __tablename__ = "payments_enrolment"
    __table_args__ = (UniqueConstraint("programme_id", "beneficiary_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("payments_programme.id"))
    beneficiary_key: Mapped[str] = mapped_column(String(80))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Cycle(Base):
    """One payment round of a programme, with its disbursement envelope (control count and sum)."""

    __tablename__ = "payments_cycle"
    __table_args__ = (UniqueConstraint("programme_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("payments_programme.id"))
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    instruction_count: Mapped[int] = mapped_column(Integer)
    instruction_sum: Mapped[int] = mapped_column(BigInteger)
    unlinked_count: Mapped[int] = mapped_column(Integer)
    control_count: Mapped[int | None] = mapped_column(Integer)
    control_sum: Mapped[int | None] = mapped_column(BigInteger)
    funding_account: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Four-eyes: the maker (who may not approve) and the version of the instructions the approvers
    # approved (disbursing anything else is refused). None on cycles built before they were recorded.
    made_by: Mapped[str | None] = mapped_column(String(200))  # the maker's person (core.callers.Caller.person)
    made_by_actor: Mapped[str | None] = mapped_column(String(200))
    approved_fingerprint: Mapped[str | None] = mapped_column(String(64))


class WrongControlTotals(Base):
    """How many times one person entered wrong control totals for a cycle: past a limit they may not approve it.

    The approver re-enters the totals blind; without a limit, answers "do not match" would let them
    be guessed (PAYMENTS_MAX_WRONG_CONTROL_TOTALS, docs/four-eyes.md).
    """

    __tablename__ = "payments_wrong_control_totals"
    __table_args__ = (UniqueConstraint("cycle_id", "person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("payments_cycle.id"))
    person: Mapped[str] = mapped_column(String(200))  # core.approvals.Signatory.person
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Chunk(Base):
    """A slice of a cycle's instructions, claimed by one worker and committed atomically."""

    __tablename__ = "payments_chunk"
    __table_args__ = (
        UniqueConstraint("cycle_id", "number"),
        Index("ix_payments_chunk_cycle_id_state", "cycle_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("payments_cycle.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Instruction(Base):
    """One payment of a cycle to one beneficiary; its EndToEndId is also its ledger transfer's reference."""

    __tablename__ = "payments_instruction"
    __table_args__ = (UniqueConstraint("cycle_id", "beneficiary_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("payments_cycle.id"))
    # Indexed alone: every step rewrites a chunk's states, and a state in the index would move with each write
    # (on PostgreSQL the table's pages are also left half empty for those rewrites: migration payments_0003).
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("payments_chunk.id"), index=True)
    beneficiary_key: Mapped[str] = mapped_column(String(80), index=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(500))
    msg_id: Mapped[str | None] = mapped_column(String(35))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BankMessage(Base):
    """An ISO 20022 message sent (pain.001) or ingested (pain.002, camt.054); ingesting twice is a no-op."""

    __tablename__ = "payments_bank_message"
    __table_args__ = (UniqueConstraint("kind", "msg_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    msg_id: Mapped[str] = mapped_column(String(35))
    cycle_id: Mapped[int | None] = mapped_column(Integer, index=True)
    transactions: Mapped[int] = mapped_column(Integer)
    control_sum: Mapped[int] = mapped_column(BigInteger)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    unmatched_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoppedBeneficiary(Base):
    """A beneficiary no cycle pays any more: the population register reported their death (life_events.py)."""

    __tablename__ = "payments_stopped_beneficiary"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_key: Mapped[str] = mapped_column(String(80), unique=True)
    reason: Mapped[str] = mapped_column(String(20))
    effective: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(420))
    stopped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class G2pSender(Base):
    """A partner system speaking G2P Connect to the mapper: its sender_id, keys and callback address.

    It authenticates as the core partner `partner_id` (its API key, or the key as the OAuth2 client
    secret); `signing_method` says how its messages are signed and how ours to it are (g2p_signing.py).
    """

    __tablename__ = "payments_g2p_sender"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(99), unique=True)
    partner_id: Mapped[int] = mapped_column(Integer, unique=True)
    signing_method: Mapped[str] = mapped_column(String(20))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # its public keys, or fetched from jwks_url
    jwks_url: Mapped[str | None] = mapped_column(String(2000))
    callback_uri: Mapped[str | None] = mapped_column(String(2000))
    resolve_details: Mapped[bool] = mapped_column(Boolean, default=False)  # may ask resolve scope `details`
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class G2pMessageState(StrEnum):
    PENDING = "pending"  # async: acknowledged; its operation or its callback is still to be done
    DONE = "done"  # answered (sync) or its callback delivered (async)
    FAILED = "failed"  # async: every callback attempt failed; txn/status still answers it


class G2pMessage(Base):
    """One G2P Connect request by its sender's message_id (idempotent): what was asked and what we answered.

    `request` holds the header and the items as prepared: a national ID is already its sector token
    (`key`), so no raw ID is stored; `request_hash` is keyed (HMAC) for the same reason.
    """

    __tablename__ = "payments_g2p_message"
    __table_args__ = (
        UniqueConstraint("sender_id", "message_id"),
        Index("ix_payments_g2p_message_sender_id_transaction_id", "sender_id", "transaction_id"),
        Index("ix_payments_g2p_message_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(99))
    message_id: Mapped[str] = mapped_column(String(99))
    action: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(5))  # sync | async
    request_hash: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(99))
    correlation_id: Mapped[str] = mapped_column(String(32), unique=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the answer's header and message, unsigned
    state: Mapped[str] = mapped_column(String(12))
    callback_uri: Mapped[str | None] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class G2pItem(Base):
    """A request item's reference_id, so txn/status finds it by `reference_id_list`."""

    __tablename__ = "payments_g2p_item"
    __table_args__ = (Index("ix_payments_g2p_item_sender_id_reference_id", "sender_id", "reference_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("payments_g2p_message.id"), index=True)
    sender_id: Mapped[str] = mapped_column(String(99))
    reference_id: Mapped[str] = mapped_column(String(99))
