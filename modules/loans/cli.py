"""Loans commands."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Loans: products, applications, servicing and daily accrual", no_args_is_help=True)


# ---------------------------------------------------------------- servicing (servicing.py, camt054.py)


@contextmanager
def _servicing_runtime():
    """The runtime for a command, its engine closed at the end (`core.runtime.build_runtime` looked up when called)."""
    from ...core import runtime as core_runtime
    from ...core.cli_runtime import open_runtime

    runtime = open_runtime(core_runtime.build_runtime)
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


def _servicing_context(runtime, session):
    from .config import LoansSettings
    from .service import Context

    return Context(
        session=session, country=runtime.country, ports=runtime.ports, settings=runtime.settings_of(LoansSettings)
    )


def _print(text: str) -> None:
    from rich.console import Console

    Console().print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("write-off")
def write_off_command(
    reference: Annotated[str, typer.Argument(help="The loan's reference (LN-…)")],
    reason: Annotated[str, typer.Option(help="Why the loan is written off (audited)")],
    operator: Annotated[str, typer.Option("--as", help="Your name (a claim, audited with the system user)")],
) -> None:
    """Write a loan off: everything owed goes to expense:write_off."""
    from datetime import date

    from ...core.approvals import Signatory
    from ...core.cli_runtime import refused_problem
    from ...core.i18n import _
    from . import servicing

    with _servicing_runtime() as runtime, refused_problem(), runtime.session_factory.begin() as session:
        loan = servicing.write_off(
            context=_servicing_context(runtime, session),
            reference=reference,
            reason=reason,
            actor=Signatory.operator(operator).actor,
            today=date.today(),
        )
        _print(_("loan {reference} is {state}").format(reference=loan.reference, state=loan.state))


@app.command("statement")
def statement_command(reference: Annotated[str, typer.Argument(help="The loan's reference (LN-…)")]) -> None:
    """A loan's events, their lines and what was owed after each (minor units)."""
    from rich.console import Console
    from rich.table import Table

    from ...core.cli_runtime import refused_problem
    from ...core.i18n import _
    from . import servicing
    from .terms import COMPONENTS

    with _servicing_runtime() as runtime, refused_problem(), runtime.session_factory() as session:
        found = servicing.statement(session=session, reference=reference)
    table = Table(title=f"{found.reference} ({found.currency}, {found.state})")
    for heading in (_("booked"), _("event"), _("amount"), _("lines"), *COMPONENTS):
        table.add_column(heading)
    for event in found.events:
        lines = ", ".join(f"{account} {amount:+d}" for account, amount in event.lines.items())
        table.add_row(
            event.booked_on.isoformat(),
            event.kind,
            str(event.amount),
            lines,
            *(str(event.balances[c]) for c in COMPONENTS),
        )
    Console().print(table)


@app.command("portfolio")
def portfolio_command() -> None:
    """Active loans, outstanding principal, portfolio at risk (30 and 90 days) and the repayment rate."""
    from datetime import date

    from ...core.cli_runtime import refused_problem
    from ...core.i18n import _
    from . import servicing
    from .schemas import fraction_text

    with _servicing_runtime() as runtime, refused_problem(), runtime.session_factory() as session:
        found = servicing.portfolio(context=_servicing_context(runtime, session), today=date.today())
    _print(
        _(
            "{on}: {active} active loans, outstanding principal {principal} {currency}; "
            "PAR30 {par30}, PAR90 {par90}; repayment rate {rate} ({paid} of {due})"
        ).format(
            on=found.on.isoformat(),
            active=found.active_loans,
            principal=found.outstanding_principal,
            currency=found.currency,
            par30=fraction_text(found.par30) or "-",
            par90=fraction_text(found.par90) or "-",
            rate=fraction_text(found.repayment_rate) or "-",
            paid=found.paid_to_date,
            due=found.due_to_date,
        )
    )


@app.command("bank-credits")
def bank_credits_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A bank's camt.054")],
) -> None:
    """Apply the credits of a camt.054 as repayments (each credit once; unknown ones kept unmatched)."""
    from ...core.cli_runtime import refused_problem
    from ...core.i18n import _
    from . import camt054

    with _servicing_runtime() as runtime, refused_problem(), runtime.session_factory.begin() as session:
        result = camt054.ingest(context=_servicing_context(runtime, session), message=file.read_bytes(), actor="cli")
        for credit in result.credits:
            _print(
                f"{credit.entry_reference} {credit.loan_reference or '-'} {credit.amount} {credit.currency} "
                f"{credit.state} {credit.reason or ''}".rstrip()
            )
        _print(
            _("{file}: {read} credits: {matched} applied, {unmatched} unmatched, {already} already known").format(
                file=file.name,
                read=result.read,
                matched=result.matched,
                unmatched=result.unmatched,
                already=result.already,
            )
        )


# ---------------------------------------------------------------- daily accrual (accrual.py) and its bench


def _runtime():
    from ...core.cli_runtime import open_runtime
    from ...core.runtime import build_runtime

    return open_runtime(build_runtime)


@app.command("accrue")
def accrue_command(
    day: Annotated[str, typer.Option(help="The day to accrue and age, YYYY-MM-DD")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes sharing the day")] = 1,
    throttle: Annotated[float, typer.Option(min=0, help="Seconds to pause between chunks (eases load)")] = 0.0,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Accrue interest, age the portfolio and charge late penalties for a day; safe to kill, re-run, run in parallel."""
    from .accrual import accrue_command as accrue

    accrue(_runtime(), day, workers=workers, throttle=throttle, quiet=quiet)


@app.command("accrue-worker", hidden=True)
def accrue_worker_command(
    day: Annotated[str, typer.Option()],
    start: Annotated[float, typer.Option(min=0, max=1)] = 0.0,
    throttle: Annotated[float, typer.Option(min=0)] = 0.0,
) -> None:
    """One accrual worker (what `accrue --workers N` starts N of): a line per chunk done on standard output."""
    from .accrual import worker_command as work

    work(_runtime(), day, start=start, throttle=throttle)


@app.command("bench")
def bench_command(
    count: Annotated[int, typer.Option(min=1, help="Loans in the benchmark portfolio")] = 1_000_000,
    chunk_size: Annotated[int, typer.Option(min=100, help="Loans per chunk")] = 20_000,
) -> None:
    """Time a day's accrual and ageing of N loans against a raw bulk insert of as many accrual rows."""
    from rich.console import Console

    from .bench import run_bench

    runtime = _runtime()
    try:
        run_bench(runtime=runtime, count=count, chunk_size=chunk_size, console=Console())
    finally:
        runtime.engine.dispose()
