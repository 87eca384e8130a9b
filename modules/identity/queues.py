"""The adjudicators' queue: enrolments held as possible duplicates, each with its candidates.

Deduplication stores a held enrolment's candidates as national IDs, not their scores; the name
score shown is recomputed from the stored names (a candidate found by biometrics alone may score low).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core.pages import Page, PageRequest, fetch
from .models import Enrolment, EnrolmentStatus, Person
from .service import name_score, normalise_name


@dataclass(frozen=True)
class Candidate:
    person: Person
    name_score: float  # 0-100, as deduplication compares names


@dataclass(frozen=True)
class HeldEnrolment:
    enrolment: Enrolment
    candidates: list[Candidate]  # in the order the enrolment stored them


def held_enrolments(
    *,
    session: Session,
    page: PageRequest,
    region_level: str,
    region: str | None = None,
    within: frozenset[str] | None = None,
    since: date | None = None,
) -> Page[HeldEnrolment]:
    """Held enrolments, oldest first; `region` filters on the address's `region_level` (the country's
    first level), `within` keeps those of a region-limited caller's regions (None: every region),
    `since` filters on the day received (UTC)."""
    query = select(Enrolment).where(Enrolment.status == EnrolmentStatus.HELD)
    enrolment_region = Enrolment.demographics["address"][region_level].as_string()
    if region is not None:
        query = query.where(enrolment_region == region)
    if within is not None:
        query = query.where(enrolment_region.in_(sorted(within)))
    if since is not None:
        query = query.where(Enrolment.created_at >= datetime.combine(since, time.min, tzinfo=UTC))
    enrolments = fetch(session, query, Enrolment.id, page)
    wanted = {national_id for enrolment in enrolments.items for national_id in enrolment.candidates}
    people = {
        person.national_id: person for person in session.scalars(select(Person).where(Person.national_id.in_(wanted)))
    }
    return enrolments.map(lambda enrolment: _with_candidates(enrolment, people))


def candidates_of(*, session: Session, enrolment: Enrolment) -> list[Candidate]:
    """One enrolment's candidates with their name scores, as the queue shows them."""
    people = {
        person.national_id: person
        for person in session.scalars(select(Person).where(Person.national_id.in_(enrolment.candidates)))
    }
    return _with_candidates(enrolment, people).candidates


def _with_candidates(enrolment: Enrolment, people: dict[str, Person]) -> HeldEnrolment:
    held = enrolment.demographics
    name_key = normalise_name(f"{held['given_name']} {held['family_name']}")
    return HeldEnrolment(
        enrolment=enrolment,
        candidates=[
            Candidate(person=people[national_id], name_score=name_score(name_key, people[national_id].name_key))
            for national_id in enrolment.candidates
            if national_id in people
        ],
    )
