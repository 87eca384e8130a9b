"""`identity bench`: enrolment and authentication throughput on the configured database.

Enrolment: N synthetic residents (2 % near-duplicates) go through the bulk path
(validation, dedup, ID issue, insert) in chunks; the baseline is a raw bulk
insert of exactly the rows that path wrote (same chunks, same database, same
run) into scratch copies of the two tables. Deduplication precision and recall
are measured against the injected duplicates.

Authentication: concurrent client threads call the service function the API
calls (`auth.authenticate_committed`: committed through the group commit, audit
included) for demographic yes/no checks; the HTTP layer is not in the loop.

The goals (30,000 residents/s, 1,500 verifications/s) were set for machines where
a raw executemany of a million rows with a unique key runs at 150,000 rows/s: the
core's yardstick measures that insert here, in the same run, and both rates are
also printed scaled to it.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.console import Console
from sqlalchemy import MetaData, delete
from sqlalchemy.orm import Session, sessionmaker

from ...core import migrate
from ...core.bulk import insert_rows, scratch_copy
from ...core.db import NAMING_CONVENTION
from ...core.i18n import _
from ...core.runtime import Runtime
from ...core.security import issue_partner_key, revoke_partner
from ...core.yardstick import Comparison, Stored, Timed, database_size, measure, print_comparisons, print_storage
from . import auth, bulk, policies, synth
from .config import IdentitySettings
from .domain import AuthAttempt, Demographics
from .models import AuthThrottle, Enrolment, PartnerPolicy, Person
from .pipeline import prepared_chunks
from .rows import numbered_chunks, row_spec

# The yardstick's rate on the machines the goals were written for (issue 3).
REFERENCE_YARDSTICK_RATE = 150_000


def run(
    *,
    runtime: Runtime,
    count: int,
    chunk_size: int,
    workers: int,
    auth_requests: int,
    clients: int,
    keep: bool,
    console: Console,
) -> None:
    if runtime.settings.environment == "production":
        console.print(_("refusing to benchmark a production database (ENVIRONMENT=production)"), style="red")
        return
    engine, factory, country = runtime.engine, runtime.session_factory, runtime.country
    settings = runtime.settings_of(IdentitySettings)
    migrate.upgrade(engine)
    run_id = secrets.token_hex(3)
    profile = country.profile
    console.print(
        _("database: {dialect} ({url}); run {run}").format(
            dialect=engine.dialect.name, url=engine.url.render_as_string(hide_password=True), run=run_id
        ),
        markup=False,
    )

    started = time.perf_counter()
    rows = list(
        synth.population(
            count=count,
            seed=1,
            duplicates=0.02,
            locale=profile.locale,
            phone_region=profile.phone_region,
            address_levels=profile.address_levels,
            prefix=f"B{run_id}",
        )
    )
    console.print(
        _("synthesised {count} residents in {seconds} s (not timed below)").format(
            count=f"{count:,}", seconds=f"{time.perf_counter() - started:.1f}"
        )
    )

    issued: list[tuple[str, str]] = []
    try:
        # Enrolment through the import's path, timed from raw rows (validation included), rows
        # prepared by `workers` worker processes one chunk ahead of the writer (pipeline.py).
        enroller = bulk.BulkEnroller(country=country, settings=settings, actor="bench")
        written_people: list[tuple[Any, ...]] = []
        written_enrolments: list[tuple[Any, ...]] = []
        held: set[str] = set()
        size_before = database_size(engine)
        started = time.perf_counter()
        chunks = numbered_chunks(rows, chunk_size)
        for prepared in prepared_chunks(chunks, row_spec(country, settings), workers=workers):
            if prepared.rejected:
                raise RuntimeError(f"a synthetic row was rejected: {prepared.rejected[0]}")
            with factory.begin() as session:
                outcome = enroller.enrol_chunk(
                    session=session,
                    applicants=prepared.applicants,
                    source=f"bench-{run_id}",
                    id_candidates=prepared.id_candidates,
                )
            written_people.append(outcome.person_rows)
            written_enrolments.append(outcome.enrolment_rows)
            held.update(application_id for application_id, _candidates in outcome.held)
            issued.extend(outcome.issued)
        enrol_seconds = time.perf_counter() - started
        enrol_rate = count / enrol_seconds
        print_storage(Stored("identity.storage", count, database_size(engine) - size_before), console)

        truth = {row[synth.REFERENCE_COLUMN] for row in rows if row[synth.TRUTH_COLUMN]}
        true_positives = len(held & truth)
        precision = true_positives / len(held) if held else 1.0
        recall = true_positives / len(truth) if truth else 1.0

        raw_seconds = _raw_baseline(engine, factory, written_people, written_enrolments)
        console.print(
            _("enrolment: {count} residents in {seconds} s = {rate} residents/s ({issued} issued, {held} held)").format(
                count=f"{count:,}",
                seconds=f"{enrol_seconds:.2f}",
                rate=f"{enrol_rate:,.0f}",
                issued=f"{len(issued):,}",
                held=f"{len(held):,}",
            )
        )
        print_comparisons(
            [
                Comparison(
                    Timed("identity.enrolment", count, enrol_seconds), Timed("identity.raw-insert", count, raw_seconds)
                )
            ],
            console,
        )
        console.print(
            _(
                "deduplication: {injected} injected near-duplicates; flagged {flagged}; "
                "precision {precision}, recall {recall}"
            ).format(
                injected=f"{len(truth):,}",
                flagged=f"{len(held):,}",
                precision=f"{precision:.4f}",
                recall=f"{recall:.4f}",
            )
        )

        authentications = None
        if issued:
            size_before = database_size(engine)
            authentications = _auth_load(
                factory, country, settings, runtime, rows, issued, auth_requests, clients, console
            )
            # Each verification keeps its audit event: what a year of authentications costs on disk.
            written = database_size(engine) - size_before
            print_storage(Stored("identity.authentication-storage", auth_requests, written), console)
        _print_normalised(engine, count, enrol_rate, authentications, console)
    finally:
        if not keep:
            _remove(factory, run_id, [national_id for _application_id, national_id in issued])
            console.print(_("bench residents removed (audit events stay: the log is append-only)"))


def _print_normalised(engine, count: int, enrol_rate: float, authentications: Timed | None, console: Console) -> None:
    yardstick = measure(engine, count)
    console.print(
        _(
            "machine yardstick: raw insert of {count} rows with a unique key: {rate} rows/s "
            "(the goals' reference machine: {reference} rows/s)"
        ).format(count=f"{yardstick.rows:,}", rate=f"{yardstick.rate:,.0f}", reference=f"{REFERENCE_YARDSTICK_RATE:,}"),
        markup=False,
    )
    scaled_enrolment = yardstick.scaled(enrol_rate, REFERENCE_YARDSTICK_RATE)
    line = _("scaled to the reference machine: enrolment {rate} residents/s").format(rate=f"{scaled_enrolment:,.0f}")
    if authentications is not None:
        scaled_auth = yardstick.scaled(authentications.rate, REFERENCE_YARDSTICK_RATE)
        line += _(", authentication {rate} verifications/s").format(rate=f"{scaled_auth:,.0f}")
    console.print(line, markup=False)
    if authentications is not None:
        # Authentication writes no rows to compare with: its baseline is the machine's yardstick.
        machine = Timed("core.yardstick", yardstick.rows, yardstick.seconds)
        print_comparisons([Comparison(authentications, machine)], console)


def _raw_baseline(engine, factory: sessionmaker[Session], people: list, enrolments: list) -> float:
    scratch = MetaData(naming_convention=NAMING_CONVENTION)
    person_table = scratch_copy(Person.__table__, "identity_bench_raw_person", scratch)
    enrolment_table = scratch_copy(Enrolment.__table__, "identity_bench_raw_enrolment", scratch)
    scratch.drop_all(engine)
    scratch.create_all(engine)
    try:
        started = time.perf_counter()
        for person_rows, enrolment_rows in zip(people, enrolments, strict=True):
            with factory.begin() as session:
                connection = session.connection()
                insert_rows(connection, person_table, bulk.PERSON_COLUMNS, person_rows)
                insert_rows(connection, enrolment_table, bulk.ENROLMENT_COLUMNS, enrolment_rows)
        return time.perf_counter() - started
    finally:
        scratch.drop_all(engine)


def _auth_load(factory, country, settings, runtime, rows, issued, total: int, clients: int, console: Console) -> Timed:
    by_reference = {row[synth.REFERENCE_COLUMN]: row for row in rows}
    sample = issued[: min(len(issued), 20_000)]
    attempts = []
    for number in range(total):
        application_id, national_id = sample[number % len(sample)]
        row = by_reference[application_id]
        attempts.append(
            AuthAttempt(
                transaction_id=f"bench-{number:010d}",
                individual_id=national_id,
                consent=True,
                demographics=Demographics(
                    given_name=row["given_name"], date_of_birth=date.fromisoformat(row["date_of_birth"])
                ),
            )
        )
    with factory.begin() as session:
        partner = issue_partner_key(session=session, name="Bench relying party", scopes=["identity:auth"]).partner
        policies.set_policy(
            session=session, partner_id=partner.id, auth_types=["demo"], ekyc_attributes=[], actor="bench"
        )
    secret = runtime.settings.secret_key.get_secret_value()
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(mine: Sequence[AuthAttempt]) -> None:
        local, errors = [], []
        for attempt in mine:
            begun = time.perf_counter()
            try:
                result = auth.authenticate_committed(
                    session_factory=factory,
                    attempt=attempt,
                    partner=partner,
                    country=country,
                    settings=settings,
                    secret=secret,
                )
                if not result.authenticated:
                    errors.append(result.reason or "not authenticated")
            except Exception as error:
                errors.append(repr(error))
            local.append(time.perf_counter() - begun)
        with lock:
            latencies.extend(local)
            failures.extend(errors)

    threads = [threading.Thread(target=client, args=(attempts[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    outcome = _(
        "authentication (service function, {clients} client threads, audit included): {count} in {seconds} s = "
        "{rate} verifications/s, p50 {p50} ms, p99 {p99} ms, {failed} not authenticated"
    ).format(
        clients=clients,
        count=f"{total:,}",
        seconds=f"{seconds:.2f}",
        rate=f"{total / seconds:,.0f}",
        p50=f"{p50 * 1000:.1f}",
        p99=f"{p99 * 1000:.1f}",
        failed=len(failures),
    )
    if failures:
        outcome += " " + _("(first: {failure})").format(failure=failures[0])
    console.print(outcome, markup=False)
    with factory.begin() as session:
        session.execute(delete(PartnerPolicy).where(PartnerPolicy.partner_id == partner.id))
        revoke_partner(session=session, partner_id=partner.id)
    return Timed("identity.authentication", total, seconds)


def _remove(factory: sessionmaker[Session], run_id: str, national_ids: list[str]) -> None:
    with factory.begin() as session:
        session.execute(delete(Enrolment).where(Enrolment.application_id.like(f"B{run_id}-%")))
        for start in range(0, len(national_ids), 5000):
            part = national_ids[start : start + 5000]
            session.execute(delete(Person).where(Person.national_id.in_(part)))
            session.execute(delete(AuthThrottle).where(AuthThrottle.national_id.in_(part)))
