"""Cycles end to end: eligibility → instructions in chunks → envelope → ledger per chunk → bank → reconciliation.

Exactly once: a worker claims a chunk (`SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite) and, in the same transaction, writes
the chunk's ledger transfers and entries with set-based SQL and moves its
instructions on. A worker killed at any point rolls back with its claim, so a
re-run takes the chunk up again; an instruction's EndToEndId is also the unique
reference of its ledger transfer, so no path can pay it twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Text, cast, event, func, insert, literal, select, union_all, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from ...core import audit
from ...core.bulk import driver_value, insert_rows
from ...core.country import LoadedCountry
from ...core.db import is_sqlite
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from ...core.ports import AssessedIncome, ResidentRegistry, SectorTokens
from ...core.registry import Ports
from . import iso20022
from .config import PaymentsSettings
from .models import (
    SYSTEM_OWNER,
    AccountLink,
    BankMessage,
    Chunk,
    ChunkState,
    Cycle,
    CycleState,
    Enrolment,
    Entry,
    Instruction,
    InstructionState,
    LedgerAccount,
    Programme,
    Transfer,
    TransferState,
)
from .programmes import INCOME, Entitlement, Rule, amount_function, attributes_used, resident_attributes
from .rails import RETRYABLE_REASONS, PaymentRail
from .schemas import MAX_AMOUNT
from .service import SECTOR, ensure_funding_account, ledger_account

E2E_PREFIX = "G2P-"  # API transfers may not use it (schemas.TransferRequest)
BATCH = 1000
_IN_FLIGHT = (InstructionState.PENDING, InstructionState.COMMITTED, InstructionState.SENT, InstructionState.ACCEPTED)


def cycle_account_code(cycle_id: int) -> str:
    return f"CYCLE-{cycle_id}"


def _now_literal(now: datetime) -> Any:
    return literal(now, DateTime(timezone=True))


# ---------------------------------------------------------------- build


def _candidates(
    *, session: Session, ports: Ports, programme: Programme, as_of: date, country: LoadedCountry
) -> Iterator[tuple[list[tuple[str, dict[str, Any]]], set[str] | None]]:
    """Batches of (beneficiary key, attributes), from the enrolled list or the population register.

    Each batch comes with the keys among it that have a linked account, or None when they are to be looked up.
    """
    rules = [Rule.model_validate(r) for r in programme.eligibility]
    used = attributes_used(rules, Entitlement.model_validate(programme.entitlement))
    if programme.source == "enrolled":
        # One pass over the list, the linked account joined in; attributes decoded here, not per ORM row.
        query = (
            select(Enrolment.beneficiary_key, cast(Enrolment.attributes, Text), AccountLink.id.is_not(None))
            .outerjoin(AccountLink, AccountLink.beneficiary_key == Enrolment.beneficiary_key)
            .where(Enrolment.programme_id == programme.id)
            .order_by(Enrolment.id)
        )
        result = session.execute(query.execution_options(yield_per=BATCH))
        for part in result.partitions(BATCH):
            yield [(key, json.loads(raw)) for key, raw, _linked in part], {key for key, _raw, linked in part if linked}
        return
    registry, tokens = ports.get(ResidentRegistry), ports.get(SectorTokens)
    if registry is None or tokens is None:
        raise Unprocessable(
            _(
                "programme {code}: source 'registry' needs the identity module, which this deployment "
                "does not have; use source 'enrolled'"
            ).format(code=programme.code),
            kind="identity-unavailable",
        )
    incomes = ports.get(AssessedIncome) if INCOME in used else None
    if INCOME in used and incomes is None:
        raise Unprocessable(
            _("programme {code}: rules read assessed_income, which needs the tax module").format(code=programme.code),
            kind="tax-unavailable",
        )
    residents = []
    for resident in registry.iter_residents(session=session, batch_size=BATCH):
        residents.append(resident)
        if len(residents) >= BATCH:
            yield _resident_batch(session, tokens, incomes, programme, residents, as_of, country), None
            residents = []
    if residents:
        yield _resident_batch(session, tokens, incomes, programme, residents, as_of, country), None


def _resident_batch(session, tokens, incomes, programme, residents, as_of, country) -> list[tuple[str, dict]]:
    levels = list(country.profile.address_levels or [])
    found = [resident_attributes(r, as_of=as_of, address_levels=levels) for r in residents]
    if incomes is not None:
        assessed = incomes.incomes_for(
            session=session, national_ids=[r.national_id for r in residents], year=programme.income_year
        )
        for resident, attributes in zip(residents, found, strict=True):
            money = assessed.get(resident.national_id)
            if money is not None and money.currency == programme.currency:
                attributes[INCOME] = money.amount
    return [
        (f"token:{tokens.token_for(session=session, national_id=r.national_id, sector=SECTOR)}", attributes)
        for r, attributes in zip(residents, found, strict=True)
    ]


INSTRUCTION_COLUMNS = ("cycle_id", "chunk_id", "beneficiary_key", "end_to_end_id", "amount", "state", "attempts")


def build_cycle(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    programme: Programme,
    name: str,
    as_of: date,
    funding_account: str,
    chunk_size: int,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> Cycle:
    """Apply the programme's rules to every candidate and write the cycle's instructions, in one transaction."""
    rules = [Rule.model_validate(r) for r in programme.eligibility]
    entitlement = Entitlement.model_validate(programme.entitlement)
    cycle = Cycle(
        programme_id=programme.id,
        name=name,
        state=CycleState.BUILT,
        as_of=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
        instruction_count=0,
        instruction_sum=0,
        unlinked_count=0,
        funding_account=funding_account,
    )
    session.add(cycle)
    session.flush()
    amount_of = amount_function(rules, entitlement)
    chunk_id, in_chunk, number, seq = None, chunk_size, -1, 0
    count = total = unlinked_count = 0
    connection = session.connection()
    prefix = f"{E2E_PREFIX}{cycle.id}-"
    pending, unlinked = InstructionState.PENDING.value, InstructionState.UNLINKED.value
    candidates = _candidates(session=session, ports=ports, programme=programme, as_of=as_of, country=country)
    for batch, linked in candidates:
        if linked is None:
            keys = [key for key, _attributes in batch]
            linked = set(
                session.scalars(select(AccountLink.beneficiary_key).where(AccountLink.beneficiary_key.in_(keys)))
            )
        rows = []
        for key, attributes in batch:
            amount = amount_of(attributes)
            if amount <= 0:
                continue
            seq += 1
            if key not in linked:
                rows.append((cycle.id, None, key, f"{prefix}{seq}", amount, unlinked, 0))
                unlinked_count += 1
                continue
            if in_chunk >= chunk_size:
                number += 1
                chunk = Chunk(cycle_id=cycle.id, number=number, state=ChunkState.PENDING, rounds=0)
                session.add(chunk)
                session.flush()
                chunk_id, in_chunk = chunk.id, 0
            in_chunk += 1
            rows.append((cycle.id, chunk_id, key, f"{prefix}{seq}", amount, pending, 0))
            count += 1
            total += amount
            if total > MAX_AMOUNT:  # before anything reaches the database: a BIGINT would overflow further on
                raise Unprocessable(
                    _(
                        "cycle {name}: the payments' total is too large: more than {limit} minor units, the most "
                        "one cycle may pay; split the beneficiaries over several programmes or cycles"
                    ).format(name=name, limit=MAX_AMOUNT),
                    kind="amount-too-large",
                )
        # Plain tuples through the driver's bulk path (COPY on PostgreSQL): no per-row ORM or SQL work.
        insert_rows(connection, Instruction.__table__, INSTRUCTION_COLUMNS, rows)
        if progress:
            progress(len(batch))
    cycle.instruction_count, cycle.instruction_sum, cycle.unlinked_count = count, total, unlinked_count
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="payments.cycle.built",
        subject=f"programme:{programme.code}",
        detail={"cycle": cycle.id, "name": name, "count": cycle.instruction_count, "sum": total},
    )
    return cycle


def get_cycle(*, session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound("cycle_id: " + _("no cycle {cycle}").format(cycle=cycle_id))
    return cycle


# ---------------------------------------------------------------- envelope


def instruction_totals(*, session: Session, cycle_id: int) -> tuple[int, int]:
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Instruction.amount), 0)).where(
            Instruction.cycle_id == cycle_id, Instruction.state != InstructionState.UNLINKED
        )
    ).one()
    return int(count), int(total)


def approve_cycle(*, session: Session, cycle: Cycle, control_count: int, control_sum: int, actor: str) -> bool:
    """Approve the envelope: the approver's control totals must equal the instructions'. False on a replay."""
    if cycle.state != CycleState.BUILT:
        if (cycle.control_count, cycle.control_sum) == (control_count, control_sum):
            return False
        raise Conflict(
            _("cycle {cycle} is {state} with control totals {count} / {sum}").format(
                cycle=cycle.id, state=cycle.state, count=cycle.control_count, sum=cycle.control_sum
            ),
            state=cycle.state,
        )
    count, total = instruction_totals(session=session, cycle_id=cycle.id)
    if (count, total) != (control_count, control_sum):
        raise Problem(
            _(
                "control totals do not match the instructions: envelope says {control_count} payments summing "
                "{control_sum}, the cycle holds {count} summing {sum}"
            ).format(control_count=control_count, control_sum=control_sum, count=count, sum=total),
            kind="envelope-mismatch",
            status=409,
            instruction_count=count,
            instruction_sum=total,
        )
    cycle.control_count, cycle.control_sum = control_count, control_sum
    cycle.state, cycle.approved_by, cycle.approved_at = CycleState.APPROVED, actor, utcnow()
    audit.record(
        session=session,
        actor=actor,
        action="payments.cycle.approved",
        subject=f"cycle:{cycle.id}",
        detail={"count": control_count, "sum": control_sum},
    )
    return True


def start_disbursement(*, session: Session, cycle: Cycle, currency: str, actor: str) -> None:
    """Check the envelope again, block its funds in the cycle's own account, mark the cycle disbursing.

    Idempotent, and safe to run concurrently (two `disburse` commands, six API calls at once): the cycle's
    row is locked first, so concurrent starts queue; each then reads the cycle again and only the first
    funds it (the funding transfer's reference is fixed per cycle).
    """
    lock_cycle(session=session, cycle=cycle)
    if cycle.state == CycleState.BUILT:
        raise Conflict(
            _("cycle {cycle} is not approved: approve its envelope (control totals) first").format(cycle=cycle.id)
        )
    count, total = instruction_totals(session=session, cycle_id=cycle.id)
    if (count, total) != (cycle.control_count, cycle.control_sum):
        raise Problem(
            _(
                "refusing to disburse cycle {cycle}: the envelope approved {control_count} payments summing "
                "{control_sum}, but the instructions are {count} summing {sum}"
            ).format(
                cycle=cycle.id,
                control_count=cycle.control_count,
                control_sum=cycle.control_sum,
                count=count,
                sum=total,
            ),
            kind="envelope-mismatch",
            status=409,
        )
    reference = f"{E2E_PREFIX}{cycle.id}-FUND"
    if session.scalar(select(Transfer.id).where(Transfer.client_reference == reference)) is None:
        payer = ensure_funding_account(session=session, code=cycle.funding_account, currency=currency)
        payee = _cycle_account(session, cycle.id, currency)
        record = Transfer(
            client_reference=reference,
            request_hash="cycle-funding",
            state=TransferState.COMMITTED,
            beneficiary_key=f"cycle:{cycle.id}",
            payer_account_id=payer.id,
            payee_account_id=payee.id,
            amount=total,
            currency=currency,
            completed_at=utcnow(),
        )
        session.add(record)
        session.flush()
        session.add_all(
            [
                Entry(transfer_id=record.id, account_id=payer.id, amount=-total),
                Entry(transfer_id=record.id, account_id=payee.id, amount=total),
            ]
        )
        audit.record(
            session=session,
            actor=actor,
            action="payments.cycle.funded",
            subject=f"cycle:{cycle.id}",
            detail={"from": payer.code, "amount": total, "currency": currency},
        )
    if cycle.state == CycleState.APPROVED:
        cycle.state = CycleState.DISBURSING
    session.flush()


def _cycle_account(session: Session, cycle_id: int, currency: str) -> LedgerAccount:
    return ledger_account(
        session=session, code=cycle_account_code(cycle_id), owner=SYSTEM_OWNER, allow_negative=False, currency=currency
    )


def lock_cycle(*, session: Session, cycle: Cycle) -> None:
    """Hold the cycle's row until the transaction ends, then read it again (another start may have moved it).

    PostgreSQL: a row lock (`SELECT … FOR UPDATE`). SQLite ignores FOR UPDATE and its driver only begins the
    transaction at the first write, so a no-op UPDATE takes the database's write lock instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Cycle)
            .where(Cycle.id == cycle.id)
            .values(state=Cycle.state)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(Cycle.id).where(Cycle.id == cycle.id).with_for_update())
    session.refresh(cycle)


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
            step = chunk.state
            if chunk.state == ChunkState.PENDING:
                commit_chunk(session=session, chunk=chunk, currency=currency, worker=worker)
            else:
                send_chunk(session=session, chunk=chunk, currency=currency, rail=rail, settings=settings)
                chunk.worker = worker
        report.chunks += 1
        report.steps.append(step)
        if on_step:
            on_step(step)
        if throttle:
            time.sleep(throttle)
    with session_factory() as session, session.begin():
        finish_cycle(session=session, cycle_id=cycle_id)
    return report


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
    session.execute(
        insert(Transfer).from_select(
            [
                "client_reference",
                "request_hash",
                "state",
                "beneficiary_key",
                "payer_account_id",
                "payee_account_id",
                "amount",
                "currency",
                "received_at",
                "completed_at",
            ],
            select(
                Instruction.end_to_end_id,
                literal("cycle-payment"),
                literal(TransferState.COMMITTED.value),
                Instruction.beneficiary_key,
                literal(cycle_account),
                LedgerAccount.id,
                Instruction.amount,
                literal(currency),
                _now_literal(now),
                _now_literal(now),
            )
            .join(LedgerAccount, LedgerAccount.code == Instruction.beneficiary_key)
            .where(pending),
        )
    )
    legs = select(Transfer.id, Transfer.payer_account_id, Transfer.payee_account_id, Transfer.amount).join(
        Instruction, Instruction.end_to_end_id == Transfer.client_reference
    )
    legs = legs.where(pending).subquery()
    session.execute(
        insert(Entry).from_select(
            ["transfer_id", "account_id", "amount"],
            union_all(
                select(legs.c.id, legs.c.payer_account_id, -legs.c.amount),
                select(legs.c.id, legs.c.payee_account_id, legs.c.amount),
            ),
        )
    )
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


