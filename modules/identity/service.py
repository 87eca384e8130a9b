"""Enrolment: validate, deduplicate (demographic, then biometric), issue an ID or hold for adjudication.

Also the registry's other writes: adjudication, ID lifecycle, and contact changes with history.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from functools import lru_cache
from typing import Any

import phonenumbers
import structlog
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.approvals import Signatory
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Unprocessable
from ...core.i18n import _
from ...core.ports import Death, LifeEvents
from ...core.registry import Ports
from . import idnumbers
from .applications import Application
from .biometrics import load_adapter
from .config import IdentityCountry, IdentitySettings
from .metrics import ENROLMENTS
from .models import ContactChange, Enrolment, EnrolmentStatus, Person, PersonStatus

SECTION = "identity"
log = structlog.get_logger(__name__)  # internal ids and outcomes only: never an ID number, a name or a phone


def enrol(
    *, session: Session, request: Application, country: LoadedCountry, settings: IdentitySettings, maker: Signatory
) -> Enrolment:
    """Process one enrolment; repeating an application returns its first outcome.

    The maker is recorded: four-eyes refuses them as an adjudicator of the enrolment if it is held.
    """
    request_hash = hash_request(request)
    existing = session.scalar(select(Enrolment).where(Enrolment.application_id == request.application_id))
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict(
                "application_id: "
                + _("'{application_id}' was already used for different demographics").format(
                    application_id=request.application_id
                )
            )
        return existing
    # 1. validation
    phone = normalised_phone(request.phone, country.profile.phone_region)
    check_address(request.address, country.profile.address_levels)
    identity_country: IdentityCountry = country.section(SECTION)
    _check_scripts(request, identity_country.name_scripts)
    # 2. demographic deduplication
    name_key = normalise_name(f"{request.given_name} {request.family_name}")
    candidates = set(_demographic_duplicates(session, request, name_key, settings.dedup_threshold))
    # 3. biometric deduplication
    biometrics = load_adapter(settings.biometric_adapter)
    if request.biometric_ref:
        candidates.update(biometrics.identify(session=session, template_ref=request.biometric_ref))
    enrolment = Enrolment(
        application_id=request.application_id,
        request_hash=request_hash,
        demographics=request.demographics(),
        candidates=sorted(candidates),
        status=EnrolmentStatus.HELD if candidates else EnrolmentStatus.ISSUED,
        made_by=maker.person,
    )
    session.add(enrolment)
    # 4. issue, or hold for manual adjudication
    if not candidates:
        _issue(session, enrolment, request, identity_country, settings, phone=phone, name_key=name_key)
    session.flush()
    audit.record(
        session=session,
        actor=maker.actor,
        action=f"identity.enrolment.{enrolment.status}",
        subject=f"person:{enrolment.national_id}" if enrolment.national_id else f"enrolment:{enrolment.application_id}",
        detail={"application_id": enrolment.application_id, "candidates": enrolment.candidates},
    )
    ENROLMENTS.labels(outcome=str(enrolment.status)).inc()
    log.info("identity.enrolment", enrolment_id=enrolment.id, outcome=str(enrolment.status), candidates=len(candidates))
    return enrolment


def issue_held(*, session: Session, enrolment: Enrolment, country: LoadedCountry, settings: IdentitySettings) -> None:
    """Issue an ID to a held enrolment after all (its adjudicators approved it: adjudication.py)."""
    request = Application.from_demographics(enrolment.demographics)
    phone = normalised_phone(request.phone, country.profile.phone_region)
    name_key = normalise_name(f"{request.given_name} {request.family_name}")
    _issue(session, enrolment, request, country.section(SECTION), settings, phone=phone, name_key=name_key)
    enrolment.status = EnrolmentStatus.ISSUED


def get_enrolment(*, session: Session, application_id: str) -> Enrolment:
    return session.scalar(select(Enrolment).where(Enrolment.application_id == application_id)) or missing(
        application_id
    )


def get_person(*, session: Session, national_id: str, country: LoadedCountry, for_update: bool = False) -> Person:
    idnumbers.validate(national_id, length=country.section(SECTION).id_length)
    query = select(Person).where(Person.national_id == national_id)
    person = session.scalar(query.with_for_update() if for_update else query)
    if person is None:
        raise NotFound("national_id: " + _("no person holds '{national_id}'").format(national_id=national_id))
    return person


LIFECYCLE = "identity:lifecycle"  # the source of a death a registrar records (LifeEvents listeners see it)


def set_status(
    *,
    session: Session,
    ports: Ports,
    national_id: str,
    status: str,
    reason: str,
    country: LoadedCountry,
    actor: str,
    reported: Death | None = None,
) -> Person:
    """ID lifecycle: deactivate (death or other cause) or reactivate; audited with the reason.

    A death (an active person made `deceased`) is first told to every installed module's `LifeEvents`
    listener, in this transaction and before the status changes: they find the person by sector token,
    which resolves for active people only. `reported`: the death as another system reported it (a
    DCI notification: dci.py), told to the listeners and recorded in the audit event beside the reason;
    without it the listeners hear of the lifecycle change itself (source `identity:lifecycle`).
    """
    person = get_person(session=session, national_id=national_id, country=country, for_update=True)
    if person.status == status:
        raise Conflict(
            "status: " + _("'{national_id}' is already {status}").format(national_id=national_id, status=status)
        )
    if status == PersonStatus.DECEASED and person.status == PersonStatus.ACTIVE:
        death = reported or Death(national_id=national_id, date_of_death=None, source=LIFECYCLE, reference=reason)
        for listener in ports.every(LifeEvents):
            listener.person_died(session=session, death=death, actor=actor)
    previous, person.status = person.status, status
    source = {} if reported is None else {"source": reported.source, "reference": reported.reference}
    if reported is not None:
        source["date_of_death"] = reported.date_of_death and reported.date_of_death.isoformat()
    audit.record(
        session=session,
        actor=actor,
        action="identity.person.reactivated" if status == PersonStatus.ACTIVE else f"identity.person.{status}",
        subject=f"person:{national_id}",
        detail={"from": previous, "to": status, "reason": reason, **source},
    )
    return person


def update_contact(
    *,
    session: Session,
    national_id: str,
    phone: str | None,
    address: dict[str, str] | None,
    country: LoadedCountry,
    actor: str,
) -> Person:
    """Change the phone and/or address, keeping the old values in the history."""
    if phone is None and address is None:
        raise Unprocessable("phone, address: " + _("give at least one of them"))
    person = get_person(session=session, national_id=national_id, country=country, for_update=True)
    changes: dict[str, tuple[Any, Any]] = {}
    if phone is not None:
        new_phone = normalised_phone(phone, country.profile.phone_region)
        if new_phone != person.phone:
            changes["phone"] = (person.phone, new_phone)
            person.phone = new_phone
    if address is not None:
        check_address(address, country.profile.address_levels)
        if address != person.address:
            changes["address"] = (person.address, address)
            person.address = address
    for field, (old, new) in changes.items():
        session.add(ContactChange(national_id=national_id, field=field, old_value=old, new_value=new, actor=actor))
    if changes:
        audit.record(
            session=session,
            actor=actor,
            action="identity.contact.updated",
            subject=f"person:{national_id}",
            detail={"fields": sorted(changes)},
        )
    return person


def contact_history(*, session: Session, national_id: str) -> list[ContactChange]:
    query = select(ContactChange).where(ContactChange.national_id == national_id).order_by(ContactChange.id)
    return list(session.scalars(query))


def normalise_name(name: str) -> str:
    """Case-, accent- and space-insensitive form used for blocking and fuzzy scoring."""
    if name.isascii():
        return " ".join(name.lower().split())
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def sorted_tokens(name_key: str) -> str:
    """The name's words in order: comparing these with `fuzz.ratio` is `token_sort_ratio`."""
    return " ".join(sorted(name_key.split()))


