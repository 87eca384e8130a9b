"""Payments commands."""

from __future__ import annotations

import typer
from rich.console import Console

from ...core.runtime import build_runtime
from . import service

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def payments() -> None:
    """Payments: ledger checks."""


@app.command("ledger-check")
def ledger_check() -> None:
    """Verify every transfer's entries sum to zero and no no-negative account is negative; exit 1 if not."""
    runtime = build_runtime()
    try:
        with runtime.session_factory() as session:
            report = service.check_ledger(session=session)
    finally:
        runtime.engine.dispose()
    console.print(f"checked {report.transfers} transfers, {report.entries} entries, {report.accounts} accounts")
    for violation in report.violations:
        err_console.print(f"[red]{violation}[/red]")
    if not report.balanced:
        err_console.print(f"[red]{len(report.violations)} ledger violation(s)[/red]")
        raise typer.Exit(1)
    console.print("[green]ledger balanced[/green]")
