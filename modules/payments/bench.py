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
from rich.padding import Padding
from rich.table import Table
from sqlalchemy import create_engine, insert, make_url, text

from ...core import migrate
from ...core.db import is_sqlite, make_engine, make_session_factory
from ...core.i18n import N_, _
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
# The timed steps, labels of the report (translated when printed).
BUILD_STEP = N_("eligibility + entitlements + envelope")
LEDGER_STEP = N_("ledger (accounts, transfers, entries)")
BANK_STEP = N_("pain.001 + XSD + bank + pain.002/camt.054")
REPORT_STEP = N_("reconciliation report")


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
        console.print(
            _("scratch database {url} (removed afterwards)").format(url=scratch.render_as_string(hide_password=True)),
            markup=False,
        )
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
    console.print(_("enrolled and linked (not timed)"))

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
    timings[BUILD_STEP] = time.perf_counter() - started
    timings[LEDGER_STEP] = timings[BANK_STEP] = 0.0
    mark = time.perf_counter()

    def step_done(step: str) -> None:  # a chunk transaction committed: `pending` wrote the ledger, `paid` sent
        nonlocal mark
        now = time.perf_counter()
        timings[LEDGER_STEP if step == ChunkState.PENDING else BANK_STEP] += now - mark
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
    timings[BANK_STEP] += time.perf_counter() - mark  # closing the cycle
    mark = time.perf_counter()
    with runtime.session_factory() as session:
        report = disburse.reconcile(session=session, cycle_id=cycle_id)
    timings[REPORT_STEP] = time.perf_counter() - mark
    elapsed = time.perf_counter() - started

    baseline = _baseline(runtime, count)
    rate = count / elapsed
    base_rate = count / baseline
    console.print(_("N = {count} beneficiaries, chunks of {size}").format(count=f"{count:,}", size=f"{chunk_size:,}"))
    steps = Table.grid(padding=(0, 2))  # rich measures wide (CJK) characters; str.ljust would not
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
        _("baseline raw executemany insert of {count} ledger rows: {seconds} s = {rate} rows/s").format(
            count=f"{count:,}", seconds=f"{baseline:.2f}", rate=f"{base_rate:,.0f}"
        )
    )
    console.print(_("ratio payouts/s ÷ baseline rows/s = {ratio}").format(ratio=f"{rate / base_rate:.3f}"))
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
