"""Cycles end to end: eligibility → instructions in chunks → envelope → ledger per chunk → bank → reconciliation.

Exactly once: a worker claims a chunk (`SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and, in the same transaction, writes
the chunk's ledger transfers and entries with set-based SQL and moves its
instructions on. A worker killed at any point rolls back with its claim, so a
re-run takes the chunk up again; an instruction's EndToEndId is also the unique
reference of its ledger transfer, so no path can pay it twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import DateTime, Engine, event, func, insert, literal, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from ...core.db import is_sqlite
from ...core.errors import Conflict
from ...core.i18n import _
from ...core.models import utcnow
from . import iso20022
from .answers import SentMessage, ingest, refresh_chunks, return_payments
from .config import PaymentsSettings
from .cycles import E2E_PREFIX, cycle_account_code, get_cycle, lock_cycle
from .ledger import post_selected
from .metrics import CHUNK_SECONDS, PAYOUTS
from .models import (
    AccountLink,
    BankMessage,
    Chunk,
    ChunkState,
    Cycle,
    CycleState,
    Instruction,
    InstructionState,
    LedgerAccount,
)
from .rails import PaymentRail

log = structlog.get_logger(__name__)  # cycle and chunk numbers and counts: never a beneficiary


def _now_literal(now: datetime) -> Any:
    return literal(now, DateTime(timezone=True))


# ---------------------------------------------------------------- workers


def immediate_transactions(engine: Engine) -> Engine:
    """On SQLite, open every transaction with BEGIN IMMEDIATE so worker processes queue instead of failing."""
    if is_sqlite(str(engine.url)):

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass
class WorkerReport:
    chunks: int = 0
    steps: list[str] = field(default_factory=list)


def run_worker(
    *,
    session_factory: sessionmaker[Session],
    cycle_id: int,
    currency: str,
    rail: PaymentRail,
    settings: PaymentsSettings,
    worker: str,
    throttle: float = 0.0,
    on_step: Callable[[str], None] | None = None,
) -> WorkerReport:
    """Claim and advance chunks of a cycle until none is left to claim; safe to kill and re-run."""
    report = WorkerReport()
    while True:
        with session_factory() as session, session.begin():
            if session.get_bind().dialect.name == "sqlite":
                # No SKIP LOCKED: take the write lock before choosing, so two workers never claim one chunk.
                lock_cycle(session=session, cycle=get_cycle(session=session, cycle_id=cycle_id))
            chunk = session.scalars(
                select(Chunk)
                .where(Chunk.cycle_id == cycle_id, Chunk.state.in_([ChunkState.PENDING, ChunkState.PAID]))
                .order_by(Chunk.number)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if chunk is None:
                break
            step, number, started, committed = chunk.state, chunk.number, time.perf_counter(), 0
            if chunk.state == ChunkState.PENDING:
                committed = commit_chunk(session=session, chunk=chunk, currency=currency, worker=worker)
            else:
                send_chunk(session=session, chunk=chunk, currency=currency, rail=rail, settings=settings)
                chunk.worker = worker
        _chunk_done(cycle_id, number, str(step), committed, time.perf_counter() - started)
        report.chunks += 1
        report.steps.append(step)
        if on_step:
            on_step(step)
        if throttle:
            time.sleep(throttle)
    with session_factory() as session, session.begin():
        finish_cycle(session=session, cycle_id=cycle_id)
    return report


def _chunk_done(cycle_id: int, number: int, step: str, committed: int, seconds: float) -> None:
    """Counted and logged once the chunk's transaction committed: a rolled-back step is neither."""
    kind = "ledger" if step == ChunkState.PENDING else "bank"
    CHUNK_SECONDS.labels(step=kind).observe(seconds)
    if committed:
        PAYOUTS.labels(cycle=str(cycle_id)).inc(committed)
    log.info(
        "payments.chunk.done",
        cycle_id=cycle_id,
        chunk=number,
        step=kind,
        payouts=committed,
        duration_ms=round(seconds * 1000, 1),
    )


def finish_cycle(*, session: Session, cycle_id: int) -> None:
    open_chunks = session.scalar(
        select(func.count()).where(Chunk.cycle_id == cycle_id, Chunk.state != ChunkState.DONE).select_from(Chunk)
    )
    cycle = session.get(Cycle, cycle_id)
    if cycle is not None and cycle.state == CycleState.DISBURSING and open_chunks == 0:
        cycle.state = CycleState.DISBURSED


