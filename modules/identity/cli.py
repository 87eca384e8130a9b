"""Identity commands: IDs, people, policies, synthetic populations, bulk import, benchmark, DCI subscriptions."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ...core import i18n
from ...core.cli_runtime import command_runtime, refused_problem
from ...core.i18n import _, ngettext
from . import dci_subscriptions, delivery, idnumbers, importer, mosip, mosip_crypto, policies, service, synth
from .auth import FACTORS
from .config import IdentitySettings
from .models import DciSubscription
from .pipeline import default_workers
from .schemas import EKYC_ATTRIBUTES

WORKERS_HELP = "Processes preparing rows beside the writer (default: 1 with a second core, else 0: in-process)"

app = typer.Typer(no_args_is_help=True)
notify_app = typer.Typer(no_args_is_help=True, help="Messages to residents: the outbox and its delivery")
app.add_typer(notify_app, name="notify")
mosip_app = typer.Typer(no_args_is_help=True, help="MOSIP ID Authentication: relying parties and our certificate")
app.add_typer(mosip_app, name="mosip")
dci_app = typer.Typer(no_args_is_help=True, help="DCI civil registries: subscribe to their live births and deaths")
app.add_typer(dci_app, name="dci")
console = Console()
err_console = Console(stderr=True)


@app.command("new-ids")
def new_ids(count: Annotated[int, typer.Option(min=1, max=1000, help="How many")] = 5) -> None:
    """Print fresh ID numbers of this country's length (not reserved; for checking formats)."""
    with command_runtime() as runtime:
        length = runtime.country.section(service.SECTION).id_length
        restricted = runtime.settings_of(IdentitySettings).restricted_ids
        for _number in range(count):
            console.print(idnumbers.generate(length, restricted=restricted))


@app.command("show")
def show(national_id: str) -> None:
    """Show a registered person."""
    with command_runtime() as runtime, refused_problem(), runtime.session_factory() as session:
        person = service.get_person(session=session, national_id=national_id, country=runtime.country)
        line = _("{national_id}  {given_name} {family_name}  born {date_of_birth}  {status}").format(
            national_id=person.national_id,
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=i18n.format_date(person.date_of_birth),
            status=person.status,
        )
        console.print(line, markup=False)


@app.command("policy")
def policy(
    partner_id: Annotated[int, typer.Option(help="The partner's id (from `partner create`)")],
    auth: Annotated[list[str], typer.Option(help="Authentication factor allowed: demo, otp (repeatable)")] = [],  # noqa: B006
    kyc: Annotated[list[str], typer.Option(help="eKYC attribute shared (repeatable)")] = [],  # noqa: B006
) -> None:
    """Set a relying party's policy: which factors it may use and which eKYC attributes it sees."""
    bad = sorted(set(auth) - set(FACTORS)) + sorted(set(kyc) - set(EKYC_ATTRIBUTES))
    if bad:
        err_console.print(
            _("unknown {unknown}; factors: {factors}; attributes: {attributes}").format(
                unknown=", ".join(bad), factors=", ".join(FACTORS), attributes=", ".join(EKYC_ATTRIBUTES)
            ),
            style="red",
        )
        raise typer.Exit(2)
    with command_runtime() as runtime, refused_problem(), runtime.session_factory.begin() as session:
        row = policies.set_policy(
            session=session, partner_id=partner_id, auth_types=auth, ekyc_attributes=kyc, actor="cli"
        )
        console.print(
            _("partner {partner}: factors {factors}, eKYC {attributes}").format(
                partner=partner_id,
                factors=", ".join(row.auth_types) or _("none"),
                attributes=", ".join(row.ekyc_attributes) or _("none"),
            )
        )


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
    with command_runtime() as runtime:
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
            task = progress.add_task(_("synthesising"), total=count)
            written = synth.write_csv(out, _advancing(rows, progress, task), profile.address_levels)
        wrote = ngettext("wrote {count} resident to {path}", "wrote {count} residents to {path}", written)
        console.print(wrote.format(count=written, path=out), markup=False)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Population register CSV")],
    rejects: Annotated[Path, typer.Option(help="Where bad rows go, with line number and reason")],
    chunk_size: Annotated[int, typer.Option(min=100, max=100_000, help="Rows per transaction")] = 50_000,
    workers: Annotated[int | None, typer.Option(min=0, max=8, help=WORKERS_HELP)] = None,
) -> None:
    """Enrol a population register; re-running continues from the last committed chunk."""
    with command_runtime() as runtime:
        total = max(importer.count_lines(file) - 1, 0)
        with _progress() as progress:
            task = progress.add_task(_("importing {file}").format(file=file.name), total=total)
            try:
                summary = importer.import_register(
                    session_factory=runtime.session_factory,
                    path=file,
                    rejects=rejects,
                    country=runtime.country,
                    settings=runtime.settings_of(IdentitySettings),
                    chunk_size=chunk_size,
                    workers=workers,
                    on_progress=lambda line: progress.update(task, completed=line - 1),
                )
            except importer.ImportFileError as error:
                err_console.print(str(error), style="red", markup=False)
                raise typer.Exit(2) from None
        if summary.resumed_from_line:
            console.print(_("resumed after line {line}").format(line=summary.resumed_from_line))
        console.print(
            _(
                "enrolled {enrolled}, held for adjudication {held}, rejected {rejected} (see {rejects}), "
                "already enrolled {already}"
            ).format(
                enrolled=summary.enrolled,
                held=summary.held,
                rejected=summary.rejected,
                rejects=rejects,
                already=summary.already,
            ),
            markup=False,
        )


