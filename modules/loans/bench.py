"""`loans bench --count N`: a day's accrual and ageing of N loans against a raw bulk insert of the same rows.

Setup (not timed): N active loans with their schedules (tests/portfolio.py: two products, a
thousand templates of principal, age and arrears, one loan in twenty late), as the accrual left
them on the eve of the day. Measured (timed): `accrual.run_worker` over the day, one worker, in
chunks of `--chunk-size`: each loan's interest and days past due, its accrual row, the loan moved
on, and the penalties of the instalments whose grace ended that day, booked.

Baseline: the N accrual rows the day wrote, read back as the driver returns them (not timed) and
inserted again with `core.bulk.insert_rows` (COPY on PostgreSQL, one executemany per batch on
SQLite) into an empty copy of `loans_accrual` with the same columns, keys and storage, and its
foreign key to `loans_loan` (the rows name the same loans: the database checks each, as it does
for the accrual's), in one transaction; the inserts and the commit are timed. Ratio
(core/yardstick.py) = the accrual's rate over the baseline's: the share of the day's time that
writing its accrual rows alone would take.

It runs on a fresh scratch database beside the configured one (SQLite: a file in the same folder;
PostgreSQL: a new database on the same server), migrated and removed afterwards (core.yardstick's
`scratch_runtime`).
"""

from __future__ import annotations

from datetime import date, timedelta

from rich.console import Console
from sqlalchemy import MetaData, Table

from ...core import yardstick
from ...core.bulk import driver_value, insert_rows, scratch_copy
from ...core.db import NAMING_CONVENTION, make_engine, make_session_factory
from ...core.i18n import _
from ...core.runtime import Runtime
from ...core.yardstick import Comparison, Stopwatch, Stored, Timed, database_size, print_comparisons, print_storage
from . import accrual
from .config import LoansCountry
from .models import Accrual, Loan
from .tests.portfolio import create_portfolio

BASELINE_BATCH = 50_000


def run_bench(*, runtime: Runtime, count: int, chunk_size: int, console: Console) -> dict[str, float]:
    with yardstick.scratch_runtime(runtime, console, "loans") as scratch:
        return _run(runtime=scratch, count=count, chunk_size=chunk_size, console=console)


def _run(*, runtime: Runtime, count: int, chunk_size: int, console: Console) -> dict[str, float]:
    country = runtime.country
    section: LoansCountry = country.section("loans")
    rounding = section.rounding.for_currency(country.profile.currency)
    day = accrual.today_in(country) - timedelta(days=1)
    console.print(
        _("benchmark: {count} loans accrued for {day} on {database}").format(
            count=f"{count:,}", day=day.isoformat(), database=runtime.engine.url.get_backend_name()
        )
    )
    with Stopwatch() as setup:
        portfolio = create_portfolio(
            runtime.engine, count=count, day=day, rounding=rounding, currency=country.profile.currency
        )
    console.print(_("portfolio written in {seconds} s (not timed)").format(seconds=f"{setup.seconds:.1f}"))

    size_before = database_size(runtime.engine)
    engine = accrual.immediate_transactions(make_engine(runtime.settings.database_url))
    try:
        with Stopwatch() as measured:
            report = accrual.run_worker(
                session_factory=make_session_factory(engine), day=day, rounding=rounding, chunk_size=chunk_size
            )
    finally:
        engine.dispose()
    stored = Stored("loans.accrual-storage", count, database_size(runtime.engine) - size_before)
    expected = portfolio.expected
    if (report.loans, report.interest, report.penalties) != (count, expected.interest, expected.penalties):
        raise RuntimeError(
            f"accrued {report.loans} loans, {report.interest} interest, {report.penalties} penalties; "
            f"expected {count}, {expected.interest}, {expected.penalties}"
        )
    rows, baseline = _baseline(runtime, day)
    console.print(
        _(
            "{loans} loans in {chunks} chunks of {size}: {seconds} s = {rate} loans/s; {penalties} late penalties"
        ).format(
            loans=f"{report.loans:,}",
            chunks=report.chunks,
            size=f"{chunk_size:,}",
            seconds=f"{measured.seconds:.2f}",
            rate=f"{report.loans / measured.seconds:,.0f}",
            penalties=f"{report.penalties:,}",
        )
    )
    print_comparisons(
        [Comparison(Timed("loans.accrual", count, measured.seconds), Timed("loans.raw-insert", rows, baseline))],
        console,
    )
    print_storage(stored, console)
    return {
        "seconds": measured.seconds,
        "rate": count / measured.seconds,
        "accrual_rows": rows,
        "baseline_seconds": baseline,
        "ratio": baseline / measured.seconds,  # the same rows in both: the rates' ratio
    }


def baseline_table(metadata: MetaData) -> Table:
    """The empty copy of `loans_accrual` the baseline writes into, its foreign key to the real loans kept."""
    table = Accrual.__table__
    return scratch_copy(table, f"{table.name}_bench_raw", metadata, references={Loan.__tablename__: Loan.__table__})


def _baseline(runtime: Runtime, day: date) -> tuple[int, float]:
    """Insert the day's accrual rows again, with `core.bulk.insert_rows`, into an empty copy of `loans_accrual`.

    Read back as the driver returns them (not timed); the inserts and the commit are timed.
    Returns the rows and the seconds.
    """
    table = Accrual.__table__
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    copy = baseline_table(metadata)
    metadata.create_all(runtime.engine)
    columns = [column.name for column in table.columns]
    try:
        with runtime.engine.connect() as connection:
            mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
            # Our own table and column names; the one value is bound.
            sql = f"SELECT {', '.join(columns)} FROM {table.name} WHERE day = {mark} ORDER BY loan_id"  # noqa: S608
            rows = [
                tuple(row) for row in connection.exec_driver_sql(sql, (driver_value(connection, table.c.day, day),))
            ]
        inserting = Stopwatch()
        with runtime.engine.connect() as connection:
            for start in range(0, len(rows), BASELINE_BATCH):
                with inserting:
                    insert_rows(connection, copy, columns, rows[start : start + BASELINE_BATCH])
            with inserting:
                connection.commit()
        return len(rows), inserting.seconds
    finally:
        metadata.drop_all(runtime.engine)