REVERSAL_COLUMNS = (
    "client_reference",
    "request_hash",
    "state",
    "beneficiary_key",
    "payer_account_id",
    "payee_account_id",
    "amount",
    "currency",
    "reason",
    "received_at",
    "completed_at",
)


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
    if originals:
        connection = session.connection()
        stamp = driver_value(connection, Transfer.__table__.c.completed_at, now)
        # The reversal pays the original's payee back to its payer, in the payer account's currency.
        reversals = [
            (
                f"{reference}-RTN",
                "cycle-return",
                TransferState.COMMITTED.value,
                key,
                payee,
                payer,
                amount,
                currency,
                reason,
                stamp,
                stamp,
            )
            for reference, payer, payee, amount, key, currency in originals
        ]
        insert_rows(connection, Transfer.__table__, REVERSAL_COLUMNS, reversals)
        ids = dict(
            session.execute(
                select(Transfer.client_reference, Transfer.id).where(
                    Transfer.client_reference.in_([reversal[0] for reversal in reversals])
                )
            ).all()
        )
        entries = []
        for reference, payer, payee, amount, _key, _currency in originals:
            reversal = ids[f"{reference}-RTN"]
            entries += [(reversal, payee, -amount), (reversal, payer, amount)]
        insert_rows(connection, Entry.__table__, ("transfer_id", "account_id", "amount"), entries)
    session.execute(
        update(Instruction)
        .where(Instruction.end_to_end_id.in_(end_to_end_ids))
        .values(state=InstructionState.RETURNED, status_code=code[:8], reason=reason[:500], updated_at=now)
    )


