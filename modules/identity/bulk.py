"""Bulk enrolment: the same pipeline as one enrolment, chunked, for a population register.

Rows arrive prepared (`rows.prepare_chunk`: validated, name keys, canonical JSON and
hash, fresh ID candidates), usually by a worker process (`pipeline.py`). Per chunk,
in one transaction: skip application IDs already enrolled (so a re-run never enrols
a row twice), deduplicate in memory against an index of the registry blocked by date
of birth (loaded once, then topped up with rows other writers added since), issue
IDs, and write people and applications with the core's bulk path
(`core.bulk.insert_rows`: executemany on SQLite, COPY on PostgreSQL). One audit
event records each chunk.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.bulk import driver_value, insert_rows
from ...core.country import LoadedCountry
from ...core.models import utcnow
from . import idnumbers
from .config import IdentitySettings
from .models import Enrolment, EnrolmentStatus, Person, PersonStatus
from .service import SECTION, sorted_tokens

PERSON = Person.__table__
ENROLMENT = Enrolment.__table__
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


class Prepared(NamedTuple):
    """An applicant with everything derived from its row alone (rows.prepare), ready to write."""

    application_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    phone: str | None
    name_key: str  # service.normalise_name of the full name
    token_key: str  # the same, words sorted
    address_json: str
    demographics_json: str  # the application's canonical JSON (service.canonical_json)
    request_hash: str  # its SHA-256, as service.hash_request computes it


@dataclass
class ChunkOutcome:
    issued: list[tuple[str, str]] = field(default_factory=list)  # (application_id, national_id)
    held: list[tuple[str, list[str]]] = field(default_factory=list)  # (application_id, candidates)
    already: int = 0
    person_rows: list[tuple[Any, ...]] = field(default_factory=list)
    enrolment_rows: list[tuple[Any, ...]] = field(default_factory=list)


# From this many people born on one day, one rapidfuzz scan per name form beats a comparison per
# person (the scan costs more to start); a registry of millions has tens per day.
SCAN_FROM = 5


@dataclass
class _Block:
    """The people born on one day, as parallel lists so rapidfuzz scans each in one call."""

    national_ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # normalised (service.normalise_name)
    sorted_names: list[str] = field(default_factory=list)  # the same, words sorted

    def add(self, national_id: str, name_key: str, token_key: str) -> None:
        self.national_ids.append(national_id)
        self.names.append(name_key)
        self.sorted_names.append(token_key)

    def candidates(self, name_key: str, token_key: str, threshold: int) -> list[str]:
        """IDs whose name scores `threshold` or more, as written or words sorted (service.name_score)."""
        if len(self.national_ids) < SCAN_FROM:
            people = zip(self.national_ids, self.names, self.sorted_names, strict=False)
            hits = {
                national_id
                for national_id, name, sorted_name in people
                if fuzz.ratio(token_key, sorted_name, score_cutoff=threshold)
                or fuzz.ratio(name_key, name, score_cutoff=threshold)
            }
        else:
            hits = {
                self.national_ids[index]
                for query, choices in ((token_key, self.sorted_names), (name_key, self.names))
                for _choice, _score, index in process.extract(
                    query, choices, scorer=fuzz.ratio, score_cutoff=threshold, limit=None
                )
            }
        return sorted(hits)


class BulkEnroller:
    """Keeps the dedup index and the set of issued IDs between chunks of one run."""

    def __init__(self, *, country: LoadedCountry, settings: IdentitySettings, actor: str) -> None:
        self._threshold = settings.dedup_threshold
        self._ids = idnumbers.stream(country.section(SECTION).id_length, restricted=settings.restricted_ids)
        self._actor = actor
        self._by_birthday: dict[date, _Block] = defaultdict(_Block)
        self._issued: set[str] = set()
        self._last_person_id = 0
        # Dates of birth as the driver stores them: a few tens of thousands of distinct values.
        self._stored_dates: dict[date, Any] = {}

    def enrol_chunk(
        self,
        *,
        session: Session,
        applicants: Sequence[Prepared],
        source: str,
        id_candidates: Iterable[str] = (),
    ) -> ChunkOutcome:
        """Enrol one chunk in the session's transaction (the caller commits).

        New IDs come from `id_candidates` (drawn elsewhere, e.g. by the worker that prepared the
        chunk) while they last, then from this enroller's own stream; each is checked unused."""
        connection = session.connection()
        self._top_up(connection)
        outcome = ChunkOutcome()
        seen = _already_enrolled(connection, [a.application_id for a in applicants])
        fresh_ids = itertools.chain(id_candidates, self._ids)
        now = utcnow()
        person_created = driver_value(connection, PERSON.c.created_at, now)
        enrolment_created = driver_value(connection, ENROLMENT.c.created_at, now)
        for applicant in applicants:
            if applicant.application_id in seen:
                outcome.already += 1
                continue
            seen.add(applicant.application_id)
            block = self._by_birthday[applicant.date_of_birth]
            candidates = block.candidates(applicant.name_key, applicant.token_key, self._threshold)
            if candidates:
                outcome.held.append((applicant.application_id, candidates))
                outcome.enrolment_rows.append(
                    (
                        applicant.application_id,
                        applicant.request_hash,
                        EnrolmentStatus.HELD.value,
                        None,
                        json.dumps(candidates),
                        applicant.demographics_json,
                        enrolment_created,
                    )
                )
                continue
            national_id = self._new_id(fresh_ids)
            block.add(national_id, applicant.name_key, applicant.token_key)
            outcome.issued.append((applicant.application_id, national_id))
            outcome.person_rows.append(
                (
                    national_id,
                    applicant.given_name,
                    applicant.family_name,
                    applicant.name_key,
                    self._stored_date(connection, applicant.date_of_birth),
                    applicant.sex,
                    applicant.phone,
                    applicant.address_json,
                    PersonStatus.ACTIVE.value,
                    person_created,
                )
            )
            outcome.enrolment_rows.append(
                (
                    applicant.application_id,
                    applicant.request_hash,
                    EnrolmentStatus.ISSUED.value,
                    national_id,
                    "[]",
                    applicant.demographics_json,
                    enrolment_created,
                )
            )
        insert_rows(connection, PERSON, PERSON_COLUMNS, outcome.person_rows)
        if outcome.person_rows:
            self._skip_own_rows(connection, len(outcome.person_rows))
        insert_rows(connection, ENROLMENT, ENROLMENT_COLUMNS, outcome.enrolment_rows)
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

    def _new_id(self, fresh_ids: Iterator[str]) -> str:
        for candidate in fresh_ids:
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate
        raise RuntimeError("the ID stream ended")  # self._ids is endless

    def _stored_date(self, connection: Connection, day: date) -> Any:
        stored = self._stored_dates.get(day)
        if stored is None:
            stored = self._stored_dates[day] = driver_value(connection, PERSON.c.date_of_birth, day)
        return stored

    def _skip_own_rows(self, connection: Connection, written: int) -> None:
        """If the people just written are all the rows since the last look, the next top-up starts
        after them: it would only read back this enroller's own rows."""
        last, since = connection.execute(
            select(func.max(Person.id), func.count()).where(Person.id > self._last_person_id)
        ).one()
        if since == written:
            self._last_person_id = last

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
                self._by_birthday[date_of_birth].add(national_id, name_key, sorted_tokens(name_key))
            self._last_person_id = person_id


def _already_enrolled(connection: Connection, application_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(application_ids), 5000):
        part = application_ids[start : start + 5000]
        found.update(connection.scalars(select(Enrolment.application_id).where(Enrolment.application_id.in_(part))))
    return found