@app.command("bench")
def bench_command(
    count: Annotated[int, typer.Option(min=100, help="Synthetic residents to enrol")] = 10_000,
    chunk_size: Annotated[int, typer.Option(min=100, help="Rows per transaction")] = 50_000,
    workers: Annotated[int | None, typer.Option(min=0, max=8, help=WORKERS_HELP)] = None,
    auth_requests: Annotated[int, typer.Option(min=100, help="Authentications in the load test")] = 20_000,
    clients: Annotated[int, typer.Option(min=1, max=256, help="Concurrent client threads")] = 8,
    keep: Annotated[bool, typer.Option(help="Keep the enrolled residents (default: removed afterwards)")] = False,
) -> None:
    """Enrolment and authentication throughput, with a same-run raw-insert baseline."""
    from .bench import run

    # One `identity.authentication` line per request would flood the console the results are printed on.
    logging.getLogger(__package__).setLevel(logging.WARNING)
    with command_runtime() as runtime:
        run(
            runtime=runtime,
            count=count,
            chunk_size=chunk_size,
            workers=default_workers() if workers is None else workers,
            auth_requests=auth_requests,
            clients=clients,
            keep=keep,
            console=console,
        )


@notify_app.command("deliver")
def notify_deliver(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most messages settled in this pass")] = 100,
) -> None:
    """Send the outbox's due messages once, through each channel's transport (IDENTITY_NOTIFY_SMS, _EMAIL)."""
    with command_runtime() as runtime, runtime.session_factory() as session:
        identity = runtime.settings_of(IdentitySettings)
        counts = delivery.deliver_pending(session, runtime.settings, limit=limit, identity=identity)
        pending = delivery.outbox_depth(session)
    console.print(
        _("sent {sent}, to retry {retrying}, failed {failed}, expired {expired}; {pending} pending").format(
            sent=counts.sent, retrying=counts.retrying, failed=counts.failed, expired=counts.expired, pending=pending
        )
    )


@mosip_app.command("onboard")
def mosip_onboard(
    partner_id: Annotated[int, typer.Option(help="The partner's id (from `partner create`)")],
    certificate: Annotated[
        Path, typer.Option(help="The partner's certificate (PEM): it signs requests, eKYC is encrypted to it")
    ],
) -> None:
    """Onboard a relying party for the MOSIP routes: prints its MISP licence key and partner API key, once."""
    try:
        pem = certificate.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err_console.print(_("cannot read {path}: {error}").format(path=certificate, error=error), style="red")
        raise typer.Exit(2) from error
    with command_runtime() as runtime, refused_problem(), runtime.session_factory.begin() as session:
        onboarded = mosip.onboard(session=session, partner_id=partner_id, certificate_pem=pem, actor="cli")
    console.print(
        _("partner {partner} onboarded for MOSIP ID Authentication (certificate SHA-256 {fingerprint})").format(
            partner=onboarded.partner_id, fingerprint=onboarded.certificate_sha256
        ),
        markup=False,
    )
    console.print(_("MISP licence key: {key}").format(key=onboarded.misp_license_key), markup=False)
    console.print(_("partner API key: {key}").format(key=onboarded.api_key), markup=False)
    console.print(_("both are shown only now; onboarding again issues new ones"), markup=False)


