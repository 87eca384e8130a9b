import io
import json
import time
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, inspect, make_url, text

from ..core.runtime import build_runtime
from ..core.settings import Settings
from ..core.yardstick import (
    BENCH_JSON,
    Comparison,
    Stopwatch,
    Stored,
    Timed,
    Yardstick,
    database_size,
    measure,
    print_comparisons,
    print_storage,
    scratch_runtime,
)

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent


def test_the_yardstick_inserts_every_row_and_leaves_no_table(engine: Engine) -> None:
    before = set(inspect(engine).get_table_names())
    yardstick = measure(engine, 25_000)
    assert yardstick.rows == 25_000 and yardstick.seconds > 0
    assert set(inspect(engine).get_table_names()) == before


def test_a_rate_scales_by_the_ratio_of_yardsticks() -> None:
    here = Yardstick(rows=40_000, seconds=1.0)  # a machine a quarter as fast as the reference
    assert here.scaled(8_000, reference_rate=160_000) == pytest.approx(32_000)


def test_a_stopwatch_adds_up_the_blocks_it_times() -> None:
    watch = Stopwatch()
    for _block in range(2):
        with watch:
            time.sleep(0.01)
    assert watch.seconds >= 0.02


def test_a_comparison_is_the_ratio_of_rates_printed_once_and_written_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    comparison = Comparison(measured=Timed("work.measured", 1_000, 2.0), baseline=Timed("work.raw-insert", 1_000, 0.5))
    assert comparison.ratio == pytest.approx(0.25)
    target = tmp_path / "bench.json"
    monkeypatch.setenv(BENCH_JSON, str(target))
    output = io.StringIO()
    print_comparisons([comparison], Console(file=output, width=120))
    rows = [line.split() for line in output.getvalue().splitlines()]
    assert ["work.measured", "1,000", "2.00", "500", "0.250"] in rows
    assert ["work.raw-insert", "1,000", "0.50", "2,000"] in rows
    [written] = json.loads(target.read_text(encoding="utf-8"))
    assert written["ratio"] == pytest.approx(0.25)
    assert written["measured"] == {"name": "work.measured", "count": 1_000, "seconds": 2.0}


def test_comparisons_and_storage_of_one_run_are_added_to_one_json_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bench.json"
    monkeypatch.setenv(BENCH_JSON, str(target))
    quiet = Console(file=io.StringIO())
    print_comparisons([Comparison(Timed("a", 10, 1.0), Timed("a.raw-insert", 10, 0.5))], quiet)
    print_storage(Stored("a.storage", count=4, size=10_000), quiet)
    first, second = json.loads(target.read_text(encoding="utf-8"))
    assert first["measured"]["name"] == "a"
    assert second == {"stored": {"name": "a.storage", "count": 4, "size": 10_000}}


def test_the_database_size_counts_the_rows_written_into_it(engine: Engine) -> None:
    scratch = Table(
        "yardstick_size_probe", MetaData(), Column("id", Integer, primary_key=True), Column("text", String(200))
    )
    scratch.create(engine)
    try:
        # Rows written and deleted before leave free pages, which the next rows fill first.
        with engine.begin() as connection:
            connection.execute(insert(scratch), [{"id": n, "text": "x" * 200} for n in range(5_000)])
            connection.execute(scratch.delete())
        before = database_size(engine)
        with engine.begin() as connection:
            connection.execute(insert(scratch), [{"id": n, "text": "x" * 200} for n in range(5_000)])
        assert database_size(engine) - before >= 5_000 * 200  # a megabyte of text is at least a megabyte
    finally:
        scratch.drop(engine)


def scratch_exists(engine: Engine, url: str) -> bool:
    """Whether the database of `url` exists (SQLite: its file; PostgreSQL: asked of the server `engine` is on)."""
    name = make_url(url).database
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return (
                connection.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}) == 1
            )
    return Path(name).exists()


def test_a_scratch_runtime_is_a_migrated_database_beside_the_configured_one_removed_afterwards(
    engine: Engine, settings: Settings
) -> None:
    runtime = build_runtime(settings)
    output = io.StringIO()
    try:
        with scratch_runtime(runtime, Console(file=output, width=400), "probe") as scratch:
            url = scratch.settings.database_url
            assert str(scratch.engine.url) == str(make_url(url)) != str(runtime.engine.url)
            assert "alembic_version" in inspect(scratch.engine).get_table_names(), "migrated to the installed heads"
            assert scratch_exists(engine, url)
        assert not scratch_exists(engine, url)
    finally:
        runtime.engine.dispose()
    assert (
        f"scratch database {make_url(url).render_as_string(hide_password=True)} (removed afterwards)"
        in output.getvalue()
    )
