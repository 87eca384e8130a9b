"""Payments commands: programmes, cycles, disbursement workers, bank messages, reconciliation and the benchmark."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from babel.numbers import format_decimal
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from ...core import i18n
from ...core.approvals import Signatory, Tally, required_for
from ...core.cli_runtime import open_runtime
from ...core.db import make_engine, make_session_factory
from ...core.errors import Problem, validation_message
from ...core.i18n import N_, _, ngettext
from ...core.money import Money
from ...core.runtime import Runtime, build_runtime
from . import answers, cycles, disbursing, programme_service, reconciliations, service
from .config import PaymentsSettings
from .domain import Beneficiary, Enrollee
from .models import Chunk, ChunkState, Cycle, CycleState
from .rails import rail_from_settings
from .schemas import BeneficiaryRef, CycleIn, EnrolmentItem
from .stimulus import StimulusPlan, prepare_stimulus

app = typer.Typer(no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)
PACKAGE = __package__.split(".")[0]


# Row labels of the reconciliation report, translated when printed.
REPORT_ROWS = (
    ("envelope", N_("envelope (control totals)")),
    ("instructions", N_("instructions")),
    ("paid", N_("paid")),
    ("failed", N_("failed (returned)")),
    ("pending", N_("pending")),
    ("unmatched", N_("unmatched bank entries")),
    ("unlinked", N_("eligible, no account")),
)


@app.callback()
def payments(ctx: typer.Context) -> None:
    """Payments: ledger checks, programmes, national disbursements and reconciliation."""
    # `_runtime()` may narrow the locale to the profile's; restore it when the command ends.
    token = i18n.set_locale(i18n.current_locale())
    ctx.call_on_close(lambda: i18n.reset_locale(token))


def _runtime() -> Runtime:
    """The runtime, or one message and exit code 2 on a bad configuration (core/cli_runtime.py).

    `build_runtime` is looked up here so this module's tests can point it at the test database.
    """
    return open_runtime(build_runtime)


def _fail(problem: Problem) -> None:
    err_console.print(problem.detail, style="red", markup=False)
    raise typer.Exit(1)


def _number(value: int) -> str:
    """An integer grouped the current locale's way (10,000 in English, 10 000 in French)."""
    return format_decimal(value, locale=i18n.current_locale())


def _row_errors(error: ValidationError) -> str:
    """A CSV row's validation errors in the current language, field by field."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {validation_message(e)}" for e in error.errors())


@app.command("ledger-check")
def ledger_check() -> None:
    """Verify every transfer's entries sum to zero and no no-negative account is negative; exit 1 if not."""
    runtime = _runtime()
    try:
        with runtime.session_factory() as session:
            report = service.check_ledger(session=session)
    finally:
        runtime.engine.dispose()
    console.print(
        _("checked {transfers} transfers, {entries} entries, {accounts} accounts").format(
            transfers=report.transfers, entries=report.entries, accounts=report.accounts
        )
    )
    for violation in report.violations:
        err_console.print(violation, style="red", markup=False)
    if not report.balanced:
        count = len(report.violations)
        message = ngettext("{count} ledger violation", "{count} ledger violations", count)
        err_console.print(message.format(count=count), style="red")
        raise typer.Exit(1)
    console.print(_("ledger balanced"), style="green")


@app.command("enrol")
def enrol_csv(
    programme: Annotated[str, typer.Option(help="Programme code")],
    csv_file: Annotated[Path, typer.Option("--csv", exists=True, dir_okay=False, help="external_id + attributes")],
) -> None:
    """Enrol beneficiaries from a CSV file: an external_id column, every other column an attribute."""
    runtime = _runtime()
    counts = [0, 0, 0]
    try:
        with runtime.session_factory.begin() as session, csv_file.open(newline="", encoding="utf-8") as handle:
            found = programme_service.get_programme(session=session, code=programme)
            batch: list[Enrollee] = []
            for line, row in enumerate(csv.DictReader(handle), start=2):
                external_id = (row.pop("external_id", "") or "").strip()
                attributes = {
                    k: int(v) if re.fullmatch(r"-?[0-9]+", v) else v for k, v in row.items() if v not in ("", None)
                }
                try:  # the rules an API body is held to
                    item = EnrolmentItem(beneficiary=BeneficiaryRef(external_id=external_id), attributes=attributes)
                except ValidationError as error:
                    err_console.print(f"{csv_file}:{line}: {_row_errors(error)}", style="red", markup=False)
                    raise typer.Exit(1) from None
                batch.append(Enrollee(Beneficiary(external_id=external_id), item.attributes))
                if len(batch) == 1000:
                    _enrol(session, runtime, found, batch, counts)
            if batch:
                _enrol(session, runtime, found, batch, counts)
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()
    console.print(
        _("enrolled {enrolled}, updated {updated}, unchanged {unchanged}").format(
            enrolled=counts[0], updated=counts[1], unchanged=counts[2]
        )
    )