# ---------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class Tally:
    count: int = 0
    sum: int = 0


@dataclass(frozen=True)
class Reconciliation:
    cycle_id: int
    programme: str
    cycle: str
    state: str
    currency: str
    envelope: Tally
    instructions: Tally
    paid: Tally
    failed: Tally
    pending: Tally
    unlinked: Tally
    unmatched: Tally
    returned_to_programme: int  # what the cycle's ledger account holds
    not_yet_in_ledger: int  # instructions still pending: their funds wait in the cycle account too
    funded: bool
    messages: dict[str, int]

    @property
    def matches_control_totals(self) -> bool:
        accounted = Tally(
            self.paid.count + self.failed.count + self.pending.count, self.paid.sum + self.failed.sum + self.pending.sum
        )
        held = self.not_yet_in_ledger + self.failed.sum if self.funded else 0
        return self.instructions == self.envelope == accounted and self.returned_to_programme == held


def reconcile(*, session: Session, cycle_id: int) -> Reconciliation:
    cycle = get_cycle(session=session, cycle_id=cycle_id)
    programme = session.get(Programme, cycle.programme_id)
    by_state = {
        state: Tally(int(count), int(total or 0))
        for state, count, total in session.execute(
            select(Instruction.state, func.count(), func.sum(Instruction.amount))
            .where(Instruction.cycle_id == cycle_id)
            .group_by(Instruction.state)
        )
    }

    def tally(*states: str) -> Tally:
        parts = [by_state.get(s, Tally()) for s in states]
        return Tally(sum(p.count for p in parts), sum(p.sum for p in parts))

    unmatched = session.execute(
        select(
            func.coalesce(func.sum(BankMessage.unmatched), 0), func.coalesce(func.sum(BankMessage.unmatched_sum), 0)
        ).where(BankMessage.cycle_id == cycle_id)
    ).one()
    messages = dict(
        session.execute(
            select(BankMessage.kind, func.count()).where(BankMessage.cycle_id == cycle_id).group_by(BankMessage.kind)
        ).all()
    )
    account = session.scalar(select(LedgerAccount.id).where(LedgerAccount.code == cycle_account_code(cycle_id)))
    held = 0
    if account is not None:
        held = int(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account)))
    return Reconciliation(
        cycle_id=cycle.id,
        programme=programme.code,
        cycle=cycle.name,
        state=cycle.state,
        currency=programme.currency,
        envelope=Tally(cycle.control_count or 0, cycle.control_sum or 0),
        instructions=tally(*_IN_FLIGHT, InstructionState.SETTLED, InstructionState.RETURNED),
        paid=tally(InstructionState.SETTLED),
        failed=tally(InstructionState.RETURNED),
        pending=tally(*_IN_FLIGHT),
        unlinked=tally(InstructionState.UNLINKED),
        unmatched=Tally(int(unmatched[0]), int(unmatched[1])),
        returned_to_programme=held,
        not_yet_in_ledger=tally(InstructionState.PENDING).sum,
        funded=account is not None,
        messages={str(k): int(v) for k, v in messages.items()},
    )