def name_score(left_key: str, right_key: str) -> float:
    """Similarity of two normalised names: the better of the names as written (catches a typo that
    moves a word's first letter or a space) and with their words sorted (catches swapped names)."""
    return max(fuzz.ratio(left_key, right_key), fuzz.token_sort_ratio(left_key, right_key))


def normalised_phone(phone: str | None, region: str) -> str | None:
    if phone is None:
        return None
    # A register's numbers are mostly E.164 already and each is seen once: check those directly,
    # and keep the cache for the numbers phonenumbers has to parse.
    if _valid_e164_of_region(phone, region):
        return phone
    return _parse_phone(phone, region)


@lru_cache(maxsize=65536)
def _parse_phone(phone: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        raise Unprocessable("phone: " + _("'{phone}' is not a phone number").format(phone=phone)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Unprocessable(
            "phone: " + _("'{phone}' is not a valid number (home region {region})").format(phone=phone, region=region)
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _valid_e164_of_region(phone: str, region: str) -> bool:
    """Fast path for bulk data: an E.164 number of the region's own calling code, checked against
    the same metadata patterns phonenumbers uses. False means "ask phonenumbers", not "invalid"."""
    patterns = _region_patterns(region)
    if patterns is None or not phone.startswith(patterns[0]):
        return False
    national = phone[len(patterns[0]) :]
    return national.isdigit() and bool(patterns[1].fullmatch(national)) and bool(patterns[2].fullmatch(national))


@lru_cache(maxsize=32)
def _region_patterns(region: str) -> tuple[str, re.Pattern[str], re.Pattern[str]] | None:
    """The region's calling code, its general number pattern, and its number types' patterns as one
    alternation (one regex call instead of one per type: this check runs once per imported row)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None or metadata.general_desc is None:
        return None
    # Calling codes shared by several regions (+1, +7, +44 ...) need phonenumbers' region resolution.
    if len(phonenumbers.region_codes_for_country_code(metadata.country_code)) != 1:
        return None
    descriptions = (
        metadata.fixed_line,
        metadata.mobile,
        metadata.toll_free,
        metadata.premium_rate,
        metadata.shared_cost,
        metadata.personal_number,
        metadata.voip,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    )
    types = [d.national_number_pattern for d in descriptions if d and d.national_number_pattern]
    general = metadata.general_desc.national_number_pattern
    if not general or not types:
        return None
    any_type = "|".join(f"(?:{pattern})" for pattern in types)
    return f"+{metadata.country_code}", re.compile(general), re.compile(any_type)


def check_address(address: dict[str, str], levels: list[str]) -> None:
    unknown = sorted(set(address) - set(levels))
    if unknown:
        raise Unprocessable(
            "address: "
            + _("unknown level(s) {unknown}; allowed: {allowed}").format(
                unknown=", ".join(unknown), allowed=", ".join(levels)
            )
        )


def hash_request(request: Application) -> str:
    content = request.demographics()
    # Fields added after v0.1 only count when given, so earlier applications replay unchanged.
    for optional in ("other_names", "biometric_ref"):
        if not content[optional]:
            del content[optional]
    return content_hash(content)


# An application's canonical JSON: sorted keys, no spaces, non-ASCII characters escaped.
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of an application's canonical JSON."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def unused_id(session: Session, length: int, restricted: list[str]) -> str:
    while True:
        candidate = idnumbers.generate(length, restricted=restricted)
        if session.scalar(select(Person.id).where(Person.national_id == candidate)) is None:
            return candidate


def _issue(
    session: Session,
    enrolment: Enrolment,
    request: Application,
    identity_country: IdentityCountry,
    settings: IdentitySettings,
    *,
    phone: str | None,
    name_key: str,
) -> None:
    person = Person(
        national_id=unused_id(session, identity_country.id_length, settings.restricted_ids),
        given_name=request.given_name,
        family_name=request.family_name,
        other_names=request.demographics()["other_names"] or None,
        name_key=name_key,
        date_of_birth=request.date_of_birth,
        sex=request.sex,
        phone=phone,
        address=request.address,
    )
    session.add(person)
    enrolment.national_id = person.national_id
    if request.biometric_ref:
        load_adapter(settings.biometric_adapter).insert(
            session=session, national_id=person.national_id, template_ref=request.biometric_ref
        )


def _demographic_duplicates(session: Session, request: Application, name_key: str, threshold: int) -> list[str]:
    # Blocking on date of birth keeps the fuzzy comparison to a handful of rows.
    same_birthday = session.execute(
        select(Person.national_id, Person.name_key).where(Person.date_of_birth == request.date_of_birth)
    )
    return sorted(nid for nid, key in same_birthday if name_score(name_key, key) >= threshold)


def _check_scripts(request: Application, allowed: list[str]) -> None:
    unknown = sorted(set(request.other_names) - set(allowed)) if allowed else []
    if unknown:
        raise Unprocessable(
            "other_names: "
            + _("script(s) {unknown} are not used here; allowed: {allowed}").format(
                unknown=", ".join(unknown), allowed=", ".join(allowed)
            )
        )


def missing(application_id: str) -> Enrolment:
    raise NotFound("application_id: " + _("no enrolment '{application_id}'").format(application_id=application_id))
