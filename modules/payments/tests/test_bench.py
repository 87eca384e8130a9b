"""`payments bench`: a cycle on a scratch database, against a raw bulk insert of exactly the ledger rows it wrote."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from sqlalchemy import MetaData, UniqueConstraint, func, inspect, select
from sqlalchemy.orm import Session

from ....core.bulk import scratch_copy
from ....core.db import NAMING_CONVENTION, make_session_factory
from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import bench, cycles, disbursing
from ..config import PaymentsSettings
from ..models import Entry, LedgerAccount, Transfer
from ..rails import SimulatedBank
from .factories import approved_cycle

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent


def test_the_bench_pays_everyone_and_inserts_as_many_ledger_rows(settings: Settings) -> None:
    runtime = build_runtime(settings)
    output = io.StringIO()
    try:
        result = bench.run_bench(runtime=runtime, count=300, chunk_size=100, console=Console(file=output, width=200))
    finally:
        runtime.engine.dispose()
    text = output.getvalue()
    assert "paid" in text and "control totals match" in text, text
    returned = int(re.search(r"returned (\d+)", text).group(1))
    written = re.search(
        r"ledger rows the cycle wrote: ([\d,]+) \((\d+) accounts, (\d+) transfers, (\d+) entries\)", text
    )
    rows, accounts, transfers, entries = (int(found.replace(",", "")) for found in written.groups())
    # every beneficiary's account, the cycle's and the funding account; a transfer per payment, one per
    # return and the funding transfer; two entries per transfer
    assert (accounts, transfers, entries) == (300 + 2, 300 + returned + 1, 2 * transfers)
    assert result["ledger_rows"] == rows == accounts + transfers + entries
    assert result["ratio"] == result["baseline_seconds"] / result["seconds"]


def test_the_baseline_inserts_every_ledger_row_into_copies_it_drops(
    engine, session: Session, ports, country, settings: Settings
) -> None:
    cycle = approved_cycle(session, ports, country, count=120, chunk_size=50)
    cycles.start_disbursement(session=session, cycle=cycle, currency=country.profile.currency, actor="test")
    session.commit()
    disbursing.run_worker(
        session_factory=make_session_factory(engine),
        cycle_id=cycle.id,
        currency=country.profile.currency,
        rail=SimulatedBank(failure_rate=0.2, seed=3),
        settings=PaymentsSettings(),
        worker="test",
    )
    tables_before = set(inspect(engine).get_table_names())
    runtime = build_runtime(settings)
    try:
        written, seconds = bench._baseline(runtime)
    finally:
        runtime.engine.dispose()
    stored = {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (LedgerAccount, Transfer, Entry)
    }
    assert written == stored and seconds > 0
    assert set(inspect(engine).get_table_names()) == tables_before


def test_the_baseline_tables_have_the_ledger_tables_keys_and_indexes() -> None:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    copies = {}
    for table in bench.LEDGER_TABLES:
        copies[table.name] = scratch_copy(table, f"{table.name}_bench_raw", metadata, references=copies)
    names = {copy.name: table.name for table, copy in zip(bench.LEDGER_TABLES, copies.values(), strict=True)}

    def shape(table):
        return {
            "columns": [(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns],
            "unique": sorted(
                tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)
            ),
            "indexes": sorted(tuple(c.name for c in index.columns) for index in table.indexes),
            "foreign keys": sorted(
                (k.parent.name, names.get(k.column.table.name, k.column.table.name), k.column.name)
                for k in table.foreign_keys
            ),
        }

    for table in bench.LEDGER_TABLES:
        assert shape(copies[table.name]) == shape(table), table.name
