"""`tax bench --count N`: bulk assessment against a raw bulk insert of the same rows, same database, same run.

Setup (not timed): N income-tax returns for the fiscal year 2199 (a year no real
return uses), with TINs from a reserved range. Baseline (timed): insert the rows an
assessment writes (N assessments with a trace of the same shape, N account entries)
with the same driver-level bulk insert (COPY on PostgreSQL, executemany on SQLite),
then delete them. Measured (timed): `bulk.assess_all` over
the same returns: select each chunk, calculate, insert. The core's harness prints both
and their ratio (core/yardstick.py). Everything the bench wrote is deleted at the end,
except the audit events of the bulk chunks (append-only).
"""

from __future__ import annotations

import random
import time
from datetime import date

from rich.console import Console
from sqlalchemy import delete, func, select
from stdnum import luhn

from ...core import migrate
from ...core.bulk import driver_value, insert_rows
from ...core.i18n import _, ngettext
from ...core.models import utcnow
from ...core.runtime import Runtime
from ...core.yardstick import Comparison, Stopwatch, Stored, Timed, database_size, print_comparisons, print_storage
from . import bulk, service
from .fast import YearLaw
from .models import AccountEntry, Assessment, TaxReturn

BENCH_YEAR = 2199
ACTOR = "bench"


def bench_tins(count: int, length: int) -> list[str]:
    """TINs 8000…: a range random issuance may also use, but only for the bench year's returns."""
    width = length - 2
    if count > 10**width:
        raise ValueError(
            "--count: " + _("at most {limit} returns with {length}-digit TINs").format(limit=10**width, length=length)
        )
    return [body + luhn.calc_check_digit(body) for body in (f"8{i:0{width}d}" for i in range(count))]


def run(*, runtime: Runtime, count: int, chunk: int, console: Console) -> None:
    engine = runtime.engine
    migrate.upgrade(engine)
    country = runtime.country
    rules = service.rules_for(country)
    year_law = YearLaw.of(rules.income, BENCH_YEAR)
    tins = bench_tins(count, service.tax_country(country).tin_length)
    rng = random.Random(2199)  # noqa: S311 - reproducible bench data, not secrets
    top = max(year_law.thresholds[-1], 1) * 3
    incomes = [rng.randrange(0, top) for _ in range(count)]
    factory = runtime.session_factory
    console.print(
        ngettext(
            "database: {url}; {count} return, chunk {chunk}", "database: {url}; {count} returns, chunk {chunk}", count
        ).format(url=engine.url.render_as_string(hide_password=True), count=f"{count:,}", chunk=f"{chunk:,}")
    )

    _cleanup(factory)
    size_before_returns = database_size(engine)
    started = time.perf_counter()
    for start in range(0, count, chunk):
        with factory.begin() as session:
            bulk.load_returns(
                session=session,
                country=country,
                year=BENCH_YEAR,
                rows=list(zip(tins[start : start + chunk], incomes[start : start + chunk], strict=True)),
                actor=ACTOR,
            )
    console.print(
        ngettext(
            "setup: {count} return stored in {seconds} s (not timed)",
            "setup: {count} returns stored in {seconds} s (not timed)",
            count,
        ).format(count=f"{count:,}", seconds=f"{time.perf_counter() - started:.1f}")
    )

    returns_size = database_size(engine) - size_before_returns

    # Baseline: the same rows, written without selecting or calculating anything.
    with factory() as session:
        return_ids = list(session.scalars(select(TaxReturn.id).where(TaxReturn.period == str(BENCH_YEAR))))
    taxable, tax_due, exact = year_law.calculate(incomes[0])
    trace = year_law.trace_writer()(incomes[0], taxable, tax_due, exact)
    today = date.today()
    with Stopwatch() as baseline:
        for start in range(0, count, chunk):
            with factory.begin() as session:
                connection = session.connection()
                now = utcnow()
                assessed_at = driver_value(connection, Assessment.__table__.c.assessed_at, now)
                due_on = driver_value(connection, Assessment.__table__.c.due_on, today)
                booked_on = driver_value(connection, AccountEntry.__table__.c.booked_on, today)
                created_at = driver_value(connection, AccountEntry.__table__.c.created_at, now)
                fixed_figures = (BENCH_YEAR, "income", str(BENCH_YEAR), taxable, tax_due, 0)
                booked = (booked_on, created_at)
                ids = return_ids[start : start + chunk]
                tins_here = tins[start : start + chunk]
                assessment_rows = [
                    (return_id, tin, *fixed_figures, due_on, rules.currency, "current", trace, assessed_at)
                    for return_id, tin in zip(ids, tins_here, strict=True)
                ]
                insert_rows(connection, Assessment.__table__, bulk.ASSESSMENT_COLUMNS, assessment_rows)
                entry_rows = [
                    (
                        tin,
                        "assessed",
                        tax_due,
                        rules.currency,
                        f"bench-baseline:{return_id}",
                        None,
                        "committed",
                        *booked,
                    )
                    for return_id, tin in zip(ids, tins_here, strict=True)
                ]
                insert_rows(connection, AccountEntry.__table__, bulk.ENTRY_COLUMNS, entry_rows)
    _cleanup(factory, keep_returns=True)

    size_before_assessments = database_size(engine)
    with Stopwatch() as measured:
        result = bulk.assess_all(
            session_factory=factory, country=country, year=BENCH_YEAR, actor=ACTOR, chunk_size=chunk, today=today
        )
    # A return and its assessment, account entry and trace: what each filed return keeps on disk.
    per_return = Stored("tax.storage", count, returns_size + database_size(engine) - size_before_assessments)
    with factory() as session:
        stored = session.scalar(
            select(func.count()).select_from(Assessment).where(Assessment.period == str(BENCH_YEAR))
        )
    _cleanup(factory)
    if result.assessed != count or stored != count:
        raise RuntimeError(f"assessed {result.assessed}, stored {stored}, expected {count}")
    print_comparisons(
        [
            Comparison(
                Timed("tax.assessment", count, measured.seconds), Timed("tax.raw-insert", count, baseline.seconds)
            )
        ],
        console,
    )
    print_storage(per_return, console)


def _cleanup(factory, *, keep_returns: bool = False) -> None:
    with factory.begin() as session:
        session.execute(delete(AccountEntry).where(AccountEntry.reference.like("bench-baseline:%")))
        assessments = select(Assessment.id).where(Assessment.period == str(BENCH_YEAR))
        session.execute(delete(AccountEntry).where(AccountEntry.assessment_id.in_(assessments)))
        session.execute(delete(Assessment).where(Assessment.period == str(BENCH_YEAR)))
        if not keep_returns:
            session.execute(delete(TaxReturn).where(TaxReturn.period == str(BENCH_YEAR)))