@mosip_app.command("certificate")
def mosip_certificate(
    out: Annotated[Path | None, typer.Option(help="Write it to this file instead of printing it")] = None,
) -> None:
    """Our IDA certificate (PEM), which relying parties encrypt their requests to."""
    with command_runtime() as runtime:
        keys = mosip_crypto.ida_keys(
            session_factory=runtime.session_factory,
            settings=runtime.settings_of(IdentitySettings),
            secret=runtime.settings.secret_key.get_secret_value(),
        )
    if out is None:
        print(keys.certificate_pem(), end="")
    else:
        out.write_text(keys.certificate_pem(), encoding="utf-8")
        console.print(_("written to {path}").format(path=out), markup=False)


def _events(text: str) -> list[str]:
    return [event.strip() for event in text.split(",") if event.strip()]


@dci_app.command("subscribe")
def dci_subscribe(
    registry: Annotated[str, typer.Option(help="The registry's DCI id (its sender_id), e.g. crvs.example.org")],
    url: Annotated[str, typer.Option(help="Its base URL: we POST {url}/registry/subscribe")],
    our_url: Annotated[
        str, typer.Option(help="Our public base URL: it calls back {our-url}/registry/on-subscribe and /notify")
    ],
    events: Annotated[str, typer.Option(help="Event types, comma-separated: death, live_birth")] = "death,live_birth",
    sender_id: Annotated[str, typer.Option(help="Our DCI id at the registry")] = "national-id-registry",
    jwks_file: Annotated[Path | None, typer.Option(help="Its public keys (JWKS): its messages must be signed")] = None,
    jwks_url: Annotated[str | None, typer.Option(help="Or where its public keys are published")] = None,
) -> None:
    """Register a civil registry and subscribe to its events; sent at once, signed with our key."""
    document = None
    if jwks_file is not None:
        try:
            document = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            err_console.print(
                _("cannot read {path}: {error}").format(path=jwks_file, error=error), style="red", markup=False
            )
            raise typer.Exit(2) from error
    with command_runtime() as runtime, refused_problem(), runtime.session_factory() as session:
        found = dci_subscriptions.register(
            session=session,
            name=registry,
            base_url=url,
            our_sender_id=sender_id,
            our_url=our_url,
            jwks_document=document,
            jwks_url=jwks_url,
        )
        made = dci_subscriptions.subscribe(
            session=session,
            registry=found,
            events=_events(events),
            secret=runtime.settings.secret_key.get_secret_value(),
            actor="cli",
        )
        _print_states(registry, made)


@dci_app.command("unsubscribe")
def dci_unsubscribe(
    registry: Annotated[str, typer.Option(help="The registry's DCI id")],
    events: Annotated[str, typer.Option(help="Event types, comma-separated (default: all)")] = "",
) -> None:
    """End subscriptions at a registry (those it gave a code); sent at once, signed with our key."""
    with command_runtime() as runtime, refused_problem(), runtime.session_factory() as session:
        ended = dci_subscriptions.unsubscribe(
            session=session,
            registry=dci_subscriptions.registry_named(session, registry),
            events=_events(events),
            secret=runtime.settings.secret_key.get_secret_value(),
            actor="cli",
        )
        _print_states(registry, ended)


@dci_app.command("subscriptions")
def dci_subscriptions_list() -> None:
    """The registries and our subscriptions to them, with their state, code and any refusal."""
    with command_runtime() as runtime, runtime.session_factory() as session:
        table = Table(_("registry"), _("URL"), _("event"), _("state"), _("code"), _("reason"))
        for registry, subscription in dci_subscriptions.subscriptions(session):
            table.add_row(
                registry.name,
                registry.base_url,
                subscription.event_type,
                subscription.state,
                subscription.subscription_code or "",
                subscription.reason or "",
            )
    console.print(table)


def _print_states(registry: str, subscriptions: list[DciSubscription]) -> None:
    """One line per subscription: its event type and state (states stay codes, as `subscriptions` lists them)."""
    for subscription in subscriptions:
        line = _("subscription to {event} at {registry}: {state}").format(
            event=subscription.event_type, registry=registry, state=subscription.state
        )
        console.print(line, markup=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )


def _advancing(rows, progress: Progress, task):
    for row in rows:
        yield row
        progress.advance(task)
