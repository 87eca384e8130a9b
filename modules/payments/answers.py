"""What the bank answers: pain.002 statuses and camt.054 bookings applied to instructions, returns reversed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ...core.errors import Conflict
from ...core.models import utcnow
from ...core.money import Money
from . import iso20022
from .ledger import Posting, post_many
from .models import (
    BankMessage,
    Chunk,
    ChunkState,
    Instruction,
    InstructionState,
    LedgerAccount,
    Transfer,
)
from .rails import RETRYABLE_REASONS


def refresh_chunks(*, session: Session, chunk_ids: Sequence[int]) -> None:
    """paid while something waits to be (re)sent, sent while the bank owes an answer, else done."""
    for chunk_id in chunk_ids:
        states = dict(
            session.execute(
                select(Instruction.state, func.count())
                .where(Instruction.chunk_id == chunk_id)
                .group_by(Instruction.state)
            ).all()
        )
        chunk = session.get(Chunk, chunk_id)
        if chunk is None or chunk.state == ChunkState.PENDING:
            continue
        if states.get(InstructionState.COMMITTED):
            chunk.state = ChunkState.PAID
        elif states.get(InstructionState.SENT):
            chunk.state = ChunkState.SENT
        else:
            chunk.state = ChunkState.DONE
    session.flush()


# ---------------------------------------------------------------- bank answers


@dataclass
class SentMessage:
    """A pain.001 sent in this transaction and answered in it too, so its rows are this transaction's.

    `rows` (EndToEndId -> state, amount) is what the transaction knows of them: handed over by the sender or
    read once, then kept up to date by the set-based UPDATEs (`_set_states_of_message`). A row changed any
    other way is forgotten: lines about it are decided against the database again.
    """

    chunk_id: int
    msg_id: str
    rows: dict[str, tuple[str, int]] | None = None
    forgotten: set[str] = field(default_factory=set)

    def known_rows(self, session: Session) -> dict[str, tuple[str, int]]:
        if self.rows is None:
            query = select(Instruction.end_to_end_id, Instruction.state, Instruction.amount).where(
                Instruction.chunk_id == self.chunk_id, Instruction.msg_id == self.msg_id
            )
            self.rows = {e2e: (state, amount) for e2e, state, amount in session.execute(query)}
        return self.rows

    def forget(self, end_to_end_ids: Iterable[str]) -> None:
        self.forgotten.update(end_to_end_ids)


@dataclass
class IngestResult:
    kind: str
    msg_id: str
    replayed: bool = False
    accepted: int = 0
    settled: int = 0
    retried: int = 0
    returned: int = 0
    unmatched: int = 0
    unmatched_sum: int = 0


def _lookup(session: Session, e2es: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(e2es), 500):
        part = e2es[start : start + 500]
        query = select(
            Instruction.end_to_end_id,
            Instruction.id,
            Instruction.cycle_id,
            Instruction.chunk_id,
            Instruction.state,
            Instruction.attempts,
            Instruction.amount,
        ).where(Instruction.end_to_end_id.in_(part))
        found.update({row.end_to_end_id: row for row in session.execute(query)})
    return found


def ingest(
    *,
    session: Session,
    message: bytes,
    max_attempts: int,
    cycle_id: int | None = None,
    sent: SentMessage | None = None,
) -> IngestResult:
    """Apply a pain.002 (statuses) or camt.054 (bookings); ingesting the same message twice changes nothing.

    The common case (accepted, booked) is one driver-level executemany UPDATE keyed on EndToEndId; only the
    lines it did not match (rejections, unknown references, wrong amounts) are looked up one by one. `sent`
    says the message answers a pain.001 sent in this very transaction, whose rows this transaction holds:
    lines about them are then applied with set-based UPDATEs (see `_set_states`).
    """
    answer = iso20022.read_answer(message)
    if isinstance(answer, iso20022.StatusReport):
        return _ingest_pain002(session, answer, max_attempts, cycle_id, sent)
    return _ingest_camt054(session, answer, cycle_id, sent)


def _ingest_pain002(
    session: Session,
    report: iso20022.StatusReport,
    max_attempts: int,
    cycle_id: int | None,
    sent: SentMessage | None = None,
) -> IngestResult:
    result = IngestResult(kind="pain.002", msg_id=report.msg_id)
    if _seen(session, result.kind, report.msg_id):
        result.replayed = True
        return result
    now = utcnow()
    accepted = [
        {"e": s.end_to_end_id, "code": s.status} for s in report.transactions if s.status in iso20022.ACCEPTED_STATUSES
    ]
    result.accepted = _set_states(
        session, accepted, InstructionState.ACCEPTED, now, (InstructionState.SENT,), sent=sent
    )
    others = [s for s in report.transactions if s.status not in iso20022.ACCEPTED_STATUSES]
    looked_up = [s.end_to_end_id for s in others]
    if result.accepted < len(accepted):
        looked_up += [a["e"] for a in accepted]
    rows = _lookup(session, looked_up)
    result.unmatched = sum(1 for e in looked_up if e not in rows)
    retried, returned = [], {}
    for status in others:
        row = rows.get(status.end_to_end_id)
        if row is None or row.state != InstructionState.SENT or status.status != "RJCT":
            continue  # unknown, already decided, or a pending status: nothing to do yet
        if status.reason in RETRYABLE_REASONS and row.attempts < max_attempts:
            retried.append({"e": row.end_to_end_id, "code": status.reason or "RJCT"})
        else:
            returned.setdefault(status.reason or "NARR", []).append(row.end_to_end_id)
    result.retried = _set_states(session, retried, InstructionState.COMMITTED, now, (InstructionState.SENT,))
    for code, e2es in returned.items():
        return_payments(session=session, end_to_end_ids=e2es, code=code, reason=f"rejected by the bank ({code})")
        result.returned += len(e2es)
    if sent is not None:  # changed row by row: no longer known to the set-based path
        sent.forget(row["e"] for row in retried)
        sent.forget(e2e for e2es in returned.values() for e2e in e2es)
    cycle_id = cycle_id or _cycle_of(session, report.transactions[0].end_to_end_id if report.transactions else None)
    _record(session, result, cycle_id, len(report.transactions), 0)
    _refresh_waiting(session, cycle_id)
    return result


def _ingest_camt054(
    session: Session, notification: iso20022.Notification, cycle_id: int | None, sent: SentMessage | None = None
) -> IngestResult:
    result = IngestResult(kind="camt.054", msg_id=notification.msg_id)
    if _seen(session, result.kind, notification.msg_id):
        result.replayed = True
        return result
    booked = [b for b in notification.entries if b.booked]
    credits = [{"e": b.end_to_end_id, "code": "BOOK", "amount": b.amount} for b in booked if b.credit]
    result.settled = _set_states(
        session,
        credits,
        InstructionState.SETTLED,
        utcnow(),
        (InstructionState.SENT, InstructionState.ACCEPTED),
        match_amount=True,
        sent=sent,
    )
    looked_up = [b for b in booked if not b.credit]
    if result.settled < len(credits):
        looked_up += [b for b in booked if b.credit]
    rows = _lookup(session, [b.end_to_end_id for b in looked_up])
    bank_returns = []
    for booking in looked_up:
        row = rows.get(booking.end_to_end_id)
        if row is None or row.amount != booking.amount:
            result.unmatched += 1
            result.unmatched_sum += booking.amount
        elif not booking.credit and row.state == InstructionState.SETTLED:
            bank_returns.append(row.end_to_end_id)
    if bank_returns:
        return_payments(session=session, end_to_end_ids=bank_returns, code="RTND", reason="returned by the bank")
        result.returned = len(bank_returns)
        if sent is not None:
            sent.forget(bank_returns)
    first = next((b.end_to_end_id for b in booked if b.end_to_end_id), None)
    cycle_id = cycle_id or _cycle_of(session, first)
    _record(session, result, cycle_id, len(notification.entries), sum(b.amount for b in booked))
    _refresh_waiting(session, cycle_id)
    return result


def _cycle_of(session: Session, end_to_end_id: str | None) -> int | None:
    if not end_to_end_id:
        return None
    return session.scalar(select(Instruction.cycle_id).where(Instruction.end_to_end_id == end_to_end_id))


def _refresh_waiting(session: Session, cycle_id: int | None) -> None:
    """Chunks waiting on an asynchronous bank: back to paid when a retry is due, done when all is decided."""
    if cycle_id is None:
        return
    waiting = session.scalars(select(Chunk.id).where(Chunk.cycle_id == cycle_id, Chunk.state == ChunkState.SENT))
    refresh_chunks(session=session, chunk_ids=list(waiting))


def _seen(session: Session, kind: str, msg_id: str) -> bool:
    query = select(BankMessage.id).where(BankMessage.kind == kind, BankMessage.msg_id == msg_id)
    return session.scalar(query) is not None


def _record(session: Session, result: IngestResult, cycle_id: int | None, count: int, total: int) -> None:
    session.add(
        BankMessage(
            kind=result.kind,
            msg_id=result.msg_id,  # at most 35 characters: iso20022 refuses longer
            cycle_id=cycle_id,
            transactions=count,
            control_sum=total,
            unmatched=result.unmatched,
            unmatched_sum=result.unmatched_sum,
        )
    )
    session.flush()


SET_BASED_MIN = 1000  # lines about one sent message from which a set-based UPDATE beats an executemany
EXCLUDED_MAX = 2000  # rows a set-based UPDATE may leave out by name (NOT IN list)


def _set_states(
    session: Session,
    rows: list[dict[str, Any]],
    state: str,
    now: datetime,
    from_states: tuple[str, ...],
    *,
    match_amount: bool = False,
    sent: SentMessage | None = None,
) -> int:
    """Move instructions (by EndToEndId) from `from_states` to `state`; returns how many moved.

    Each row is `{"e": EndToEndId, "code": status code[, "amount": minor units]}`; a line moves its
    instruction when the instruction is in `from_states` (and has that amount, with `match_amount`), the
    first line about an instruction winning. Lines about the known rows of `sent` (a pain.001 sent in this
    transaction) are decided in Python against what the transaction knows of them and applied with one
    set-based UPDATE; the rest go through one driver-level executemany.
    """
    if not rows:
        return 0
    moved = 0
    if sent is not None and len(rows) >= SET_BASED_MIN:
        moved, rows = _set_states_of_message(session, rows, state, now, from_states, match_amount, sent)
        if not rows:
            return moved
    connection = session.connection()
    table = Instruction.__table__
    stamp = table.c.updated_at.type.bind_processor(connection.dialect)
    fixed = {"s": state, "t": stamp(now) if stamp else now} | {f"f{i}": v for i, v in enumerate(from_states)}
    names: list[str] = []

    def slot(name: str) -> str:
        names.append(name)
        return "?" if connection.dialect.paramstyle == "qmark" else f"%({name})s"

    # Only our own table name and placeholders are formatted in; every value is a bound parameter.
    sql = f"UPDATE {table.name} SET state = {slot('s')}, status_code = {slot('code')}, updated_at = {slot('t')} "  # noqa: S608
    sql += (
        f"WHERE end_to_end_id = {slot('e')} AND state IN ({', '.join(slot(f'f{i}') for i in range(len(from_states)))})"
    )
    if match_amount:
        sql += f" AND amount = {slot('amount')}"
    if connection.dialect.paramstyle == "qmark":
        fixed_values = [fixed.get(name) for name in names]
        per_row = [i for i, name in enumerate(names) if name not in fixed]
        params: list[Any] = []
        for row in rows:
            values = fixed_values.copy()
            for i in per_row:
                values[i] = row[names[i]]
            params.append(tuple(values))
    else:
        params = [row | fixed for row in rows]
    cursor = connection.exec_driver_sql(sql, params)
    if sent is not None:
        sent.forget(row["e"] for row in rows)
    return moved + max(cursor.rowcount, 0)


def _set_states_of_message(
    session: Session,
    rows: list[dict[str, Any]],
    state: str,
    now: datetime,
    from_states: tuple[str, ...],
    match_amount: bool,
    sent: SentMessage,
) -> tuple[int, list[dict[str, Any]]]:
    """The lines about the rows of one sent message, as one set-based UPDATE; returns (moved, other lines)."""
    current, forgotten = sent.known_rows(session), sent.forgotten
    others, targets, codes = [], set(), set()
    for row in rows:
        e2e = row["e"]
        found = current.get(e2e)
        if found is None or e2e in forgotten:
            others.append(row)  # not one of this message's known rows: the generic path decides
        elif e2e not in targets and found[0] in from_states and (not match_amount or found[1] == row["amount"]):
            targets.add(e2e)
            codes.add(row["code"])
    excluded = [
        e2e
        for e2e, (row_state, _amount) in current.items()
        if e2e in forgotten or (row_state in from_states and e2e not in targets)
    ]
    if len(codes) != 1 or len(excluded) > EXCLUDED_MAX:
        return 0, rows  # mixed status codes or a scattered answer: row by row
    query = (
        update(Instruction)
        .where(
            Instruction.chunk_id == sent.chunk_id, Instruction.msg_id == sent.msg_id, Instruction.state.in_(from_states)
        )
        .values(state=state, status_code=codes.pop(), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if excluded:
        query = query.where(Instruction.end_to_end_id.not_in(excluded))
    moved = session.execute(query).rowcount
    if moved != len(targets):  # the rows changed under us: never half-apply an answer
        raise Conflict(f"message {sent.msg_id}: {moved} instructions moved to {state}, {len(targets)} expected; retry")
    for e2e in targets:
        current[e2e] = (str(state), current[e2e][1])
    return moved, others


def return_payments(*, session: Session, end_to_end_ids: Sequence[str], code: str, reason: str) -> None:
    """Give failed payments back to the programme: reverse each one's ledger entries, mark it returned.

    `reason` is stored with each instruction and shown to whoever reads it later, so it stays in English.
    """
    if not end_to_end_ids:
        return
    now = utcnow()
    originals = session.execute(
        select(
            Transfer.client_reference,
            Transfer.payer_account_id,
            Transfer.payee_account_id,
            Transfer.amount,
            Instruction.beneficiary_key,
            LedgerAccount.currency,
        )
        .join(Instruction, Instruction.end_to_end_id == Transfer.client_reference)
        .join(LedgerAccount, LedgerAccount.id == Transfer.payer_account_id)
        .where(Transfer.client_reference.in_(end_to_end_ids))
        .order_by(Transfer.id)
    ).all()
    # The reversal pays the original's payee back to its payer, in the payer account's currency.
    reversals = [
        Posting(f"{reference}-RTN", key, payee, payer, Money(currency, amount), "cycle-return", reason)
        for reference, payer, payee, amount, key, currency in originals
    ]
    post_many(session, reversals)
    session.execute(
        update(Instruction)
        .where(Instruction.end_to_end_id.in_(end_to_end_ids))
        .values(state=InstructionState.RETURNED, status_code=code[:8], reason=reason[:500], updated_at=now)
    )
