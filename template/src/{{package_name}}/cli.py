"""Command line: serve, worker, db, seed, check, partner, staff, update-check, and each installed module's commands."""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from .core import audit, backup, i18n, logs, migrate, security, staff, update_check
from .core.approvals import Signatory, required_for
from .core.cli_runtime import command_runtime, err_console, refused_input, refused_problem
from .core.i18n import _, ngettext
from .core.licence import Compliance
from .core.registry import SeedContext, installed_parts
from .core.runtime import Runtime
from .core.settings import get_settings
from .core.stack import licence_coverage, licence_grant, stack_info

console = Console()

app = typer.Typer(help="Nation Stack deployment: run the service and its national batch jobs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema: one Alembic branch for the core and for each module.", no_args_is_help=True)
partner_app = typer.Typer(help="Relying parties and their API keys.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts (password and TOTP sign-in) and their roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain: verify it, and anchor it outside the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(partner_app, name="partner")
app.add_typer(staff_app, name="staff")
app.add_typer(audit_app, name="audit")
app.command("update-check")(update_check.update_check)
for _part in installed_parts():  # the core's commands are this app's own
    if _part.cli is not None:
        app.add_typer(_part.cli, name=_part.name, help=_part.manifest.summary)


@app.callback()
def banner(ctx: typer.Context) -> None:
    # The command's locale: NATION_STACK_LOCALE, LC_ALL, LC_MESSAGES or LANG; `command_runtime()`
    # narrows it to the profile's when none is set. Restored when the command ends.
    token = i18n.set_locale(i18n.locale_from_environment() or i18n.DEFAULT_LOCALE)
    logs.configure_logging(_log_level())  # JSON lines on stderr; stdout stays the command's output
    ctx.call_on_close(lambda: i18n.reset_locale(token))
    info = stack_info()
    if ctx.invoked_subcommand and _evaluation():
        err_console.print(
            _("{deployment}: evaluation deployment ({licensee})").format(
                deployment=info.deployment_name, licensee=info.licensee
            ),
            style="yellow",
        )


def _log_level() -> str:
    try:
        return get_settings().log_level
    except ValidationError:  # reported by the command itself
        return "INFO"


def _evaluation() -> bool:
    """No licence grant in this deployment (settings that do not load are reported by the command)."""
    try:
        return licence_grant(get_settings().licence_dir) is None
    except ValidationError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (stateless: scale out freely)")] = 1,
) -> None:
    """Serve the HTTP API."""
    with command_runtime():
        pass  # refuse to start on invalid configuration before uvicorn forks workers
    uvicorn.run(
        f"{__package__}.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logs.log_config(_log_level()),  # JSON lines; the access line is the app's (core/logs.py)
        access_log=False,
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once in this process")] = 4,
    name: Annotated[str | None, typer.Option(help="This worker's name in logs (default: worker)")] = None,
) -> None:
    """Run background jobs: every part's periodic upkeep, and the work the API hands over (PostgreSQL)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with command_runtime() as rt:
        pending = migrate.pending_heads(rt.engine)
        if pending:  # the queue's tables come with the core's migrations
            message = ngettext(
                "pending migration: {heads}; run `db upgrade`",
                "pending migrations: {heads}; run `db upgrade`",
                len(pending),
            )
            err_console.print(message.format(heads=", ".join(sorted(pending))), style="red")
            raise typer.Exit(1)
        from .core import worker as job_worker  # procrastinate is imported by the worker alone

        job_worker.run(rt, concurrency=concurrency, name=name or "worker")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations (default: every branch to its head)."""
    with command_runtime() as rt, refused_migration():
        migrate.upgrade(rt.engine, revision)
        console.print(_("database at {revision}").format(revision=revision), style="green")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. tax@base to drop a module's tables")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Back the database up, then revert migrations; `<module>@base` drops that module's tables."""
    with command_runtime() as rt, refused_migration():
        if not yes:
            question = _(
                "Revert {database} to {revision}? Tables these migrations created are dropped with their rows "
                "(a backup is made first)"
            )
            database = rt.engine.url.render_as_string(hide_password=True)
            if not typer.confirm(question.format(database=database, revision=revision)):
                err_console.print(_("nothing was changed"))
                raise typer.Exit(1)
        made = migrate.downgrade(rt.engine, revision, backup_dir=rt.settings.backup_dir)
        console.print(_("backup of the database before the downgrade: {path}").format(path=made), soft_wrap=True)
        console.print(_("database at {revision}").format(revision=revision), style="green")


@db_app.command("status")
def db_status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output (for scripts/modules)")] = False,
) -> None:
    """Each branch's applied revision and its tables in the database, and any revision the code does not know."""
    with command_runtime() as rt:
        branches = migrate.branches(rt.engine)
        unknown = migrate.unknown_revisions(rt.engine)
        database = rt.engine.url.render_as_string(hide_password=True)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "database": database,
                    "branches": [dataclasses.asdict(branch) for branch in branches],
                    "unknown": dataclasses.asdict(unknown) if unknown else None,
                }
            )
        )
        return
    console.print(database, soft_wrap=True, markup=False)
    for branch in branches:
        applied = branch.applied or _("not applied")
        tables = ngettext("{count} table", "{count} tables", len(branch.tables)).format(count=len(branch.tables))
        console.print(f"  {branch.name:<12} {applied:<16} {tables}", markup=False)
    if unknown:
        err_console.print(unknown.describe(), style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1)


