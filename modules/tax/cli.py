"""Tax commands."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ...core.country import CountryProfileError
from ...core.errors import Problem
from ...core.money import Money, MoneyError
from ...core.registry import installed_modules
from ...core.runtime import load_profile
from ...core.settings import get_settings
from . import service

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
    try:
        country = load_profile(get_settings(), installed_modules())
    except CountryProfileError as error:
        err_console.print(f"[red]Configuration error[/red]\n{error}")
        raise typer.Exit(2) from None
    currency = country.profile.currency
    try:
        amount = Money.from_major(income, currency)
    except MoneyError as error:
        err_console.print(f"[red]--income: {error}[/red]")
        raise typer.Exit(2) from None
    try:
        law = service.income_tax_law(country=country)
        calculation = law.calculate(income=amount.amount, year=year)
    except Problem as problem:
        err_console.print(f"[red]{problem.detail}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    for step in calculation.trace:
        console.print(f"  {step.step:<13} {step.note}", highlight=False, soft_wrap=True)
    console.print(f"tax due for {year}: {law.format_amount(calculation.tax_due)}", highlight=False)