def _enrol(session, runtime, programme, batch, counts) -> None:
    result = programme_service.enrol(session=session, ports=runtime.ports, programme=programme, items=batch)
    counts[0] += result.enrolled
    counts[1] += result.updated
    counts[2] += result.unchanged
    batch.clear()


@app.command("cycle")
def create_cycle(
    programme: Annotated[str, typer.Option(help="Programme code")],
    name: Annotated[str, typer.Option(help="Cycle name, unique within the programme")],
    as_of: Annotated[str | None, typer.Option(help="Day ages are counted on (YYYY-MM-DD)")] = None,
    operator: Annotated[
        str, typer.Option("--as", help="Your name: the cycle's maker, who may not approve it (a claim, audited)")
    ] = "cli",
) -> None:
    """Build a cycle (eligibility → entitlements → instructions) and print its control totals."""
    try:
        request = CycleIn(name=name, as_of=as_of)
    except ValidationError as error:
        err_console.print(_row_errors(error), style="red", markup=False)
        raise typer.Exit(1) from None
    runtime = _runtime()
    settings = runtime.settings_of(PaymentsSettings)
    try:
        with runtime.session_factory.begin() as session:
            found = programme_service.get_programme(session=session, code=programme)
            created = programme_service.create_cycle(
                session=session,
                ports=runtime.ports,
                country=runtime.country,
                programme=found,
                name=request.name,
                as_of=request.as_of,
                funding_account=settings.funding_account,
                chunk_size=settings.chunk_size,
                maker=Signatory.operator(operator),
            )
            cycle = created.record
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()
    _print_built(cycle)


def _print_built(cycle: Cycle) -> None:
    """A built cycle's totals: its maker's own figures, which its approvers count again from the approved source."""
    console.print(
        _(
            "cycle {cycle}: {count} payments summing {sum} (minor units); {unlinked} eligible without a linked account"
        ).format(
            cycle=cycle.id, count=cycle.instruction_count, sum=cycle.instruction_sum, unlinked=cycle.unlinked_count
        )
    )


@app.command("approve")
def approve(
    cycle: Annotated[int, typer.Option(help="Cycle ID")],
    control_count: Annotated[int, typer.Option(help="Number of payments the envelope approves")],
    control_sum: Annotated[int, typer.Option(help="Sum the envelope approves, in minor units")],
    operator: Annotated[
        str, typer.Option("--as", help="Your name, as the approver (a claim, audited with the system user)")
    ],
) -> None:
    """Approve a cycle's envelope as one of its approvers (four-eyes); refused unless the control totals match."""
    runtime = _runtime()
    try:
        with runtime.session_factory.begin() as session:
            found = cycles.get_cycle(session=session, cycle_id=cycle)
            tally = cycles.approve_cycle(
                session=session,
                cycle=found,
                control_count=control_count,
                control_sum=control_sum,
                approver=Signatory.operator(operator),
                required=required_for(runtime.settings.approvals_required, cycles.APPROVAL_ACTION),
            )
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()
    if not tally.reached:
        console.print(
            _("cycle {cycle}: approval recorded, {approvals} of the {required} it needs").format(
                cycle=cycle, approvals=tally.approvals, required=tally.required
            )
        )
        return
    console.print(
        _("cycle {cycle} approved: {count} payments, {sum}").format(cycle=cycle, count=control_count, sum=control_sum),
        style="green",
    )