def commit_chunk(*, session: Session, chunk: Chunk, currency: str, worker: str) -> int:
    """Ledger transfers and entries for the chunk's pending instructions, set-based; returns how many."""
    now = utcnow()
    cycle_account = session.scalar(
        select(LedgerAccount.id).where(LedgerAccount.code == cycle_account_code(chunk.cycle_id))
    )
    if cycle_account is None:
        raise Conflict(_("cycle {cycle} is not funded: start its disbursement first").format(cycle=chunk.cycle_id))
    pending = (Instruction.chunk_id == chunk.id) & (Instruction.state == InstructionState.PENDING)
    existing = aliased(LedgerAccount)
    session.execute(
        insert(LedgerAccount).from_select(
            ["code", "owner", "allow_negative", "currency", "created_at"],
            select(
                Instruction.beneficiary_key,
                Instruction.beneficiary_key,
                literal(False),
                literal(currency),
                _now_literal(now),
            ).where(pending, ~select(existing.id).where(existing.code == Instruction.beneficiary_key).exists()),
        )
    )
    postings = (
        select(
            Instruction.end_to_end_id.label("reference"),
            Instruction.beneficiary_key.label("beneficiary_key"),
            literal(cycle_account).label("payer"),
            LedgerAccount.id.label("payee"),
            Instruction.amount.label("amount"),
            literal(currency).label("currency"),
        )
        .join(LedgerAccount, LedgerAccount.code == Instruction.beneficiary_key)
        .where(pending)
        .subquery()
    )
    post_selected(session, postings, request_hash="cycle-payment", now=now)
    moved = session.execute(
        update(Instruction).where(pending).values(state=InstructionState.COMMITTED, updated_at=now)
    ).rowcount
    chunk.state, chunk.worker, chunk.updated_at = ChunkState.PAID, worker, now
    return moved


def send_chunk(*, session: Session, chunk: Chunk, currency: str, rail: PaymentRail, settings: PaymentsSettings) -> None:
    """Send the chunk's committed instructions as one validated pain.001; ingest what the bank answers at once."""
    now = utcnow()
    rows = session.execute(
        select(
            Instruction.end_to_end_id,
            Instruction.amount,
            AccountLink.kind,
            AccountLink.number,
            AccountLink.bank_code,
        )
        .outerjoin(AccountLink, AccountLink.beneficiary_key == Instruction.beneficiary_key)
        .where(Instruction.chunk_id == chunk.id, Instruction.state == InstructionState.COMMITTED)
        .order_by(Instruction.id)
    ).all()
    unlinked = [e2e for e2e, _amount, kind, _number, _bank_code in rows if kind is None]
    if unlinked:
        return_payments(session=session, end_to_end_ids=unlinked, code="NOAC", reason="no account linked any more")
    transfers = [
        iso20022.CreditTransfer(e2e, amount, kind, number, bank_code, "Beneficiary")
        for e2e, amount, kind, number, bank_code in rows
        if kind is not None
    ]
    if transfers:
        msg_id = f"{E2E_PREFIX}{chunk.cycle_id}-{chunk.number}-{chunk.rounds}"
        message = iso20022.pain001(
            msg_id=msg_id,
            debtor_name=settings.debtor_name,
            debtor_account=cycle_account_code(chunk.cycle_id),
            currency=currency,
            execution_date=now.date(),
            transfers=transfers,
        )
        iso20022.validate_pain001(message)
        moved = session.execute(
            update(Instruction)
            .where(Instruction.chunk_id == chunk.id, Instruction.state == InstructionState.COMMITTED)
            .values(state=InstructionState.SENT, msg_id=msg_id, attempts=Instruction.attempts + 1, updated_at=now)
        ).rowcount
        sent = SentMessage(chunk.id, msg_id)
        if moved == len(transfers):  # exactly the rows in the message: known without reading them back
            sent.rows = {t.end_to_end_id: (InstructionState.SENT.value, t.amount) for t in transfers}
        session.add(
            BankMessage(
                kind="pain.001",
                msg_id=msg_id,
                cycle_id=chunk.cycle_id,
                transactions=len(transfers),
                control_sum=sum(t.amount for t in transfers),
                unmatched=0,
                unmatched_sum=0,
            )
        )
        session.flush()
        for reply in rail.submit(message):
            ingest(
                session=session,
                message=reply,
                max_attempts=settings.max_attempts,
                cycle_id=chunk.cycle_id,
                sent=sent,
            )
    chunk.rounds += 1
    chunk.updated_at = now
    refresh_chunks(session=session, chunk_ids=[chunk.id])
