"""Tax commands."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ...core.cli_runtime import command_runtime, refused_problem
from ...core.i18n import _, ngettext
from ...core.money import Money, MoneyError
from . import bulk, service

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def tax() -> None:
    """Income tax from this deployment's law (country.yml)."""


@app.command("calc")
def calc(
    year: Annotated[int, typer.Option(min=1900, max=2200, help="Fiscal year")],
    income: Annotated[str, typer.Option(help="Income in major units, e.g. 5000000 or 1234.56")],
) -> None:
    """Compute income tax from this deployment's country.yml and show how (no database needed)."""
    with command_runtime() as runtime:
        country = runtime.country
    currency = country.profile.currency
    try:
        amount = Money.from_major(income, currency)
    except MoneyError as error:
        err_console.print(f"--income: {error}", style="red", markup=False)
        raise typer.Exit(2) from None
    with refused_problem():
        law = service.income_tax_law(country=country)
        calculation = law.calculate(income=amount.amount, year=year)
    for step in calculation.trace:
        console.print(f"  {step.step:<13} {step.note}", highlight=False, soft_wrap=True)
    tax_due = law.format_amount(calculation.tax_due)
    console.print(_("tax due for {year}: {amount}").format(year=year, amount=tax_due), highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@app.command("assess-all")
def assess_all(
    year: Annotated[int, typer.Option(min=1900, max=2200, help="Fiscal year whose filed returns are assessed")],
    chunk: Annotated[int, typer.Option(min=1, max=100_000, help="Returns per transaction")] = bulk.DEFAULT_CHUNK,
) -> None:
    """Assess every filed, not yet assessed income-tax return of a year (chunked; run again to resume)."""
    with command_runtime() as runtime, refused_problem():
        with runtime.session_factory() as session:
            total = bulk.pending_count(session=session, year=year)
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task(_("assessing {year}").format(year=year), total=total, rate="")

            def advance(done: int) -> None:
                progress.advance(task, done)
                rate = progress.tasks[0].completed / (time.perf_counter() - started)
                progress.update(task, rate=_("{rate} returns/s").format(rate=f"{rate:,.0f}"))

            result = bulk.assess_all(
                session_factory=runtime.session_factory,
                country=runtime.country,
                year=year,
                actor="cli:assess-all",
                chunk_size=chunk,
                progress=advance,
            )
    returns = ngettext("{count} return", "{count} returns", result.assessed).format(count=result.assessed)
    chunks = ngettext("{count} chunk", "{count} chunks", result.chunks).format(count=result.chunks)
    tax_due = service.income_tax_law(country=runtime.country).format_amount(result.tax_due)
    console.print(
        _("assessed {returns} for {year} in {chunks}; tax due {amount}").format(
            returns=returns, year=year, chunks=chunks, amount=tax_due
        ),
        highlight=False,
    )


@app.command("export-incomes")
def export_incomes(
    year: Annotated[int, typer.Option(min=1900, max=2200, help="Fiscal year")],
    out: Annotated[Path, typer.Option(help="CSV file to write ('-' for standard output)")] = Path("-"),
) -> None:
    """Assessed income per taxpayer for a year, as CSV, for the payments module's means-tested programmes."""
    with command_runtime() as runtime:
        handle = sys.stdout if str(out) == "-" else out.open("w", newline="", encoding="utf-8")
        count = 0
        try:
            writer = csv.writer(handle)
            writer.writerow(["tin", "reference", "year", "income", "taxable", "tax_due", "currency", "assessment_id"])
            with runtime.session_factory() as session:
                for tin, reference, income, taxable, tax_due, currency, assessment_id in bulk.iter_assessed(
                    session=session, year=year
                ):
                    writer.writerow([tin, reference or "", year, income, taxable, tax_due, currency, assessment_id])
                    count += 1
        finally:
            if handle is not sys.stdout:
                handle.close()
    if handle is not sys.stdout:
        console.print(
            ngettext(
                "wrote {count} assessed income for {year} to {out}",
                "wrote {count} assessed incomes for {year} to {out}",
                count,
            ).format(count=count, year=year, out=out)
        )


@app.command("bench")
def bench_command(
    count: Annotated[int, typer.Option(min=1, max=10_000_000, help="Returns to assess")] = 100_000,
    chunk: Annotated[int, typer.Option(min=100, max=100_000, help="Returns per transaction")] = 20_000,
) -> None:
    """Assess COUNT returns on DATABASE_URL; print returns/s and the ratio to a raw bulk insert of the same rows."""
    from . import bench

    with command_runtime() as runtime:
        bench.run(runtime=runtime, count=count, chunk=chunk, console=console)