@app.command("disburse")
def disburse_command(
    cycle: Annotated[int, typer.Option(help="Cycle ID")],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes sharing the cycle")] = 1,
    throttle: Annotated[float, typer.Option(min=0, help="Seconds to pause between chunks (eases load)")] = 0.0,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
) -> None:
    """Pay an approved cycle chunk by chunk; safe to kill and re-run, and to run on several machines at once."""
    runtime = _runtime()
    currency = runtime.country.profile.currency
    try:
        with runtime.session_factory.begin() as session:
            found = cycles.get_cycle(session=session, cycle_id=cycle)
            cycles.start_disbursement(session=session, cycle=found, currency=currency, actor="cli")
        if workers == 1:
            with _progress(runtime, cycle, quiet) as tick:
                _work(runtime, cycle, throttle, tick)
        else:
            command = [sys.executable, "-m", PACKAGE, "payments", "worker", "--cycle", str(cycle)]
            command += ["--throttle", str(throttle)]
            children = [subprocess.Popen(command, env=os.environ.copy()) for _worker in range(workers)]  # noqa: S603
            with _progress(runtime, cycle, quiet) as tick:
                while any(child.poll() is None for child in children):
                    tick()
                    time.sleep(0.3)
                tick()
            failed = [child.returncode for child in children if child.returncode]
            if failed:
                message = ngettext(
                    "{count} worker failed; re-run to finish the cycle",
                    "{count} workers failed; re-run to finish the cycle",
                    len(failed),
                )
                err_console.print(message.format(count=len(failed)), style="red")
                raise typer.Exit(1)
        with runtime.session_factory.begin() as session:
            disbursing.finish_cycle(session=session, cycle_id=cycle)
            report = reconciliations.reconcile(session=session, cycle_id=cycle)
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()
    _print_report(report)


@app.command("worker", hidden=True)
def worker(
    cycle: Annotated[int, typer.Option(help="Cycle ID")],
    throttle: Annotated[float, typer.Option(min=0)] = 0.0,
) -> None:
    """One disbursement worker (what `disburse --workers N` starts N of)."""
    runtime = _runtime()
    try:
        _work(runtime, cycle, throttle, None)
    finally:
        runtime.engine.dispose()


def _work(runtime: Runtime, cycle: int, throttle: float, tick) -> None:
    settings = runtime.settings_of(PaymentsSettings)
    engine = disbursing.immediate_transactions(make_engine(runtime.settings.database_url))
    try:
        disbursing.run_worker(
            session_factory=make_session_factory(engine),
            cycle_id=cycle,
            currency=runtime.country.profile.currency,
            rail=rail_from_settings(settings),
            settings=settings,
            worker=f"pid:{os.getpid()}",
            throttle=throttle,
            on_step=(lambda _step: tick()) if tick else None,
        )
    finally:
        engine.dispose()


