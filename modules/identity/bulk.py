"""Bulk enrolment: the same pipeline as one enrolment, chunked, for a population register.

Per chunk, in one transaction: skip application IDs already enrolled (so a
re-run never enrols a row twice), deduplicate in memory against an index of the
registry blocked by date of birth (loaded once, then topped up with rows other
writers added since), issue IDs from the fast generator, and write people and
applications with the database's bulk path (executemany on SQLite, COPY on
PostgreSQL). One audit event records each chunk.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.models import utcnow
from . import idnumbers
from .config import IdentitySettings
from .models import Enrolment, EnrolmentStatus, Person, PersonStatus
from .service import SECTION, normalise_name, sorted_tokens

PERSON_COLUMNS = (
    "national_id",
    "given_name",
    "family_name",
    "name_key",
    "date_of_birth",
    "sex",
    "phone",
    "address",
    "status",
    "created_at",
)
ENROLMENT_COLUMNS = (
    "application_id",
    "request_hash",
    "status",
    "national_id",
    "candidates",
    "demographics",
    "created_at",
)


@dataclass(frozen=True)
class Applicant:
    """One validated row (see importer.parse_row): phone already normalised, raw phone kept for the hash."""

    application_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    phone: str | None
    raw_phone: str | None
    address: dict[str, str]


@dataclass
class ChunkOutcome:
    issued: list[tuple[str, str]] = field(default_factory=list)  # (application_id, national_id)
    held: list[tuple[str, list[str]]] = field(default_factory=list)  # (application_id, candidates)
    already: int = 0
    person_rows: list[tuple[Any, ...]] = field(default_factory=list)
    enrolment_rows: list[tuple[Any, ...]] = field(default_factory=list)


class BulkEnroller:
    """Keeps the dedup index and the set of issued IDs between chunks of one run."""

    def __init__(self, *, country: LoadedCountry, settings: IdentitySettings, actor: str) -> None:
        self._threshold = settings.dedup_threshold
        self._ids = idnumbers.stream(country.section(SECTION).id_length, restricted=settings.restricted_ids)
        self._actor = actor
        # date of birth -> (national ID, normalised name, its words sorted)
        self._by_birthday: dict[date, list[tuple[str, str, str]]] = defaultdict(list)
        self._issued: set[str] = set()
        self._last_person_id = 0

    def enrol_chunk(self, *, session: Session, applicants: Sequence[Applicant], source: str) -> ChunkOutcome:
        """Enrol one chunk in the session's transaction (the caller commits)."""
        connection = session.connection()
        self._top_up(connection)
        outcome = ChunkOutcome()
        seen = _already_enrolled(connection, [a.application_id for a in applicants])
        sqlite = connection.dialect.name == "sqlite"
        # SQLite gets the text forms SQLAlchemy's Date and DateTime types store there.
        now: Any = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else utcnow()
        for applicant in applicants:
            if applicant.application_id in seen:
                outcome.already += 1
                continue
            seen.add(applicant.application_id)
            name_key = normalise_name(f"{applicant.given_name} {applicant.family_name}")
            token_key = sorted_tokens(name_key)
            block = self._by_birthday[applicant.date_of_birth]
            threshold = self._threshold
            candidates = sorted(
                {
                    nid
                    for nid, key, sorted_key in block
                    if fuzz.ratio(token_key, sorted_key, score_cutoff=threshold)
                    or fuzz.ratio(name_key, key, score_cutoff=threshold)
                }
            )
            demographics = {
                "application_id": applicant.application_id,
                "given_name": applicant.given_name,
                "family_name": applicant.family_name,
                "date_of_birth": applicant.date_of_birth.isoformat(),
                "sex": applicant.sex,
                "phone": applicant.raw_phone,
                "address": applicant.address,
            }
            # The canonical form is both what the API hashes and what is stored (absent optional
            # fields take their defaults when an adjudicator re-reads it).
            demographics_json = _dumps(demographics)
            request_hash = hashlib.sha256(demographics_json.encode()).hexdigest()
            if candidates:
                outcome.held.append((applicant.application_id, candidates))
                outcome.enrolment_rows.append(
                    (
                        applicant.application_id,
                        request_hash,
                        EnrolmentStatus.HELD.value,
                        None,
                        json.dumps(candidates),
                        demographics_json,
                        now,
                    )
                )
                continue
            national_id = self._new_id()
            block.append((national_id, name_key, token_key))
            outcome.issued.append((applicant.application_id, national_id))
            outcome.person_rows.append(
                (
                    national_id,
                    applicant.given_name,
                    applicant.family_name,
                    name_key,
                    applicant.date_of_birth.isoformat() if sqlite else applicant.date_of_birth,
                    applicant.sex,
                    applicant.phone,
                    json.dumps(applicant.address),
                    PersonStatus.ACTIVE.value,
                    now,
                )
            )
            outcome.enrolment_rows.append(
                (
                    applicant.application_id,
                    request_hash,
                    EnrolmentStatus.ISSUED.value,
                    national_id,
                    "[]",
                    demographics_json,
                    now,
                )
            )
        write_rows(connection, Person.__tablename__, PERSON_COLUMNS, outcome.person_rows)
        write_rows(connection, Enrolment.__tablename__, ENROLMENT_COLUMNS, outcome.enrolment_rows)
        if outcome.issued or outcome.held:
            audit.record(
                session=session,
                actor=self._actor,
                action="identity.enrolment.bulk",
                subject=f"import:{source}"[:200],
                detail={
                    "issued": len(outcome.issued),
                    "held": len(outcome.held),
                    "first": applicants[0].application_id,
                    "last": applicants[-1].application_id,
                },
            )
        return outcome

    def _new_id(self) -> str:
        while True:
            candidate = next(self._ids)
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def _top_up(self, connection: Connection) -> None:
        """Add people enrolled since the last look (all of them the first time) to the index."""
        rows = connection.execute(
            select(Person.id, Person.national_id, Person.date_of_birth, Person.name_key)
            .where(Person.id > self._last_person_id)
            .order_by(Person.id)
        )
        for person_id, national_id, date_of_birth, name_key in rows:
            if national_id not in self._issued:
                self._issued.add(national_id)
                self._by_birthday[date_of_birth].append((national_id, name_key, sorted_tokens(name_key)))
            self._last_person_id = person_id


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def write_rows(connection: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows with the driver's bulk path: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    # Table and column names are this module's constants, never input.
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    connection.exec_driver_sql(statement, rows)


def _already_enrolled(connection: Connection, application_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(application_ids), 5000):
        part = application_ids[start : start + 5000]
        found.update(connection.scalars(select(Enrolment.application_id).where(Enrolment.application_id.in_(part))))
    return found
