"""Enrolment: validate, deduplicate demographically, issue an ID or hold for adjudication."""

from __future__ import annotations

import hashlib
import json
import unicodedata

import phonenumbers
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from . import idnumbers
from .config import IdentityCountry, IdentitySettings
from .models import Enrolment, EnrolmentStatus, Person
from .schemas import EnrolmentRequest

SECTION = "identity"


def enrol(
    *, session: Session, request: EnrolmentRequest, country: LoadedCountry, settings: IdentitySettings, actor: str
) -> Enrolment:
    """Process one enrolment; repeating an application returns its first outcome."""
    request_hash = _hash(request)
    existing = session.scalar(select(Enrolment).where(Enrolment.application_id == request.application_id))
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict(f"application_id: {request.application_id!r} was already used for different demographics")
        return existing
    phone = _normalised_phone(request.phone, country.profile.phone_region)
    _check_address(request.address, country.profile.address_levels)
    name_key = normalise_name(f"{request.given_name} {request.family_name}")
    candidates = _demographic_duplicates(session, request, name_key, settings.dedup_threshold)
    enrolment = Enrolment(
        application_id=request.application_id,
        request_hash=request_hash,
        demographics=request.model_dump(mode="json"),
        candidates=candidates,
        status=EnrolmentStatus.HELD if candidates else EnrolmentStatus.ISSUED,
    )
    if not candidates:
        identity_country: IdentityCountry = country.section(SECTION)
        person = Person(
            national_id=_unused_id(session, identity_country.id_length, settings.restricted_ids),
            given_name=request.given_name,
            family_name=request.family_name,
            name_key=name_key,
            date_of_birth=request.date_of_birth,
            sex=request.sex,
            phone=phone,
            address=request.address,
        )
        session.add(person)
        enrolment.national_id = person.national_id
    session.add(enrolment)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"identity.enrolment.{enrolment.status}",
        subject=f"person:{enrolment.national_id}" if enrolment.national_id else f"enrolment:{enrolment.application_id}",
        detail={"application_id": enrolment.application_id, "candidates": candidates},
    )
    return enrolment


def get_enrolment(*, session: Session, application_id: str) -> Enrolment:
    enrolment = session.scalar(select(Enrolment).where(Enrolment.application_id == application_id))
    if enrolment is None:
        raise NotFound(f"application_id: no enrolment {application_id!r}")
    return enrolment


def get_person(*, session: Session, national_id: str, country: LoadedCountry) -> Person:
    idnumbers.validate(national_id, length=country.section(SECTION).id_length)
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    if person is None:
        raise NotFound(f"national_id: no person holds {national_id!r}")
    return person


def normalise_name(name: str) -> str:
    """Case-, accent- and space-insensitive form used for blocking and fuzzy scoring."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _demographic_duplicates(session: Session, request: EnrolmentRequest, name_key: str, threshold: int) -> list[str]:
    # Blocking on date of birth keeps the fuzzy comparison to a handful of rows.
    same_birthday = session.execute(
        select(Person.national_id, Person.name_key).where(Person.date_of_birth == request.date_of_birth)
    )
    return sorted(nid for nid, key in same_birthday if fuzz.token_sort_ratio(name_key, key) >= threshold)


def _unused_id(session: Session, length: int, restricted: list[str]) -> str:
    while True:
        candidate = idnumbers.generate(length, restricted=restricted)
        if session.scalar(select(Person.id).where(Person.national_id == candidate)) is None:
            return candidate


def _normalised_phone(phone: str | None, region: str) -> str | None:
    if phone is None:
        return None
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise Unprocessable(f"phone: {phone!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Unprocessable(f"phone: {phone!r} is not a valid number (home region {region})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_address(address: dict[str, str], levels: list[str]) -> None:
    unknown = sorted(set(address) - set(levels))
    if unknown:
        raise Unprocessable(f"address: unknown level(s) {', '.join(unknown)}; allowed: {', '.join(levels)}")


def _hash(request: EnrolmentRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
