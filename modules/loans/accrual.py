"""Daily accrual and ageing of the whole portfolio: chunked, crash-safe, several workers at once.

What a day D does to every loan that is active and was disbursed on or before D (exactly once):

- **Interest earned.** Each instalment's interest is earned evenly over its period, from the
  previous instalment's due date (the first: where the schedule version starts) to its own due
  date, in whole minor units and cumulatively: through day t a period of n days has earned
  `interest * elapsed // n` (elapsed = t − start, between 0 and n), and day t earns that minus
  what was earned through t − 1. So the days of a period sum exactly to the instalment's interest
  and nothing is lost to rounding. The schedule is the loan's current version
  (`schedule_version`); its first instalment starts at `schedule_from` (the
  disbursement, or the restructuring that made the version), and of that instalment's interest the
  part a restructuring carried over (`carried_interest`: earned already) is not earned again. A loan
  disbursed on D earns nothing on D; a day after the last due date earns nothing (a loan still
  active then is in arrears, not earning more interest). D's amount is one row of
  `loans_accrual` (key loan, day); what a loan has earned so far is the sum of its rows
  (`accrued_interest`). The book already holds the whole schedule's interest as receivable and
  income from disbursement: accrual measures how much of it is earned, it books nothing.
- **The loan's position.** The job reads and writes the narrow `loans_position` (one row per active
  loan; models.Position), never the wide loan row. Most loans are done without reading their
  instalments: the position keeps `unpaid_from` (due date of the current schedule's oldest unsettled instalment) and
  `last_settled_on` (the latest settlement), kept true by every change that settles an instalment
  or makes a version (`service.note_position`), and the period the accrual last found a day in
  (`period_number`, `period_start`, `period_due`, `period_interest`: that instalment's interest less
  what a restructuring carried). When period_start < D <= period_due and nothing was settled after
  D, the rules below give: D's interest from the period alone, and days past due from
  `unpaid_from` (no settlement after D: unsettled on D is unsettled now, and due dates rise with
  the instalment numbers). Any other loan walks its instalments as below, and the period it found
  is kept in the position when it is later than the one kept (`MOVE_PERIODS`).
- **Ageing.** An instalment is past due on D when its due date is before D and it was not
  settled on or before D (`settled_on` null or after D). `days_past_due` = D − the oldest past-due
  instalment's due date (0 when none), its PAR bucket `current` (0), `1-30`, `31-60`, `61-90`,
  `90+` (ageing.py). The day's figure is kept in its accrual row (the history, and what finds the
  late loans for penalties); no loan or position is written for it: a loan's ageing now is read
  from its position's `unpaid_from` (ageing.py, servicing.ageing_of).
- **Late penalty.** An instalment of the current version still unpaid (`settled_on` null) more
  than `terms.penalty.after_days` days past its due date (D − due > after_days) and not yet
  penalised is charged once: `rate` × its unpaid principal, interest and fees, rounded with the
  country's loans rounding, plus `flat`. The instalment owes it (`penalties`,
  `penalised_on` = D) and the book gets a `penalty` event (reference
  `<loan>:penalty:<version>:<number>`, unique) with `receivable:penalties` +X and
  `income:penalties` −X. A penalty that comes to 0 is not charged.

How: the portfolio is cut by loan id into fixed ranges (`LOANS_ACCRUAL_CHUNK` ids each, chunk k
holding ids k·size … (k+1)·size − 1). A chunk is claimed and done in one transaction — SQLite:
`BEGIN IMMEDIATE` (the write lock, taken before anything is read); PostgreSQL: a transaction-scoped
advisory lock keyed by (day, chunk), tried without waiting (`pg_try_advisory_xact_lock`), so
workers pass over each other's chunks, then waited for on a second pass. Inside, set-based SQL:
one `INSERT … SELECT` computes every loan's amount and days past due into a temporary table (the
loans of the range not yet accrued for D: the claim plus this check make a chunk done once), then
`INSERT … SELECT` into `loans_accrual` and `UPDATE … FROM` of the positions whose period moved. Penalties read only the
late instalments of the chunk (few), compute each amount with the country's rounding, and book
events, lines and instalments with `INSERT … SELECT` / `UPDATE … FROM` from a second temporary
table. A worker killed at any point rolls its chunk back; a re-run or another worker does it;
running a day again finds nothing to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import JSON, Date, DateTime, Engine, Integer, String, bindparam, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ...core.country import LoadedCountry
from ...core.db import is_sqlite
from ...core.i18n import _
from ...core.models import utcnow
from ...core.money import Money, Rounding
from ...core.runtime import Runtime
from .ageing import BUCKET_NAMES, BUCKETS, OVER
from .models import Accrual, Position

log = structlog.get_logger(__name__)  # chunk numbers and counts only: never a borrower

ACTOR = "worker:loans.accrue"
LOCK_SPACE = 0x4C4E  # "LN": the high bits of the advisory lock keys of accrual chunks
WORK = "loans_accrual_work"
PENALTY_WORK = "loans_penalty_work"


# ---------------------------------------------------------------- the rules, in Python (the SQL below does the same)


def earned_through(interest: int, start: date, due: date, day: date) -> int:
    """What an instalment of `interest` over (start, due] has earned by the end of `day`."""
    length = (due - start).days
    if length <= 0:
        return interest if day >= due else 0
    elapsed = min(max((day - start).days, 0), length)
    return interest * elapsed // length


def day_interest(interest: int, start: date, due: date, day: date) -> int:
    return earned_through(interest, start, due, day) - earned_through(interest, start, due, day - timedelta(days=1))


def penalty_amount(unpaid: int, penalty: dict[str, Any], rounding: Rounding) -> int:
    """`rate` × `unpaid` with the country's rounding, plus `flat` (terms.Penalty's fields, as stored)."""
    rate = Fraction(Decimal(str(penalty.get("rate", "0"))))
    return rounding.apply_ratio(unpaid * rate.numerator, rate.denominator) + int(penalty.get("flat", 0))


# ---------------------------------------------------------------- workers


def immediate_transactions(engine: Engine) -> Engine:
    """On SQLite, open every transaction with BEGIN IMMEDIATE: a chunk holds the write lock before it reads."""
    if is_sqlite(str(engine.url)):

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@dataclass
class ChunkResult:
    number: int
    loans: int = 0
    interest: int = 0
    penalties: int = 0
    penalty_amount: int = 0
    seconds: float = 0.0


@dataclass
class WorkerReport:
    day: date
    chunks: int = 0  # chunks this worker accrued
    found_done: int = 0  # chunks that had nothing left to do
    loans: int = 0
    interest: int = 0
    penalties: int = 0
    penalty_amount: int = 0
    results: list[ChunkResult] = field(default_factory=list)

    def add(self, result: ChunkResult) -> None:
        if result.loans == 0:
            self.found_done += 1
            return
        self.chunks += 1
        self.loans += result.loans
        self.interest += result.interest
        self.penalties += result.penalties
        self.penalty_amount += result.penalty_amount
        self.results.append(result)


def chunk_numbers(session: Session, size: int) -> list[int]:
    """The chunks that hold an active loan today (by id range; empty chunks between are left out only at the ends)."""
    low, high = session.execute(select(func.min(Position.loan_id), func.max(Position.loan_id))).one()
    return [] if low is None else list(range(low // size, high // size + 1))


def run_worker(
    *,
    session_factory: sessionmaker[Session],
    day: date,
    rounding: Rounding,
    chunk_size: int,
    worker: str = "",
    start: float = 0.0,
    actor: str = ACTOR,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    throttle: float = 0.0,
) -> WorkerReport:
    """Accrue and age `day` chunk by chunk until every chunk is done; safe to kill, re-run and run several at once.

    `start` (0 ≤ start < 1) is where in the chunk list this worker begins, so workers started
    together spread out; it walks round from there. A chunk another worker holds is passed over and
    waited for at the end (PostgreSQL); the worker returns when the whole day is done.
    """
    report = WorkerReport(day)
    with session_factory() as session:
        numbers = chunk_numbers(session, chunk_size)
    if on_plan:
        on_plan(len(numbers))
    if not numbers:
        return report
    offset = int(start * len(numbers)) % len(numbers)
    passed_over: list[int] = []
    for number in numbers[offset:] + numbers[:offset]:
        result = _one_chunk(session_factory, day, number, chunk_size, rounding, actor, worker, wait=False)
        if result is None:
            passed_over.append(number)
            continue
        _done(report, result, on_chunk, throttle)
    for number in passed_over:  # held by another worker: wait for it, then find it done (or do it, if it died)
        result = _one_chunk(session_factory, day, number, chunk_size, rounding, actor, worker, wait=True)
        assert result is not None  # a waiting claim always succeeds
        _done(report, result, on_chunk, throttle)
    return report


def _done(report: WorkerReport, result: ChunkResult, on_chunk, throttle: float) -> None:
    report.add(result)
    if on_chunk:
        on_chunk(result)
    if throttle:
        time.sleep(throttle)


def _one_chunk(
    session_factory: sessionmaker[Session],
    day: date,
    number: int,
    size: int,
    rounding: Rounding,
    actor: str,
    worker: str,
    *,
    wait: bool,
) -> ChunkResult | None:
    started = time.perf_counter()
    with session_factory() as session, session.begin():
        if not claim(session, day, number, wait=wait):
            return None
        result = accrue_chunk(
            session,
            day=day,
            number=number,
            low=number * size,
            high=(number + 1) * size - 1,
            rounding=rounding,
            actor=actor,
        )
    result.seconds = time.perf_counter() - started
    # Counted and logged once the chunk committed: a rolled-back chunk is neither.
    if result.loans:
        log.info(
            "loans.accrual.chunk",
            day=day.isoformat(),
            chunk=number,
            loans=result.loans,
            penalties=result.penalties,
            worker=worker,
            duration_ms=round(result.seconds * 1000, 1),
        )
    return result


def claim(session: Session, day: date, number: int, *, wait: bool) -> bool:
    """Hold chunk `number` of `day` until this transaction ends; False when another worker holds it (no wait).

    SQLite: the transaction began with BEGIN IMMEDIATE (`immediate_transactions`) and holds the
    database's write lock already; a no-op write takes it where the engine was not set up so.
    PostgreSQL: an advisory lock of the transaction, released at commit or rollback (and when a
    killed worker's connection drops).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE loans_position SET loan_id = loan_id WHERE loan_id = -1"))
        return True
    key = (LOCK_SPACE << 40) | (day.toordinal() << 20) | number
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


# ---------------------------------------------------------------- one chunk, set-based


def _days(sqlite: bool, later: str, earlier: str) -> str:
    """SQL for the number of days from `earlier` to `later` (two date expressions)."""
    if sqlite:
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


def _work_sql(sqlite: bool) -> str:
    def share(interest: str, elapsed: str, length: str) -> str:
        """SQL for the day's share of `interest` over a period of `length` days, `elapsed` of them by the day."""
        return f"{interest} * {elapsed} / {length} - {interest} * ({elapsed} - 1) / {length}"

    def earned(interest: str, start: str, due: str) -> str:
        """SQL for the day's share of `interest` over (start, due], the day inside it (earned_through's difference)."""
        return share(interest, _days(sqlite, ":day", start), _days(sqlite, due, start))

    # The loans of the range still to accrue for the day. A loan whose position answers for the day
    # (models.Position: the day inside the period the accrual last found, no instalment settled after the
    # day) is done from its own row: interest from that period, days past due from its oldest unpaid
    # due date. The others (a period ended, a new schedule version, a day before a settlement) walk
    # their instalments in number order (due dates rise with it) up to the first one open on the day:
    # due on or after it, or not settled by it. When that one is due before the day, it is the oldest
    # past due and the current one is looked for after it; otherwise it is the current one and none is
    # past due. The current instalment's period starts at the previous one's due date, or where the
    # version starts. Their period is kept for the next days (`MOVE_PERIODS`).
    return f"""
INSERT INTO {WORK} (loan_id, interest, days_past_due, number, start_on, due_on, period_interest)
WITH l AS MATERIALIZED (
    SELECT p.loan_id AS loan_id, p.schedule_version AS version,
           p.schedule_from AS schedule_from, p.carried_interest AS carried, p.period_interest AS period_interest,
           CASE WHEN p.period_start < :day AND :day <= p.period_due
                     AND (p.last_settled_on IS NULL OR p.last_settled_on <= :day) THEN 1 ELSE 0 END AS known,
           {_days(sqlite, ":day", "p.period_start")} AS elapsed,
           {_days(sqlite, "p.period_due", "p.period_start")} AS length,
           CASE WHEN p.unpaid_from < :day THEN {_days(sqlite, ":day", "p.unpaid_from")} ELSE 0 END AS late
    FROM loans_position p
    WHERE p.loan_id BETWEEN :low AND :high AND p.disbursed_on <= :day
      AND NOT EXISTS (SELECT 1 FROM loans_accrual a WHERE a.loan_id = p.loan_id AND a.day = :day)
), o AS MATERIALIZED (
    SELECT l.loan_id, l.version, l.schedule_from, l.carried,
           (SELECT i.number FROM loans_instalment i
            WHERE i.loan_id = l.loan_id AND i.version = l.version
              AND (i.due_on >= :day OR i.settled_on IS NULL OR i.settled_on > :day)
            ORDER BY i.number LIMIT 1) AS number
    FROM l WHERE l.known = 0
), f AS MATERIALIZED (
    SELECT o.loan_id, o.version, o.schedule_from, o.carried,
           CASE WHEN i.due_on < :day THEN i.due_on END AS oldest_due,
           CASE WHEN i.due_on >= :day THEN o.number
                WHEN i.due_on IS NOT NULL THEN
                    (SELECT n.number FROM loans_instalment n
                     WHERE n.loan_id = o.loan_id AND n.version = o.version AND n.due_on >= :day
                     ORDER BY n.number LIMIT 1) END AS number
    FROM o LEFT JOIN loans_instalment i ON i.loan_id = o.loan_id AND i.version = o.version AND i.number = o.number
), g AS (
    SELECT f.loan_id, f.version, f.number, f.oldest_due,
           COALESCE(p.due_on, f.schedule_from) AS start_on,
           CASE WHEN f.number = 1 THEN f.carried ELSE 0 END AS carried
    FROM f LEFT JOIN loans_instalment p
         ON p.loan_id = f.loan_id AND p.version = f.version AND p.number = f.number - 1
)
SELECT l.loan_id, {share("l.period_interest", "l.elapsed", "l.length")}, l.late, NULL, NULL, NULL, NULL
FROM l WHERE l.known = 1
UNION ALL
SELECT g.loan_id,
       CASE WHEN c.due_on IS NULL OR g.start_on >= :day THEN 0
            ELSE {earned("(c.interest - g.carried)", "g.start_on", "c.due_on")} END,
       CASE WHEN g.oldest_due IS NULL THEN 0 ELSE {_days(sqlite, ":day", "g.oldest_due")} END,
       c.number, g.start_on, c.due_on, c.interest - g.carried
FROM g LEFT JOIN loans_instalment c ON c.loan_id = g.loan_id AND c.version = g.version AND c.number = g.number
"""  # noqa: S608 - our own table names and constants; every value is bound


def _bucket_sql(column: str) -> str:
    cases = " ".join(f"WHEN {column} <= {highest} THEN '{name}'" for highest, name in BUCKETS)
    return f"CASE {cases} ELSE '{OVER}' END"


# The period each walked loan's day fell in, kept in its position for the next days when it is later than
# the one kept (a day run out of order never moves a loan back; a new schedule version had cleared it).
MOVE_PERIODS = f"""
UPDATE loans_position SET
    period_number = w.number, period_start = w.start_on, period_due = w.due_on, period_interest = w.period_interest
FROM (SELECT loan_id, number, start_on, due_on, period_interest FROM {WORK} WHERE number IS NOT NULL) w
WHERE loans_position.loan_id = w.loan_id
  AND (loans_position.period_due IS NULL OR loans_position.period_due < w.due_on)
"""  # noqa: S608

INSERT_ACCRUALS = f"""
INSERT INTO loans_accrual (loan_id, day, interest, days_past_due)
SELECT loan_id, :day, interest, days_past_due FROM {WORK}
"""  # noqa: S608

LATE_INSTALMENTS = f"""
SELECT l.id AS loan_id, l.reference AS reference, i.version AS version, i.number AS number, i.due_on AS due_on,
       CASE WHEN i.principal - i.paid_principal - i.waived > 0 THEN i.principal - i.paid_principal - i.waived
            ELSE 0 END + i.interest - i.paid_interest + i.fees - i.paid_fees AS unpaid,
       l.terms AS terms
FROM (SELECT loan_id FROM {WORK} WHERE days_past_due > 0) w
CROSS JOIN loans_loan l
CROSS JOIN loans_instalment i
WHERE l.id = w.loan_id AND i.loan_id = l.id AND i.version = l.schedule_version
  AND i.due_on < :day AND i.settled_on IS NULL AND i.penalised_on IS NULL
ORDER BY l.id, i.number
"""  # noqa: S608 - CROSS JOIN: SQLite keeps this order (the chunk's late loans first, few)

BOOK_PENALTIES = (
    f"""
INSERT INTO loans_event (loan_id, kind, reference, amount, booked_on, channel, transfer_state, actor, created_at)
SELECT loan_id, 'penalty', reference, amount, :day, 'book', NULL, :actor, :now FROM {PENALTY_WORK}
""",  # noqa: S608
    f"""
INSERT INTO loans_line (event_id, loan_id, account, amount)
SELECT e.id, e.loan_id, 'receivable:penalties', p.amount
FROM {PENALTY_WORK} p JOIN loans_event e ON e.reference = p.reference
UNION ALL
SELECT e.id, e.loan_id, 'income:penalties', -p.amount
FROM {PENALTY_WORK} p JOIN loans_event e ON e.reference = p.reference
""",  # noqa: S608
    f"""
UPDATE loans_instalment SET penalties = penalties + p.amount, penalised_on = :day
FROM {PENALTY_WORK} p
WHERE loans_instalment.loan_id = p.loan_id AND loans_instalment.version = p.version
  AND loans_instalment.number = p.number
""",  # noqa: S608
)


def _statement(sql: str, **types: Any):
    """`sql` with `:day` (and what `types` names) bound as typed values: a date on both databases."""
    return text(sql).bindparams(bindparam("day", type_=Date), *(bindparam(n, type_=t) for n, t in types.items()))


def _scratch_tables(session: Session) -> None:
    """The chunk's two temporary tables, empty (PostgreSQL: dropped at commit; SQLite: kept by the connection)."""
    tables = {
        WORK: "loan_id BIGINT PRIMARY KEY, interest BIGINT NOT NULL, days_past_due INTEGER NOT NULL, "
        "number INTEGER, start_on DATE, due_on DATE, period_interest BIGINT",
        PENALTY_WORK: "loan_id BIGINT NOT NULL, version INTEGER NOT NULL, number INTEGER NOT NULL, "
        "amount BIGINT NOT NULL, reference VARCHAR(160) NOT NULL",
    }
    sqlite = session.get_bind().dialect.name == "sqlite"
    for name, columns in tables.items():
        if sqlite:
            session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})"))
            session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our own table
        else:
            session.execute(text(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP"))


def accrue_chunk(
    session: Session, *, day: date, number: int, low: int, high: int, rounding: Rounding, actor: str = ACTOR
) -> ChunkResult:
    """Accrue, age and penalise the loans of ids [low, high] not yet accrued for `day` (the caller holds the chunk)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    _scratch_tables(session)
    loans = session.execute(
        _statement(_work_sql(sqlite), low=Integer(), high=Integer()), {"day": day, "low": low, "high": high}
    ).rowcount
    result = ChunkResult(number, loans=loans)
    if not loans:
        return result
    result.interest = int(session.scalar(text(f"SELECT COALESCE(SUM(interest), 0) FROM {WORK}")) or 0)  # noqa: S608
    session.execute(_statement(INSERT_ACCRUALS), {"day": day})
    session.execute(text(MOVE_PERIODS))
    penalties = list(_penalties(session, day, rounding))
    if penalties:
        session.execute(
            text(
                f"INSERT INTO {PENALTY_WORK} (loan_id, version, number, amount, reference) "  # noqa: S608
                "VALUES (:loan_id, :version, :number, :amount, :reference)"
            ),
            penalties,
        )
        events, lines, instalments = BOOK_PENALTIES
        session.execute(
            _statement(events, actor=String(), now=DateTime(timezone=True)),
            {"day": day, "actor": actor, "now": utcnow()},
        )
        session.execute(text(lines))
        session.execute(_statement(instalments), {"day": day})
        result.penalties = len(penalties)
        result.penalty_amount = sum(p["amount"] for p in penalties)
    return result


def _penalties(session: Session, day: date, rounding: Rounding) -> Iterable[dict[str, Any]]:
    """The late instalments of the chunk that reach their penalty today, with its amount (few rows: only late loans)."""
    query = _statement(LATE_INSTALMENTS).columns(
        loan_id=Integer, reference=String, version=Integer, number=Integer, due_on=Date, unpaid=Integer, terms=JSON
    )
    for row in session.execute(query, {"day": day}):
        penalty = (row.terms or {}).get("penalty") or {}
        if (day - row.due_on).days <= int(penalty.get("after_days", 0)):
            continue
        amount = penalty_amount(int(row.unpaid), penalty, rounding)
        if amount > 0:
            yield {
                "loan_id": row.loan_id,
                "version": row.version,
                "number": row.number,
                "amount": amount,
                "reference": penalty_reference(row.reference, row.version, row.number),
            }


def penalty_reference(loan_reference: str, version: int, number: int) -> str:
    return f"{loan_reference}:penalty:{version}:{number}"


# ---------------------------------------------------------------- where a day stands


@dataclass(frozen=True)
class DayStatus:
    day: date
    due: int  # active loans disbursed on or before the day
    accrued: int  # of them, accrued for the day
    interest: int  # what they earned that day
    buckets: dict[str, int]  # active loans accrued and aged for the day, by that day's arrears bucket

    @property
    def pending(self) -> int:
        return self.due - self.accrued


def day_status(session: Session, day: date) -> DayStatus:
    """Where `day` stands for the active portfolio (a read over the active loans, not the accrual history)."""
    due, accrued, interest = session.execute(
        _statement(
            """
SELECT COUNT(*), COUNT(a.loan_id), COALESCE(SUM(a.interest), 0)
FROM loans_position p LEFT JOIN loans_accrual a ON a.loan_id = p.loan_id AND a.day = :day
WHERE p.disbursed_on <= :day
"""
        ),
        {"day": day},
    ).one()
    buckets = dict(
        session.execute(
            _statement(
                f"""
SELECT {_bucket_sql("a.days_past_due")} AS bucket, COUNT(*)
FROM loans_position p JOIN loans_accrual a ON a.loan_id = p.loan_id AND a.day = :day
WHERE p.disbursed_on <= :day
GROUP BY {_bucket_sql("a.days_past_due")}
"""  # noqa: S608
            ),
            {"day": day},
        ).all()
    )
    ordered = {name: int(buckets.get(name, 0)) for name in BUCKET_NAMES}
    return DayStatus(day, int(due), int(accrued), int(interest), ordered)


def last_complete_day(session: Session) -> date | None:
    """The latest day every accrued active loan has reached (None before the first accrual).

    Each active loan's latest accrual row (one seek down its key), the earliest of them: a read of
    the active loans, not of the accrual history.
    """
    latest = (
        select(Accrual.day)
        .where(Accrual.loan_id == Position.loan_id)
        .order_by(Accrual.day.desc())
        .limit(1)
        .correlate(Position)
        .scalar_subquery()
    )
    return session.scalar(select(func.min(latest)).select_from(Position))


def accrued_interest(session: Session, loan_id: int) -> int:
    """The interest `loan_id` has earned so far: the sum of its accrual rows (a range of the key)."""
    return int(session.scalar(select(func.coalesce(func.sum(Accrual.interest), 0)).where(Accrual.loan_id == loan_id)))


def last_accrued_day(session: Session, loan_id: int) -> date | None:
    """The latest day accrued and aged for `loan_id` (the day its `days_past_due` is as of); None before any."""
    return session.scalar(select(func.max(Accrual.day)).where(Accrual.loan_id == loan_id))


# ---------------------------------------------------------------- the command line (`loans accrue`)


def today_in(country: LoadedCountry) -> date:
    """Today in the country's time zone."""
    return datetime.now(ZoneInfo(country.profile.timezone)).date()


def parse_day(country: LoadedCountry, value: str) -> date:
    """`--day` as a date no later than today; a clear message and exit code 2 otherwise."""
    import typer

    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or day > today_in(country):
        message = _("--day must be a date (YYYY-MM-DD) no later than today, not {value}").format(value=value)
        typer.echo(message, err=True)
        raise typer.Exit(2)
    return day


def worker_command(runtime: Runtime, day_text: str, *, start: float, throttle: float) -> None:
    """One worker process: a line `chunk <number> <loans> <interest> <penalties> <amount>` per chunk it accrued."""
    day = parse_day(runtime.country, day_text)
    try:
        _work(runtime, day, start=start, throttle=throttle, on_chunk=_print_chunk)
    finally:
        runtime.engine.dispose()


def _print_chunk(result: ChunkResult) -> None:
    fields = (result.number, result.loans, result.interest, result.penalties, result.penalty_amount)
    print("chunk", *fields, flush=True)  # read by the parent `accrue --workers N`


def _work(runtime: Runtime, day: date, *, start: float, throttle: float, on_chunk) -> WorkerReport:
    from ...core.db import make_engine, make_session_factory
    from .config import LoansCountry, LoansSettings

    section: LoansCountry = runtime.country.section("loans")
    engine = immediate_transactions(make_engine(runtime.settings.database_url))
    try:
        return run_worker(
            session_factory=make_session_factory(engine),
            day=day,
            rounding=section.rounding.for_currency(runtime.country.profile.currency),
            chunk_size=runtime.settings_of(LoansSettings).accrual_chunk,
            worker=f"pid:{os.getpid()}",
            start=start,
            throttle=throttle,
            on_chunk=on_chunk,
        )
    finally:
        engine.dispose()


def accrue_command(runtime: Runtime, day_text: str, *, workers: int, throttle: float, quiet: bool) -> None:
    """`loans accrue`: the day in this process or in `workers` processes, with a progress bar; then where it stands."""
    import typer
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    try:
        day = parse_day(runtime.country, day_text)
        with runtime.session_factory() as session:
            before = day_status(session, day)
        totals = WorkerReport(day)
        progress = Progress(
            TextColumn(day.isoformat(), style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        )
        lock = threading.Lock()
        with progress:
            task = progress.add_task("accrue", total=before.pending)

            def tick(result: ChunkResult) -> None:
                with lock:
                    totals.add(result)
                progress.advance(task, result.loans)

            if workers == 1:
                _work(runtime, day, start=0.0, throttle=throttle, on_chunk=tick)
                failed = 0
            else:
                failed = _run_workers(day, workers, throttle, tick)
        with runtime.session_factory() as session:
            after = day_status(session, day)
    finally:
        runtime.engine.dispose()
    _print_status(console, runtime.country, after, totals)
    if failed or after.pending:
        console.print(
            _("{pending} loans still to accrue for {day}: run the command again").format(
                pending=f"{after.pending:,}", day=day.isoformat()
            ),
            style="red",
        )
        raise typer.Exit(1)


def _run_workers(day: date, workers: int, throttle: float, tick: Callable[[ChunkResult], None]) -> int:
    """Start `workers` processes on the day, each from its own place in the chunk list; how many failed."""
    package = __package__.split(".")[0]
    children = []
    for index in range(workers):
        command = [sys.executable, "-m", package, "loans", "accrue-worker", "--day", day.isoformat()]
        command += ["--start", f"{index / workers:.6f}", "--throttle", str(throttle)]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy()))  # noqa: S603

    def read(child: subprocess.Popen) -> None:
        for line in child.stdout:
            words = line.split()
            if len(words) == 6 and words[0] == "chunk":
                number, loans, interest, penalties, amount = (int(word) for word in words[1:])
                tick(ChunkResult(number, loans, interest, penalties, amount))

    readers = [threading.Thread(target=read, args=(child,), daemon=True) for child in children]
    for reader in readers:
        reader.start()
    for child, reader in zip(children, readers, strict=True):
        child.wait()
        reader.join()
    return sum(1 for child in children if child.returncode)


def _print_status(console, country: LoadedCountry, status: DayStatus, run: WorkerReport) -> None:
    def money(amount: int) -> str:
        return country.profile.format_money(Money(country.profile.currency, amount))

    console.print(
        _("{day}: {accrued} of {due} active loans accrued, {interest} of interest earned").format(
            day=status.day.isoformat(),
            accrued=f"{status.accrued:,}",
            due=f"{status.due:,}",
            interest=money(status.interest),
        )
    )
    console.print(
        _("this run: {loans} loans in {chunks} chunks, {penalties} late penalties ({amount})").format(
            loans=f"{run.loans:,}", chunks=run.chunks, penalties=f"{run.penalties:,}", amount=money(run.penalty_amount)
        )
    )
    console.print("  ".join(f"{name} {count:,}" for name, count in status.buckets.items()), markup=False)
