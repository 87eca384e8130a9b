"""Loans commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Loans: products, applications, servicing and daily accrual", no_args_is_help=True)