@db_app.command("check")
def db_check() -> None:
    """Fail when migrations are unknown or pending, or the models and the migrated schema disagree."""
    with command_runtime() as rt:
        unknown = migrate.unknown_revisions(rt.engine)
        pending = migrate.pending_heads(rt.engine)
        differences = [] if pending or unknown else migrate.schema_differences(rt.engine)
    if unknown:
        err_console.print(unknown.describe(), style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1)
    if pending:
        message = ngettext(
            "pending migration: {heads}; run `db upgrade`",
            "pending migrations: {heads}; run `db upgrade`",
            len(pending),
        )
        err_console.print(message.format(heads=", ".join(sorted(pending))), style="red")
        raise typer.Exit(1)
    if differences:
        err_console.print(_("models and migrations disagree:"), style="red")
        err_console.print("\n".join(differences), markup=False)
        raise typer.Exit(1)
    console.print(_("schema matches the models"), style="green")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (SQLite file or pg_dump custom archive)")],
) -> None:
    """Back the whole database up to FILE, consistently, while the stack keeps serving."""
    with command_runtime() as rt, refused_migration():
        made = backup.backup(rt.engine, file)
    console.print(_("backup written: {path}").format(path=made), soft_wrap=True, markup=False)


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A backup made by `db backup`")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace a database that already holds tables")] = False,
) -> None:
    """Restore FILE after checking it on a scratch copy: migrations, audit chain, every module's invariants."""
    with command_runtime() as rt:
        try:
            restored = backup.restore(rt.engine, file, replace=replace)
        except backup.RestoreRefused as refusal:
            err_console.print(str(refusal), style="red", soft_wrap=True, markup=False)
            for problem in refusal.problems:
                err_console.print(f"  {problem}", soft_wrap=True, markup=False)
            raise typer.Exit(1) from None
    message = _(
        "restored {path}: migrations at this code's heads, audit chain of {events} events intact, "
        "every module's checks passed"
    )
    console.print(message.format(path=file, events=restored.audit_events), style="green", soft_wrap=True, markup=False)
    if restored.kept is not None:
        kept = _("the replaced database is kept as {name}; drop it once the restored one is checked")
        console.print(kept.format(name=restored.kept), soft_wrap=True, markup=False)


@contextmanager
def refused_migration() -> Iterator[None]:
    """A schema change the core refused: its reason on one line and exit code 1, not a traceback."""
    try:
        yield
    except migrate.MigrationRefused as refusal:
        err_console.print(str(refusal), style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1) from None


@db_app.command("revision")
def db_revision(
    branch: Annotated[str, typer.Option(help="'core' or an installed module's name")],
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision changes")],
) -> None:
    """Autogenerate a revision on one branch, in that branch's own folder."""
    with command_runtime() as rt:
        migrate.revision(rt.engine, branch=branch, message=message)


Actor = Annotated[
    str | None,
    typer.Option(help="The operator doing this, recorded in the audit chain (default: the OS user)"),
]


def operator_signatory(actor: str | None) -> Signatory:
    """The operator as a four-eyes maker: their `--actor` name (by default the OS user), the same person
    as `partner approve --as` that name, so they cannot approve what they made."""
    named = operator(actor)
    return Signatory(person=named, actor=named)


def _partner_key_required(rt: Runtime) -> int:
    return required_for(rt.settings.approvals_required, security.PARTNER_KEY_ACTION)


def operator(actor: str | None) -> str:
    if actor is None:
        try:
            actor = getpass.getuser()
        except (KeyError, OSError):  # a container user without a passwd entry
            actor = "unknown"
    return f"operator:{actor}"


