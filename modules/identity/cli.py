"""Identity commands."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ...core.errors import Problem
from ...core.runtime import build_runtime
from . import idnumbers, service
from .config import identity_settings

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("new-ids")
def new_ids(count: Annotated[int, typer.Option(min=1, max=1000, help="How many")] = 5) -> None:
    """Print fresh ID numbers of this country's length (not reserved; for checking formats)."""
    length = build_runtime().country.section(service.SECTION).id_length
    for _ in range(count):
        console.print(idnumbers.generate(length, restricted=identity_settings().restricted_ids))


@app.command("show")
def show(national_id: str) -> None:
    """Show a registered person."""
    runtime = build_runtime()
    with runtime.session_factory() as session:
        try:
            person = service.get_person(session=session, national_id=national_id, country=runtime.country)
        except Problem as problem:
            console.print(f"[red]{problem.detail}[/red]")
            raise typer.Exit(1) from None
        console.print(
            f"{person.national_id}  {person.given_name} {person.family_name}  "
            f"born {person.date_of_birth}  {person.status}"
        )