class _progress:
    """A rich progress bar over a cycle's chunks (ledger step and bank step each count once)."""

    def __init__(self, runtime: Runtime, cycle: int, quiet: bool) -> None:
        self.runtime, self.cycle, self.quiet = runtime, cycle, quiet

    def __enter__(self):
        self.bar = Progress(
            TextColumn(_("cycle {cycle}").format(cycle=self.cycle), style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(_("chunk steps"), markup=False),
            TimeElapsedColumn(),
            console=console,
            disable=self.quiet,
        )
        self.bar.start()
        self.task = self.bar.add_task("disburse", total=None)
        self.tick()
        return self.tick

    def tick(self) -> None:
        with self.runtime.session_factory() as session:
            states = dict(
                session.execute(
                    select(Chunk.state, func.count()).where(Chunk.cycle_id == self.cycle).group_by(Chunk.state)
                ).all()
            )
        total = 2 * sum(states.values())
        done = 2 * states.get(ChunkState.DONE, 0) + states.get(ChunkState.PAID, 0) + states.get(ChunkState.SENT, 0)
        self.bar.update(self.task, total=total, completed=done)

    def __exit__(self, *exc) -> None:
        self.bar.stop()


@app.command("ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="pain.002 / camt.054")],
) -> None:
    """Ingest a bank's status reports and notifications (each file once; a repeat changes nothing)."""
    runtime = _runtime()
    settings = runtime.settings_of(PaymentsSettings)
    try:
        for path in files:
            with runtime.session_factory.begin() as session:
                result = answers.ingest(session=session, message=path.read_bytes(), max_attempts=settings.max_attempts)
            message = (
                _(
                    "{file}: {kind} {msg_id} (already ingested): accepted {accepted}, settled {settled}, "
                    "retried {retried}, returned {returned}, unmatched {unmatched}"
                )
                if result.replayed
                else _(
                    "{file}: {kind} {msg_id}: accepted {accepted}, settled {settled}, retried {retried}, "
                    "returned {returned}, unmatched {unmatched}"
                )
            )
            console.print(message.format(file=path.name, **vars(result)), markup=False)
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()


@app.command("reconcile")
def reconcile(cycle: Annotated[int, typer.Option(help="Cycle ID")]) -> None:
    """Reconciliation report of a cycle: paid, failed, pending, unmatched and the control totals; exit 1 if off."""
    runtime = _runtime()
    try:
        with runtime.session_factory() as session:
            report = reconciliations.reconcile(session=session, cycle_id=cycle)
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()
    _print_report(report)
    if not report.matches_control_totals:
        raise typer.Exit(1)


def _print_report(report: reconciliations.Reconciliation) -> None:
    title = _("{programme} / {cycle_name} (cycle {cycle}, {state})").format(
        programme=report.programme, cycle_name=report.cycle, cycle=report.cycle_id, state=report.state
    )
    table = Table(title=title)
    table.add_column("")
    table.add_column(_("count"), justify="right")
    table.add_column(_("sum ({currency}, minor units)").format(currency=report.currency), justify="right")
    for field_name, label in REPORT_ROWS:
        tally = getattr(report, field_name)
        table.add_row(_(label), _number(tally.count), _number(tally.sum))
    console.print(table)
    console.print(
        _("returned to the programme: {amount}").format(amount=_number(report.returned_to_programme)), markup=False
    )
    if report.matches_control_totals:
        console.print(_("reconciliation matches the control totals"), style="green")
    else:
        console.print(_("reconciliation does NOT match the control totals"), style="red")


@app.command("stimulus")
def stimulus(
    amount: Annotated[int, typer.Option(help="Flat payment, in minor units")],
    year: Annotated[int, typer.Option(help="Fiscal year of the assessed income")],
    max_income: Annotated[int | None, typer.Option(help="Pay only assessed income below this (minor units)")] = None,
    adults: Annotated[bool, typer.Option(help="Only residents aged 18 or more")] = False,
    include_unassessed: Annotated[bool, typer.Option(help="Pay residents without an assessment too")] = False,
    code: Annotated[str | None, typer.Option(help="Programme code (default STIMULUS-<year>)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
    operator: Annotated[
        str, typer.Option("--as", help="Your name: the cycle's maker, who may not approve it (a claim, audited)")
    ] = "cli",
) -> None:
    """Register the programme and build its cycle; once others approved it (four-eyes), the same command pays it."""
    runtime = _runtime()
    settings = runtime.settings_of(PaymentsSettings)
    required = required_for(runtime.settings.approvals_required, cycles.APPROVAL_ACTION)
    try:
        plan = StimulusPlan(
            year=year,
            amount=Money(runtime.country.profile.currency, amount),
            max_income=max_income,
            adults_only=adults,
            include_unassessed=include_unassessed,
            code=code,
        )
        with runtime.session_factory.begin() as session:
            cycle = prepare_stimulus(
                session=session,
                ports=runtime.ports,
                country=runtime.country,
                plan=plan,
                funding_account=settings.funding_account,
                chunk_size=settings.chunk_size,
                maker=Signatory.operator(operator),
            )
            awaiting = (
                cycles.cycle_tally(session=session, cycle=cycle, required=required)
                if cycle.state == CycleState.BUILT
                else None
            )
    except Problem as problem:
        runtime.engine.dispose()
        _fail(problem)
    runtime.engine.dispose()
    if awaiting is not None:
        _print_awaiting_approvals(cycle, awaiting)
        return
    console.print(
        _("programme {code}, cycle {cycle}: {count} payments approved").format(
            code=plan.programme_code, cycle=cycle.id, count=cycle.instruction_count
        )
    )
    disburse_command(cycle=cycle.id, workers=workers, throttle=0.0, quiet=False)


def _print_awaiting_approvals(cycle: Cycle, tally: Tally) -> None:
    """What the stimulus waits for, and the command each approver runs (with the maker's figures, to check)."""
    _print_built(cycle)
    # One approval reaching the count approves the cycle: a count lowered since the last one still needs one more.
    missing = max(tally.required - tally.approvals, 1)
    waits = ngettext(
        "cycle {cycle} waits for {count} approval by someone other than {maker}; the approver runs:",
        "cycle {cycle} waits for {count} approvals by people other than {maker}; each of them runs:",
        missing,
    )
    console.print(waits.format(cycle=cycle.id, count=missing, maker=cycle.made_by), markup=False)
    command = (
        f"payments approve --cycle {cycle.id} --control-count {cycle.instruction_count} "
        f"--control-sum {cycle.instruction_sum} --as <approver>"
    )
    console.print(command, markup=False, soft_wrap=True, style="bold")
    console.print(_("once it is approved, run this stimulus again: it pays the cycle and prints its reconciliation"))


@app.command("bench")
def bench(
    count: Annotated[int, typer.Option(min=1, help="Beneficiaries in the benchmark cycle")] = 100_000,
    chunk_size: Annotated[int, typer.Option(min=100, help="Instructions per chunk")] = 10_000,
) -> None:
    """Time an N-beneficiary cycle end to end and compare with a raw bulk insert of as many ledger rows."""
    from .bench import run_bench

    runtime = _runtime()
    try:
        run_bench(runtime=runtime, count=count, chunk_size=chunk_size, console=console)
    finally:
        runtime.engine.dispose()


@app.command("g2p-sender")
def g2p_sender(
    partner: Annotated[int, typer.Option(help="The partner (partner create) the sender authenticates as")],
    sender_id: Annotated[str, typer.Option(help="Its sender_id in G2P Connect headers; also its OAuth2 client_id")],
    signing: Annotated[
        str, typer.Option(help="How it signs and we sign to it: jws-header, body or none (docs/standards.md)")
    ] = "jws-header",
    jwks_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Its public keys (a JWKS JSON file)")
    ] = None,
    jwks_url: Annotated[str | None, typer.Option(help="Or where its public keys are published")] = None,
    callback_uri: Annotated[
        str | None, typer.Option(help="Base URI of its callbacks (we POST to <uri>/mapper/on-link, ...)")
    ] = None,
    resolve_details: Annotated[
        bool, typer.Option(help="May resolve with scope details (the account itself, not only yes or no)")
    ] = False,
    operator: Annotated[str, typer.Option("--as", help="Your name, audited")] = "cli",
) -> None:
    """Register a partner as a G2P Connect mapper sender (again: its settings are replaced)."""
    from . import g2p

    document = None
    if jwks_file is not None:
        try:
            document = json.loads(jwks_file.read_text(encoding="utf-8"))
        except ValueError as error:
            _fail(Problem(str(error), field="jwks"))
    runtime = _runtime()
    try:
        with runtime.session_factory.begin() as session:
            sender = g2p.register_sender(
                session=session,
                sender_id=sender_id,
                partner_id=partner,
                signing_method=signing,
                jwks_document=document,
                jwks_url=jwks_url,
                callback_uri=callback_uri,
                resolve_details=resolve_details,
                actor=Signatory.operator(operator).actor,
            )
            console.print(
                _("sender {sender} registered for partner {partner}, signing {method}").format(
                    sender=sender.sender_id, partner=sender.partner_id, method=sender.signing_method
                ),
                markup=False,
            )
    except Problem as problem:
        _fail(problem)
    finally:
        runtime.engine.dispose()


@app.command("g2p-senders")
def g2p_senders() -> None:
    """List the G2P Connect senders and print the JWKS our answers are signed with."""
    from ...core import signing
    from . import g2p

    runtime = _runtime()
    try:
        with runtime.session_factory() as session:
            # The columns are the registration's field names, as the command's options spell them.
            table = Table("sender_id", "partner", "signing", "callback_uri", "resolve_details")
            for sender in g2p.list_senders(session=session):
                table.add_row(
                    sender.sender_id,
                    str(sender.partner_id),
                    sender.signing_method,
                    sender.callback_uri or "",
                    str(sender.resolve_details).lower(),
                )
        console.print(table)
        keys = signing.jwks(runtime.settings.secret_key.get_secret_value())
        console.print(json.dumps(keys), markup=False, soft_wrap=True)
    finally:
        runtime.engine.dispose()
