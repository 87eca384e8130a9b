"""Measuring on machines of different speed: the benches' one harness, and the machine yardstick.

A rate measured on one machine says little about another: the same code ran three times
slower on a crowded host than on a quiet one. So every module's bench times its path against
a baseline run in the same process, on the same database, with the same rows (a raw bulk
insert of what the path wrote) and reports the ratio of their rates (`Comparison`), printed
as one table and, when NATION_STACK_BENCH_JSON names a file, written there as JSON for
scripts. Goals written for a reference machine ("30,000 residents/s where a raw executemany
of a million rows with a unique key runs at 150,000/s") are checked against the yardstick
(`measure`), measured in the same run, on the same database. A bench that writes a deployment's
worth of rows runs on a scratch database of its own (`scratch_runtime`), so the deployment's
data is never touched.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.table import Table as TextTable
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, func, make_url, select, text

from . import migrate
from .bulk import insert_rows
from .db import is_sqlite, make_engine, make_session_factory
from .i18n import _
from .runtime import Runtime

CHUNK = 10_000
BENCH_JSON = "NATION_STACK_BENCH_JSON"


class Stopwatch:
    """`with watch: ...` adds the block's wall time to `watch.seconds` (a watch may time several blocks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.seconds += time.perf_counter() - self._started


@dataclass(frozen=True)
class Timed:
    """`count` units (rows, residents, returns) done in `seconds`; `name` is a stable key, e.g. `tax.assessment`."""

    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass(frozen=True)
class Comparison:
    """A path timed against its same-run baseline: `ratio` is the path's rate over the baseline's
    (1.0: as fast as a raw bulk insert of the same rows). Raw rates differ from machine to
    machine; the ratio is what a change to the code moves."""

    measured: Timed
    baseline: Timed

    @property
    def ratio(self) -> float:
        return self.measured.rate / self.baseline.rate

    def as_json(self) -> dict[str, object]:
        return {"measured": asdict(self.measured), "baseline": asdict(self.baseline), "ratio": self.ratio}


def print_comparisons(comparisons: Sequence[Comparison], console: Console) -> None:
    """Print the comparisons as one table (stable names, no prose), and add them to
    the file NATION_STACK_BENCH_JSON names, if any."""
    table = TextTable(box=None, padding=(0, 2))
    for heading in ("", "n", "s", "n/s", "×"):
        table.add_column(heading, justify="left" if not heading else "right")
    for comparison in comparisons:
        for timed, ratio in ((comparison.measured, f"{comparison.ratio:.3f}"), (comparison.baseline, "")):
            table.add_row(timed.name, f"{timed.count:,}", f"{timed.seconds:.2f}", f"{timed.rate:,.0f}", ratio)
    console.print(table)
    _record([comparison.as_json() for comparison in comparisons])


@dataclass(frozen=True)
class Stored:
    """`count` units (residents, payments, returns) took `size` bytes of the database (tables,
    indexes and the audit events they wrote): the storage figure sizing is derived from."""

    name: str
    count: int
    size: int

    @property
    def per_unit(self) -> float:
        return self.size / self.count


def database_size(engine: Engine) -> int:
    """The bytes the database occupies now (PostgreSQL: the whole database; SQLite: its pages in use)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return int(connection.scalar(text("SELECT pg_database_size(current_database())")))
        # Pages freed by deleted rows stay in the file and are reused first: count only the pages in use.
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        free = connection.exec_driver_sql("PRAGMA freelist_count").scalar()
        return int((pages - free) * connection.exec_driver_sql("PRAGMA page_size").scalar())


def print_storage(stored: Stored, console: Console) -> None:
    """Print what `stored` units took on disk, and add it to the NATION_STACK_BENCH_JSON file, if any."""
    console.print(f"{stored.name}: {stored.count:,} in {stored.size:,} bytes = {stored.per_unit:,.0f} bytes each")
    _record([{"stored": asdict(stored)}])


def _record(entries: list[dict[str, object]]) -> None:
    """Add `entries` to the JSON list in the file NATION_STACK_BENCH_JSON names (one file per run)."""
    target = os.environ.get(BENCH_JSON)
    if not target:
        return
    path = Path(target)
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    path.write_text(json.dumps([*recorded, *entries], indent=2) + "\n", encoding="utf-8")


@contextmanager
def scratch_runtime(runtime: Runtime, console: Console, name: str) -> Iterator[Runtime]:
    """The runtime pointed at a new database beside the configured one, migrated to the installed
    heads; dropped on the way out. SQLite: a file in the configured file's folder (`name` is its
    stem when the configured database is in memory); PostgreSQL: a new database on the same server."""
    url = make_url(runtime.settings.database_url)
    suffix = f"bench_{uuid.uuid4().hex[:8]}"
    admin = None
    if is_sqlite(runtime.settings.database_url):
        configured = Path(url.database or "") if url.database not in (None, "", ":memory:") else None
        folder = configured.parent if configured else Path.cwd()
        scratch = url.set(database=str(folder / f"{configured.stem if configured else name}.{suffix}.db"))
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


@dataclass(frozen=True)
class Yardstick:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def scaled(self, rate: float, reference_rate: float) -> float:
        """`rate` as it would be on a machine whose yardstick runs at `reference_rate`."""
        return rate * reference_rate / self.rate


def measure(engine: Engine, rows: int) -> Yardstick:
    """Insert `rows` rows (integer key, random 10-digit unique text, 100-character payload) in
    transactions of 10,000 through the core's bulk path, into a scratch table dropped afterwards;
    the rows counted back (untimed) are the ones reported."""
    table = Table(
        f"yardstick_{secrets.token_hex(4)}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("unique_key", String(20), unique=True, nullable=False),
        Column("payload", String(100), nullable=False),
    )
    keys = _distinct_keys(rows)
    payload = "x" * 100
    table.create(engine)
    try:
        started = time.perf_counter()
        for start in range(0, rows, CHUNK):
            batch = [(number, keys[number], payload) for number in range(start, min(rows, start + CHUNK))]
            with engine.begin() as connection:
                insert_rows(connection, table, ("id", "unique_key", "payload"), batch)
        seconds = time.perf_counter() - started
        with engine.connect() as connection:
            written = connection.scalar(select(func.count()).select_from(table))
        return Yardstick(rows=written, seconds=seconds)
    finally:
        table.drop(engine)


def _distinct_keys(count: int) -> list[str]:
    keys: set[str] = set()
    while len(keys) < count:
        keys.update(str(secrets.randbelow(9 * 10**9) + 10**9) for _ in range(count - len(keys)))
    return list(keys)
