"""`loans bench`: a day's accrual on a scratch database, against a raw bulk insert of exactly the rows it wrote."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from sqlalchemy import MetaData, inspect

from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import bench

pytestmark = pytest.mark.country_independent


def test_the_bench_accrues_every_loan_and_inserts_as_many_rows_into_a_copy_it_drops(engine, settings: Settings) -> None:
    tables_before = set(inspect(engine).get_table_names())
    runtime = build_runtime(settings)
    output = io.StringIO()
    try:
        result = bench.run_bench(runtime=runtime, count=2_000, chunk_size=500, console=Console(file=output, width=200))
    finally:
        runtime.engine.dispose()
    text = output.getvalue()
    assert re.search(r"2,000 loans in \d+ chunks of 500: [\d.]+ s = [\d,]+ loans/s", text), text
    assert "loans.accrual" in text and "loans.raw-insert" in text, text
    assert result["accrual_rows"] == 2_000 and result["ratio"] == result["baseline_seconds"] / result["seconds"]
    assert set(inspect(engine).get_table_names()) == tables_before


def test_the_baseline_writes_under_the_same_keys_and_foreign_key_as_the_accrual() -> None:
    copy = bench.baseline_table(MetaData())
    assert [column.name for column in copy.primary_key] == ["loan_id", "day"]
    assert [key.target_fullname for key in copy.foreign_keys] == ["loans_loan.id"]
    assert copy.dialect_kwargs == {"sqlite_with_rowid": False}
