"""`payments bench --count N`: an N-beneficiary cycle end to end against a raw bulk insert baseline.

Timed: eligibility → entitlements → instructions, envelope approval, funding, the
ledger per chunk (set-based SQL), pain.001 built and checked against the XSD
(one message per chunk), the simulated bank's pain.002 and camt.054 ingested,
retries, returns and the reconciliation report. Not timed: enrolling the N
beneficiaries and linking their accounts (data the benchmark needs to exist).
Baseline: a raw `executemany` INSERT of N rows shaped like a ledger entry (same
indexes), in the same run on the same database.

It runs on a fresh scratch database next to the configured one (SQLite: a file in
the same folder; PostgreSQL: a new database on the same server), migrated to the
installed heads and removed afterwards, so the deployment's data is never touched.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, insert, make_url, text

from ...core import migrate
from ...core.db import is_sqlite, make_engine, make_session_factory
from ...core.models import utcnow
from ...core.runtime import Runtime
from . import disburse, programme_service
from .config import payments_settings
from .disburse import immediate_transactions
from .models import AccountLink, ChunkState, Enrolment
from .programmes import Bracket, Entitlement, Rule
from .rails import SimulatedBank
from .schemas import CycleIn, ProgrammeIn

FAILURE_RATE = 0.01


@contextmanager
def scratch_runtime(runtime: Runtime, console: Console) -> Iterator[Runtime]:
    """The runtime pointed at a new, migrated database beside the configured one; dropped on the way out."""
    url = make_url(runtime.settings.database_url)
    suffix = f"bench_{uuid.uuid4().hex[:8]}"
    admin = None
    if is_sqlite(runtime.settings.database_url):
        configured = Path(url.database or "") if url.database not in (None, "", ":memory:") else None
        folder = configured.parent if configured else Path.cwd()
        path = folder / f"{configured.stem if configured else 'payments'}.{suffix}.db"
        scratch = url.set(database=str(path))
    else:
        scratch = url.set(database=f"{url.database}_{suffix}")
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    scratch_url = scratch.render_as_string(hide_password=False)
    engine = make_engine(scratch_url)
    try:
        migrate.upgrade(engine)
        console.print(f"scratch database {scratch.render_as_string(hide_password=True)} (removed afterwards)")
        yield replace(
            runtime,
            settings=runtime.settings.model_copy(update={"database_url": scratch_url}),
            engine=engine,
            session_factory=make_session_factory(engine),
        )
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
            admin.dispose()
        else:
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch.database}{extra}").unlink(missing_ok=True)


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
    with scratch_runtime(runtime, console) as scratch, fewer_collections():
        return _run(runtime=scratch, count=count, chunk_size=chunk_size, console=console)


def _run(*, runtime: Runtime, count: int, chunk_size: int, console: Console) -> dict[str, float]:
    run = uuid.uuid4().hex[:8].upper()
    code = f"BENCH-{run}"
    currency = runtime.country.profile.currency
    settings = payments_settings()
    console.print(f"benchmark {code}: {count:,} beneficiaries on {runtime.engine.url.get_backend_name()}")
    now = utcnow()
    with runtime.session_factory.begin() as session:
        programme = programme_service.create_programme(
            session=session,
            ports=runtime.ports,
            country=runtime.country,
            request=ProgrammeIn(
                code=code,
                name="Benchmark programme",
                currency=currency,
                source="enrolled",
                eligibility=[Rule(attribute="age", op=">=", value=18)],
                entitlement=Entitlement(flat=10_000, brackets=[Bracket(attribute="age", min=65, add=5_000)]),
            ),
            actor="bench",
        ).record
        programme_id = programme.id
        for start in range(0, count, 50_000):
            keys = [f"ext:B{run}-{i}" for i in range(start, min(count, start + 50_000))]
            session.execute(
                insert(Enrolment),
                [
                    {
                        "programme_id": programme_id,
                        "beneficiary_key": k,
                        "attributes": {"age": 18 + i % 70},
                        "enrolled_at": now,
                    }
                    for i, k in enumerate(keys, start)
                ],
            )
            session.execute(
                insert(AccountLink),
                [
                    {
                        "beneficiary_key": k,
                        "kind": "bank_account",
                        "number": f"{1_000_000_000 + i}",
                        "bank_code": "BENCHBANK",
                        "linked_at": now,
                        "updated_at": now,
                    }
                    for i, k in enumerate(keys, start)
                ],
            )
    console.print("enrolled and linked (not timed)")

    timings: dict[str, float] = {}
    started = time.perf_counter()
    with runtime.session_factory.begin() as session:
        programme = programme_service.get_programme(session=session, code=code)
        cycle = programme_service.create_cycle(
            session=session,
            ports=runtime.ports,
            country=runtime.country,
            programme=programme,
            request=CycleIn(name="1", as_of=date.today()),
            funding_account=settings.funding_account,
            chunk_size=chunk_size,
            actor="bench",
        ).record
        cycle_id = cycle.id
        disburse.approve_cycle(
            session=session,
            cycle=cycle,
            control_count=cycle.instruction_count,
            control_sum=cycle.instruction_sum,
            actor="bench",
        )
        disburse.start_disbursement(session=session, cycle=cycle, currency=currency, actor="bench")
    timings["eligibility + entitlements + envelope"] = time.perf_counter() - started
    ledger, bank = "ledger (accounts, transfers, entries)", "pain.001 + XSD + bank + pain.002/camt.054"
    timings[ledger] = timings[bank] = 0.0
    mark = time.perf_counter()

    def step_done(step: str) -> None:  # a chunk transaction committed: `pending` wrote the ledger, `paid` sent
        nonlocal mark
        now = time.perf_counter()
        timings[ledger if step == ChunkState.PENDING else bank] += now - mark
        mark = now

    worker_engine = immediate_transactions(make_engine(runtime.settings.database_url))
    disburse.run_worker(
        session_factory=make_session_factory(worker_engine),
        cycle_id=cycle_id,
        currency=currency,
        rail=SimulatedBank(failure_rate=FAILURE_RATE, seed=7),
        settings=settings,
        worker="bench",
        on_step=step_done,
    )
    worker_engine.dispose()
    timings[bank] += time.perf_counter() - mark  # closing the cycle
    mark = time.perf_counter()
    with runtime.session_factory() as session:
        report = disburse.reconcile(session=session, cycle_id=cycle_id)
    timings["reconciliation report"] = time.perf_counter() - mark
    elapsed = time.perf_counter() - started

    baseline = _baseline(runtime, count)
    rate = count / elapsed
    base_rate = count / baseline
    console.print(f"N = {count:,} beneficiaries, chunks of {chunk_size:,}")
    for label, seconds in timings.items():
        console.print(f"  {label:<40} {seconds:8.2f} s")
    console.print(
        f"paid {report.paid.count:,}, returned {report.failed.count:,}, pending {report.pending.count:,}; "
        f"control totals {'match' if report.matches_control_totals else 'DO NOT match'}"
    )
    console.print(f"end to end: {elapsed:.2f} s = {rate:,.0f} payouts/s")
    console.print(
        f"baseline raw executemany insert of {count:,} ledger rows: {baseline:.2f} s = {base_rate:,.0f} rows/s"
    )
    console.print(f"ratio payouts/s ÷ baseline rows/s = {rate / base_rate:.3f}")
    return {"seconds": elapsed, "rate": rate, "baseline_rate": base_rate, "ratio": rate / base_rate}


def _baseline(runtime: Runtime, count: int) -> float:
    """Raw executemany of `count` entry-shaped rows (primary key and two indexes, like payments_entry)."""
    table = f"payments_bench_{uuid.uuid4().hex[:8]}"
    ddl = [
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, transfer_id INTEGER NOT NULL, "
        "account_id INTEGER NOT NULL, amount BIGINT NOT NULL)",
        f"CREATE INDEX ix_{table}_t ON {table} (transfer_id)",
        f"CREATE INDEX ix_{table}_a ON {table} (account_id)",
    ]
    rows = [(i, i // 2, i % 100_000, 10_000) for i in range(1, count + 1)]
    with runtime.engine.begin() as connection:
        for statement in ddl:
            connection.execute(text(statement))
    try:
        raw = runtime.engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            placeholder = "?" if runtime.engine.dialect.paramstyle == "qmark" else "%s"
            cursor.executemany(
                f"INSERT INTO {table} (id, transfer_id, account_id, amount) VALUES "  # noqa: S608 - our own name
                f"({placeholder}, {placeholder}, {placeholder}, {placeholder})",
                rows,
            )
            raw.commit()
            return time.perf_counter() - started
        finally:
            raw.close()
    finally:
        with runtime.engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {table}"))
