"""`payments bench --count N`: an N-beneficiary cycle end to end against a raw bulk insert baseline.

Timed: eligibility → entitlements → instructions, envelope approval, funding, the
ledger per chunk (set-based SQL), pain.001 built and checked against the XSD
(one message per chunk), the simulated bank's pain.002 and camt.054 ingested,
retries, returns and the reconciliation report. Not timed: enrolling the N
beneficiaries and linking their accounts (data the benchmark needs to exist).

Baseline: a raw bulk insert of the same number of ledger rows, in the same run on
the same database. The rows the cycle wrote to the ledger tables (the beneficiaries'
ledger accounts, the cycle's and the funding account; a transfer per payment, per
return and for the funding; two entries per transfer: about 4 N rows) are read back
as the driver returns them (not timed) and inserted again with `core.bulk.insert_rows`
(COPY on PostgreSQL, one executemany per batch on SQLite) into empty copies of
`payments_ledger_account`, `payments_transfer` and `payments_entry` with the same
columns, keys, foreign keys and indexes, in one transaction; the inserts and the
commit are timed. Ratio = baseline seconds ÷ cycle seconds: the share of the cycle's
time that writing its ledger alone, the fastest way the database allows, would take.

It runs on a fresh scratch database next to the configured one (SQLite: a file in
the same folder; PostgreSQL: a new database on the same server), migrated to the
installed heads and removed afterwards (core.yardstick's `scratch_runtime`), so the
deployment's data is never touched.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table as TextTable
from sqlalchemy import (
    Connection,
    MetaData,
    Table,
)

from ...core import yardstick
from ...core.approvals import Signatory
from ...core.bulk import driver_value, dump_json, insert_rows, scratch_copy
from ...core.db import NAMING_CONVENTION, make_engine, make_session_factory
from ...core.eligibility import Rule
from ...core.i18n import N_, _
from ...core.models import utcnow
from ...core.runtime import Runtime
from ...core.yardstick import Comparison, Stopwatch, Stored, Timed, database_size, print_comparisons, print_storage
from . import cycles, disbursing, programme_service, reconciliations
from .config import PaymentsSettings
from .disbursing import immediate_transactions
from .domain import ProgrammeTerms
from .models import AccountLink, ChunkState, Enrolment, Entry, LedgerAccount, Transfer
from .programmes import Bracket, Entitlement
from .rails import SimulatedBank

FAILURE_RATE = 0.01
# The timed steps, labels of the report (translated when printed).
BUILD_STEP = N_("eligibility + entitlements + envelope")
LEDGER_STEP = N_("ledger (accounts, transfers, entries)")
BANK_STEP = N_("pain.001 + XSD + bank + pain.002/camt.054")
REPORT_STEP = N_("reconciliation report")
# The ledger tables a cycle writes to, each after the tables it refers to.
LEDGER_TABLES = (LedgerAccount.__table__, Transfer.__table__, Entry.__table__)
BASELINE_BATCH = 50_000  # rows per insert_rows call in the baseline
ENROLMENT_COLUMNS = ("programme_id", "beneficiary_key", "attributes", "enrolled_at")
LINK_COLUMNS = ("beneficiary_key", "kind", "number", "bank_code", "linked_at", "updated_at")


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A batch job allocates millions of short-lived tuples: collect the young generation less often."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run_bench(*, runtime: Runtime, count: int, chunk_size: int, console: Console) -> dict[str, float]:
    with yardstick.scratch_runtime(runtime, console, "payments") as scratch, fewer_collections():
        return _run(runtime=scratch, count=count, chunk_size=chunk_size, console=console)


def _run(*, runtime: Runtime, count: int, chunk_size: int, console: Console) -> dict[str, float]:
    run = uuid.uuid4().hex[:8].upper()
    code = f"BENCH-{run}"
    currency = runtime.country.profile.currency
    settings = runtime.settings_of(PaymentsSettings)
    console.print(
        _("benchmark {code}: {count} beneficiaries on {database}").format(
            code=code, count=f"{count:,}", database=runtime.engine.url.get_backend_name()
        )
    )
    now = utcnow()
    with runtime.session_factory.begin() as session:
        programme = programme_service.create_programme(
            session=session,
            ports=runtime.ports,
            country=runtime.country,
            terms=ProgrammeTerms(
                code=code,
                name="Benchmark programme",
                currency=currency,
                source="enrolled",
                eligibility=(Rule(attribute="age", op=">=", value=18),),
                entitlement=Entitlement(flat=10_000, brackets=[Bracket(attribute="age", min=65, add=5_000)]),
            ),
            actor="bench",
        ).record
        programme_id = programme.id
        connection = session.connection()
        enrolled_at = driver_value(connection, Enrolment.__table__.c.enrolled_at, now)
        linked_at = driver_value(connection, AccountLink.__table__.c.linked_at, now)
        for start in range(0, count, 50_000):
            numbers = range(start, min(count, start + 50_000))
            enrolments = [
                (programme_id, f"ext:B{run}-{i}", dump_json({"age": 18 + i % 70}), enrolled_at) for i in numbers
            ]
            insert_rows(connection, Enrolment.__table__, ENROLMENT_COLUMNS, enrolments)
            links = [
                (f"ext:B{run}-{i}", "bank_account", f"{1_000_000_000 + i}", "BENCHBANK", linked_at, linked_at)
                for i in numbers
            ]
            insert_rows(connection, AccountLink.__table__, LINK_COLUMNS, links)
    console.print(_("enrolled and linked (not timed)"))

    timings: dict[str, float] = {}
    size_before = database_size(runtime.engine)
    started = time.perf_counter()
    with runtime.session_factory.begin() as session:
        programme = programme_service.get_programme(session=session, code=code)
        cycle = programme_service.create_cycle(
            session=session,
            ports=runtime.ports,
            country=runtime.country,
            programme=programme,
            name="1",
            as_of=date.today(),
            funding_account=settings.funding_account,
            chunk_size=chunk_size,
            maker=Signatory(person="system:bench", actor="bench"),
        ).record
        cycle_id = cycle.id
        cycles.approve_without_four_eyes(
            session=session,
            cycle=cycle,
            control_count=cycle.instruction_count,
            control_sum=cycle.instruction_sum,
            actor="bench",
        )
        cycles.start_disbursement(session=session, cycle=cycle, currency=currency, actor="bench")
    timings[BUILD_STEP] = time.perf_counter() - started
    timings[LEDGER_STEP] = timings[BANK_STEP] = 0.0
    mark = time.perf_counter()

    def step_done(step: str) -> None:  # a chunk transaction committed: `pending` wrote the ledger, `paid` sent
        nonlocal mark
        now = time.perf_counter()
        timings[LEDGER_STEP if step == ChunkState.PENDING else BANK_STEP] += now - mark
        mark = now

    worker_engine = immediate_transactions(make_engine(runtime.settings.database_url))
    disbursing.run_worker(
        session_factory=make_session_factory(worker_engine),
        cycle_id=cycle_id,
        currency=currency,
        rail=SimulatedBank(failure_rate=FAILURE_RATE, seed=7),
        settings=settings,
        worker="bench",
        on_step=step_done,
    )
    worker_engine.dispose()
    timings[BANK_STEP] += time.perf_counter() - mark  # closing the cycle
    mark = time.perf_counter()
    with runtime.session_factory() as session:
        report = reconciliations.reconcile(session=session, cycle_id=cycle_id)
    timings[REPORT_STEP] = time.perf_counter() - mark
    elapsed = time.perf_counter() - started
    stored = Stored("payments.storage", count, database_size(runtime.engine) - size_before)

    written, baseline = _baseline(runtime)
    rate = count / elapsed
    rows = sum(written.values())
    console.print(_("N = {count} beneficiaries, chunks of {size}").format(count=f"{count:,}", size=f"{chunk_size:,}"))
    steps = TextTable.grid(padding=(0, 2))  # rich measures wide (CJK) characters; str.ljust would not
    steps.add_column()
    steps.add_column(justify="right")
    for label, seconds in timings.items():
        steps.add_row(_(label), f"{seconds:.2f} s")
    console.print(Padding.indent(steps, 2))
    tallies = {
        "paid": f"{report.paid.count:,}",
        "returned": f"{report.failed.count:,}",
        "pending": f"{report.pending.count:,}",
    }
    if report.matches_control_totals:
        console.print(_("paid {paid}, returned {returned}, pending {pending}; control totals match").format(**tallies))
    else:
        console.print(
            _("paid {paid}, returned {returned}, pending {pending}; control totals DO NOT match").format(**tallies)
        )
    console.print(_("end to end: {seconds} s = {rate} payouts/s").format(seconds=f"{elapsed:.2f}", rate=f"{rate:,.0f}"))
    console.print(
        _("ledger rows the cycle wrote: {rows} ({accounts} accounts, {transfers} transfers, {entries} entries)").format(
            rows=f"{rows:,}",
            accounts=f"{written[LedgerAccount.__tablename__]:,}",
            transfers=f"{written[Transfer.__tablename__]:,}",
            entries=f"{written[Entry.__tablename__]:,}",
        )
    )
    print_comparisons(
        [Comparison(Timed("payments.cycle", rows, elapsed), Timed("payments.raw-insert", rows, baseline))], console
    )
    print_storage(stored, console)
    return {
        "seconds": elapsed,
        "rate": rate,
        "ledger_rows": rows,
        "baseline_seconds": baseline,
        "ratio": baseline / elapsed,
    }


def _baseline(runtime: Runtime) -> tuple[dict[str, int], float]:
    """Insert the cycle's ledger rows again, with `core.bulk.insert_rows`, into empty copies of their tables.

    The scratch ledger held nothing before the cycle, so its rows are exactly what the cycle wrote. They
    are read back as the driver returns them (not timed) and inserted in batches in one transaction; the
    inserts and the commit are timed. Returns the rows per table and the seconds.
    """
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    copies: dict[str, Table] = {}
    for table in LEDGER_TABLES:
        copies[table.name] = scratch_copy(table, f"{table.name}_bench_raw", metadata, references=copies)
    metadata.create_all(runtime.engine)
    try:
        written, inserting = dict.fromkeys(copies, 0), Stopwatch()
        with runtime.engine.connect() as connection:
            for table in LEDGER_TABLES:
                columns = [column.name for column in table.columns]
                for rows in _stored_rows(connection, table, columns):
                    with inserting:
                        insert_rows(connection, copies[table.name], columns, rows)
                    written[table.name] += len(rows)
            with inserting:
                connection.commit()
        return written, inserting.seconds
    finally:
        metadata.drop_all(runtime.engine)


def _stored_rows(connection: Connection, table: Table, columns: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    """Every row of `table` in id order, in batches of driver values (no type processing)."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    # Our own table and column names; the one value is bound.
    sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE id > {mark} ORDER BY id LIMIT {BASELINE_BATCH}"  # noqa: S608
    key = columns.index("id")
    last = 0
    while rows := [tuple(row) for row in connection.exec_driver_sql(sql, (last,))]:
        yield rows
        last = rows[-1][key]
