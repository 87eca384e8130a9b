"""Loans commands."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Loans: products, applications, servicing and daily accrual", no_args_is_help=True)


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