@partner_app.command("create")
def partner_create(
    name: Annotated[str, typer.Option(help="Relying party name")],
    scope: Annotated[list[str], typer.Option(help="Scope to grant (repeatable)")],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="The key stops working after this many days (default: never)")
    ] = None,
    actor: Actor = None,
) -> None:
    """Register a partner and print its API key (shown once)."""
    known = all_scopes()
    unknown = sorted(set(scope) - set(known))
    if unknown:
        message = _("unknown scope(s) {unknown}; allowed: {allowed}")
        err_console.print(message.format(unknown=", ".join(unknown), allowed=", ".join(known)), style="red")
        raise typer.Exit(2)
    expires_in = timedelta(days=expires_in_days) if expires_in_days is not None else None
    with command_runtime() as rt, rt.session_factory.begin() as session:
        issued = security.issue_partner_key(
            session=session, name=name, scopes=scope, requester=operator_signatory(actor), expires_in=expires_in
        )
        required = _partner_key_required(rt)
    typer.echo(issued.key)
    if issued.partner.awaiting_approval:
        message = _(
            "partner {id} holds a scope that moves money: the key works once {required} people other than you "
            "approved it (`partner approve {id} --as NAME`)"
        )
        err_console.print(message.format(id=issued.partner.id, required=required), markup=False)


@partner_app.command("approve")
def partner_approve(
    partner_id: Annotated[int, typer.Argument(help="The partner's id (see `partner list`)")],
    as_: Annotated[str, typer.Option("--as", help="Your name: recorded as the approver (four-eyes)")],
) -> None:
    """Approve a key that holds a scope that moves money (four-eyes); never the operator who created it."""
    with command_runtime() as rt, refused_problem(), rt.session_factory.begin() as session:
        tally = security.approve_partner_key(
            session=session, partner_id=partner_id, approver=Signatory.operator(as_), required=_partner_key_required(rt)
        )
    if tally.reached:
        console.print(_("partner {id} approved: its key works").format(id=partner_id), markup=False)
    else:
        message = _("partner {id}: {approvals} of {required} approvals; its key does not work yet")
        console.print(message.format(id=partner_id, approvals=tally.approvals, required=tally.required), markup=False)


@partner_app.command("list")
def partner_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Every partner: id, name, key prefix, scopes, active, created and expiry (never the key)."""
    with command_runtime() as rt, rt.session_factory() as session:
        partners = security.list_partners(session=session)
        rows = [
            {
                "id": partner.id,
                "name": partner.name,
                "prefix": partner.key_prefix,
                "scopes": partner.scopes,
                "active": partner.active,
                "awaiting_approval": partner.awaiting_approval,
                "created_at": security.iso_utc(partner.created_at),
                "expires_at": security.iso_utc(partner.expires_at),
            }
            for partner in partners
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    # id, prefix, + active / - revoked / ? awaiting approval, created, expires (- never), name, [scopes]
    for row in rows:
        expires = (row["expires_at"] or "-")[:16]
        active = ("?" if row["awaiting_approval"] else "+") if row["active"] else "-"
        line = f"{row['id']:>4}  {row['prefix']}  {active} {row['created_at'][:16]}  {expires:<16}  {row['name']}"
        console.print(f"{line}  [{', '.join(row['scopes'])}]", soft_wrap=True, markup=False, highlight=False)


@partner_app.command("revoke")
def partner_revoke(
    partner_id: Annotated[int, typer.Argument(help="The partner's id (see `partner list`)")], actor: Actor = None
) -> None:
    """Revoke a partner's key at once."""
    with command_runtime() as rt, refused_problem(), rt.session_factory.begin() as session:
        partner = security.revoke_partner(session=session, partner_id=partner_id, actor=operator(actor))
    console.print(_("partner {id} ({name}) revoked").format(id=partner.id, name=partner.name), markup=False)


@partner_app.command("rotate")
def partner_rotate(
    partner_id: Annotated[int, typer.Argument(help="The partner's id (see `partner list`)")], actor: Actor = None
) -> None:
    """Issue a new key for a partner and print it (shown once); the old key stops working at once."""
    with command_runtime() as rt, refused_problem(), rt.session_factory.begin() as session:
        issued = security.rotate_partner_key(session=session, partner_id=partner_id, actor=operator(actor))
    typer.echo(issued.key)


UserName = Annotated[str, typer.Argument(help="The staff member's user name")]
RoleName = Annotated[str, typer.Argument(help="A role an installed part declares, e.g. payments.approver")]
Region = Annotated[str | None, typer.Option(help="Limit the grant to this region (regional roles only)")]
NewUserName = Annotated[str, typer.Option(prompt=True, help="User name: lower-case letters, digits, . _ -")]
DisplayName = Annotated[str, typer.Option(prompt=True, help="The name shown for the staff member")]
Password = Annotated[
    str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters")
]


