"""Identity commands: IDs, people, partner policies, synthetic populations, bulk import, benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ...core.errors import Problem
from ...core.runtime import build_runtime
from . import idnumbers, importer, policies, service, synth
from .config import identity_settings
from .schemas import EKYC_ATTRIBUTES

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


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


@app.command("policy")
def policy(
    partner_id: Annotated[int, typer.Option(help="The partner's id (from `partner create`)")],
    auth: Annotated[list[str], typer.Option(help="Authentication factor allowed: demo, otp (repeatable)")] = [],  # noqa: B006
    kyc: Annotated[list[str], typer.Option(help="eKYC attribute shared (repeatable)")] = [],  # noqa: B006
) -> None:
    """Set a relying party's policy: which factors it may use and which eKYC attributes it sees."""
    bad = sorted(set(auth) - {"demo", "otp"}) + sorted(set(kyc) - set(EKYC_ATTRIBUTES))
    if bad:
        err_console.print(
            f"[red]unknown {', '.join(bad)}; factors: demo, otp; attributes: {', '.join(EKYC_ATTRIBUTES)}[/red]"
        )
        raise typer.Exit(2)
    runtime = build_runtime()
    try:
        with runtime.session_factory.begin() as session:
            row = policies.set_policy(
                session=session, partner_id=partner_id, auth_types=auth, ekyc_attributes=kyc, actor="cli"
            )
            console.print(f"partner {partner_id}: factors {row.auth_types}, eKYC {row.ekyc_attributes}")
    except Problem as problem:
        err_console.print(f"[red]{problem.detail}[/red]")
        raise typer.Exit(1) from None


@app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option(help="CSV file to write")],
    count: Annotated[int, typer.Option(min=1, help="Residents")] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same population")] = 1,
    duplicates: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of near-duplicate rows")] = 0.02,
    locale: Annotated[
        str | None,
        typer.Option(help="Faker locale for names (default: the country's; some, e.g. ja_JP, have few names)"),
    ] = None,
) -> None:
    """Write a synthetic population register (the country's Faker locale), with known near-duplicates."""
    runtime = build_runtime()
    profile = runtime.country.profile
    rows = synth.population(
        count=count,
        seed=seed,
        duplicates=duplicates,
        locale=locale or profile.locale,
        phone_region=profile.phone_region,
        address_levels=profile.address_levels,
    )
    with _progress() as progress:
        task = progress.add_task("synthesising", total=count)
        written = synth.write_csv(out, _advancing(rows, progress, task), profile.address_levels)
    console.print(f"wrote {written} residents to {out}")


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Population register CSV")],
    rejects: Annotated[Path, typer.Option(help="Where bad rows go, with line number and reason")],
    chunk_size: Annotated[int, typer.Option(min=100, max=100_000, help="Rows per transaction")] = 5000,
) -> None:
    """Enrol a population register; re-running continues from the last committed chunk."""
    runtime = build_runtime()
    total = max(importer.count_lines(file) - 1, 0)
    with _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=total)
        try:
            summary = importer.import_register(
                session_factory=runtime.session_factory,
                path=file,
                rejects=rejects,
                country=runtime.country,
                settings=identity_settings(),
                chunk_size=chunk_size,
                on_progress=lambda line: progress.update(task, completed=line - 1),
            )
        except importer.ImportFileError as error:
            err_console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    if summary.resumed_from_line:
        console.print(f"resumed after line {summary.resumed_from_line}")
    console.print(
        f"enrolled {summary.enrolled}, held for adjudication {summary.held}, rejected {summary.rejected} "
        f"(see {rejects}), already enrolled {summary.already}"
    )


@app.command("bench")
def bench_command(
    count: Annotated[int, typer.Option(min=100, help="Synthetic residents to enrol")] = 10_000,
    chunk_size: Annotated[int, typer.Option(min=100, help="Rows per transaction")] = 10_000,
    auth_requests: Annotated[int, typer.Option(min=100, help="Authentications in the load test")] = 20_000,
    clients: Annotated[int, typer.Option(min=1, max=256, help="Concurrent client threads")] = 8,
    keep: Annotated[bool, typer.Option(help="Keep the enrolled residents (default: removed afterwards)")] = False,
) -> None:
    """Enrolment and authentication throughput, with a same-run raw-insert baseline."""
    from .bench import run

    run(
        count=count,
        chunk_size=chunk_size,
        auth_requests=auth_requests,
        clients=clients,
        keep=keep,
        console=console,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )


def _advancing(rows, progress: Progress, task):
    for row in rows:
        yield row
        progress.advance(task)