@staff_app.command("create-admin")
def staff_create_admin(
    user_name: NewUserName, display_name: DisplayName, password: Password, actor: Actor = None
) -> None:
    """Create the first administrator (role core.administrator); prints the TOTP provisioning URI once."""
    _add_staff(user_name, display_name, password, actor, roles=("core.administrator",))


@staff_app.command("add")
def staff_add(user_name: NewUserName, display_name: DisplayName, password: Password, actor: Actor = None) -> None:
    """Create a staff account without roles; prints the TOTP provisioning URI once."""
    _add_staff(user_name, display_name, password, actor, roles=())


def _add_staff(user_name: str, display_name: str, password: str, actor: str | None, *, roles: tuple[str, ...]) -> None:
    with command_runtime() as rt, refused_input(), rt.session_factory.begin() as session:
        done_by = operator(actor)
        staff.create_account(
            session=session, user_name=user_name, display_name=display_name, password=password, actor=done_by
        )
        for role in roles:
            staff.grant_role(session=session, user_name=user_name, role=role, actor=done_by)
        uri = staff.enrol_totp(
            session=session, user_name=user_name, secret_key=rt.settings.secret_key.get_secret_value(), actor=done_by
        )
    console.print(_("Add this to the staff member's authenticator app (shown once):"), markup=False)
    typer.echo(uri)


@staff_app.command("grant")
def staff_grant(user_name: UserName, role: RoleName, region: Region = None, actor: Actor = None) -> None:
    """Grant a role, in one region or everywhere."""
    with command_runtime() as rt, refused_input(), rt.session_factory.begin() as session:
        staff.grant_role(session=session, user_name=user_name, role=role, region=region, actor=operator(actor))
    console.print(_("{user} may act as {role}").format(user=user_name, role=role), markup=False)


@staff_app.command("revoke-grant")
def staff_revoke_grant(user_name: UserName, role: RoleName, region: Region = None, actor: Actor = None) -> None:
    """Take a role grant back (the same region as granted)."""
    with command_runtime() as rt, refused_input(), rt.session_factory.begin() as session:
        staff.revoke_grant(session=session, user_name=user_name, role=role, region=region, actor=operator(actor))
    console.print(_("{user} no longer acts as {role}").format(user=user_name, role=role), markup=False)


@staff_app.command("unlock")
def staff_unlock(user_name: UserName, actor: Actor = None) -> None:
    """Lift a lock-out after failed sign-ins, before it ends by itself."""
    with command_runtime() as rt, refused_input(), rt.session_factory.begin() as session:
        staff.unlock(session=session, user_name=user_name, actor=operator(actor))
    console.print(_("{user} unlocked").format(user=user_name), markup=False)


@staff_app.command("list")
def staff_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """Every staff account: user name, display name, active, locked, roles (with regions)."""
    with command_runtime() as rt, rt.session_factory() as session:
        rows = [
            {
                "user_name": found.account.user_name,
                "display_name": found.account.display_name,
                "active": found.account.active,
                "locked": staff.is_locked(found.account),
                "totp": found.account.totp_secret is not None,
                "roles": [{"role": g.role, "region": g.region} for g in found.grants],
            }
            for found in staff.list_accounts(session=session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        state = ("+" if row["active"] else "-") + ("L" if row["locked"] else " ")
        roles = ", ".join(r["role"] + (f"@{r['region']}" if r["region"] else "") for r in row["roles"])
        console.print(f"{state} {row['user_name']:<20} {row['display_name']}  [{roles}]", markup=False, highlight=False)


@app.command()
def seed() -> None:
    """Load a little demo data and print a demo partner key with every scope."""
    with command_runtime() as rt, rt.session_factory.begin() as session:
        issued = security.issue_partner_key(
            session=session, name="Demo partner", scopes=all_scopes(), requester=operator_signatory(None)
        )
        context = SeedContext(session=session, runtime=rt)
        lines = [line for module in rt.modules if module.seed for line in module.seed(context)]
        required = _partner_key_required(rt)
    for line in lines:
        console.print(line, soft_wrap=True)
    typer.echo(_("demo partner API key: {key}").format(key=issued.key))
    if issued.partner.awaiting_approval:  # its money scopes wait for four-eyes, demo or not
        message = _(
            "partner {id} holds a scope that moves money: the key works once {required} people other than you "
            "approved it (`partner approve {id} --as NAME`)"
        )
        typer.echo(message.format(id=issued.partner.id, required=required))


@app.command()
def check() -> None:
    """Check configuration, database, migrations and the audit chain; exit 1 on any problem."""
    problems: list[str] = []
    with command_runtime() as rt:
        unknown = migrate.unknown_revisions(rt.engine)
        if unknown:
            problems.append(unknown.describe())
        pending = migrate.pending_heads(rt.engine)
        if pending:
            message = ngettext("pending migration: {heads}", "pending migrations: {heads}", len(pending))
            problems.append(message.format(heads=", ".join(sorted(pending))))
        else:
            problems.extend(chain_problems(rt, with_checkpoints=True))
        profile = rt.country.profile
        coverage = licence_coverage(
            licence_dir=rt.settings.licence_dir, country=profile.country, modules=[m.name for m in rt.modules]
        )
        if coverage.status not in (Compliance.COVERED, Compliance.EVALUATION):
            problems.append(_("licence: {reason}").format(reason=coverage.reason))
        findings = [(module.name, finding) for module in rt.modules for finding in module.findings(rt.country)]
        problems.extend(f"{name}: {finding.message}" for name, finding in findings if finding.failing)
        summary = _("{country} ({code}), {currency}; modules: {modules}; environment: {environment}")
        console.print(
            summary.format(
                country=profile.name,
                code=profile.country,
                currency=profile.currency,
                modules=", ".join(m.name for m in rt.modules),
                environment=rt.settings.environment,
            )
        )
        console.print(_("licence: {status} ({reason})").format(status=coverage.status, reason=coverage.reason))
        if coverage.days_to_expiry is not None:
            console.print(_("licence grant expires in {days} days").format(days=coverage.days_to_expiry))
        for name, finding in findings:
            if not finding.failing:
                console.print(f"{name}: {finding.message}", highlight=False, markup=False)
        for problem in problems:
            err_console.print(problem, style="red")
        if problems:
            raise typer.Exit(1)
        console.print(_("all checks passed"), style="green")


def chain_problems(rt: Runtime, *, with_checkpoints: bool) -> list[str]:
    """What is wrong with the audit chain, checked with its key and against the signed checkpoints."""
    secret = rt.settings.secret_key.get_secret_value()
    directory = rt.settings.audit_checkpoint_dir
    checkpoints = audit.read_checkpoints(directory, secret=secret) if with_checkpoints else []
    with rt.session_factory() as session:
        report = audit.verify_chain(session=session, checkpoints=checkpoints)
    problems = list(report.problems)
    if report.first_broken_id is not None:
        problems.insert(0, _("audit chain broken at event {event}").format(event=report.first_broken_id))
    if with_checkpoints and not checkpoints:
        message = _("audit chain: no signed checkpoint in {directory} yet; schedule `audit checkpoint`")
        err_console.print(message.format(directory=directory), style="yellow", soft_wrap=True, markup=False)
    return problems


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        bool, typer.Option(help="Also check the chain against the signed checkpoints in AUDIT_CHECKPOINT_DIR")
    ] = True,
) -> None:
    """Check every link of the audit chain with its key, and the chain against the signed checkpoints."""
    with command_runtime() as rt:
        problems = chain_problems(rt, with_checkpoints=checkpoints)
    for problem in problems:
        err_console.print(problem, style="red", soft_wrap=True, markup=False)
    if problems:
        raise typer.Exit(1)
    console.print(_("audit chain intact"), style="green")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Append the signed head of the audit chain to AUDIT_CHECKPOINT_DIR (run it on a schedule)."""
    with command_runtime() as rt:
        problems = chain_problems(rt, with_checkpoints=True)
        if problems:  # never sign a chain that does not verify
            for problem in problems:
                err_console.print(problem, style="red", soft_wrap=True, markup=False)
            raise typer.Exit(1)
        secret = rt.settings.secret_key.get_secret_value()
        with rt.session_factory() as session:
            path = audit.write_checkpoint(session=session, directory=rt.settings.audit_checkpoint_dir, secret=secret)
    console.print(_("audit checkpoint written: {path}").format(path=path), soft_wrap=True, markup=False)
    console.print(
        _("public key (Ed25519, base64): {key}").format(key=audit.public_key_text(secret)), soft_wrap=True, markup=False
    )


def all_scopes() -> list[str]:
    return [scope for part in installed_parts() for scope in part.scopes]


def main() -> None:
    app(prog_name=__package__)


if __name__ == "__main__":
    sys.exit(main())
