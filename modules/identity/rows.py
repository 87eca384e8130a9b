"""One register row's own work: validation and everything derived from the row alone.

Bulk enrolment splits in two. What needs only the row (checking it as the enrolment
API would, its name keys, canonical JSON and hash) and fresh ID candidates is done
here, by `prepare_chunk`, which a worker process runs one chunk ahead (see
`pipeline.py`); deduplication and writing need the whole registry and stay with the
writer (`bulk.BulkEnroller`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

from ...core.bulk import dump_json
from ...core.country import LoadedCountry
from ...core.errors import Unprocessable
from ...core.i18n import _, current_locale, use_locale
from . import idnumbers
from .bulk import Prepared
from .config import IdentitySettings
from .schemas import EARLIEST_BIRTH_YEAR
from .service import SECTION, canonical_json, normalise_name, normalised_phone, sorted_tokens
from .synth import REFERENCE_COLUMN

REQUIRED_COLUMNS = (REFERENCE_COLUMN, "given_name", "family_name", "date_of_birth", "sex")
_REFERENCE = re.compile(r"^[A-Za-z0-9-]{8,36}$")
_SEXES = {"F", "M", "X"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EARLIEST = date(EARLIEST_BIRTH_YEAR, 1, 1)
_NAME_LENGTH = 200
FIELD_LIMIT = 4096  # characters in one field of an imported row; a longer one rejects the row
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (read with surrogateescape)


class RowError(ValueError):
    pass


@dataclass(frozen=True)
class Applicant:
    """One validated row (parse_row): phone already normalised, raw phone kept for the hash."""

    application_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    phone: str | None
    raw_phone: str | None
    address: dict[str, str]


@dataclass(frozen=True)
class RowSpec:
    """What checking and preparing a row needs from the deployment (picklable, for the worker)."""

    levels: list[str]
    region: str
    today: date
    locale: str
    id_length: int
    restricted_ids: list[str]


@dataclass(frozen=True)
class RowChunk:
    rows: list[tuple[int, dict[str, str]]]  # (first line number, row as csv.DictReader gives it)
    last_line: int
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # records the reader could not parse


@dataclass
class PreparedChunk:
    applicants: list[Prepared]
    rejected: list[tuple[int, str, str]]  # (line, source_ref, reason in the spec's locale)
    id_candidates: list[str]
    last_line: int


def numbered_chunks(rows: Sequence[dict[str, str]], size: int) -> Iterator[RowChunk]:
    """Rows already in memory, in chunks of `size`, numbered as a CSV file with a header would be."""
    for start in range(0, len(rows), size):
        numbered = list(enumerate(rows[start : start + size], start + 2))
        yield RowChunk(rows=numbered, last_line=numbered[-1][0])


def row_spec(country: LoadedCountry, settings: IdentitySettings) -> RowSpec:
    """The spec for this deployment, in the current locale (rejected rows' reasons are written in it)."""
    return RowSpec(
        levels=list(country.profile.address_levels),
        region=country.profile.phone_region,
        today=date.today(),
        locale=current_locale(),
        id_length=country.section(SECTION).id_length,
        restricted_ids=list(settings.restricted_ids),
    )


def prepare_chunk(chunk: RowChunk, spec: RowSpec) -> PreparedChunk:
    """Check and prepare every row of `chunk`; draw enough fresh ID candidates to issue one to each."""
    applicants: list[Prepared] = []
    rejected: list[tuple[int, str, str]] = list(chunk.rejected)
    with use_locale(spec.locale):
        for line, row in chunk.rows:
            reference = row.get(REFERENCE_COLUMN) or ""
            if None in row:
                rejected.append((line, _printable(reference), _("more fields than the header")))
                continue
            problem = _unreadable(row)
            if problem:
                rejected.append((line, _printable(reference), problem))
                continue
            try:
                applicants.append(prepare(parse_row(row, levels=spec.levels, region=spec.region, today=spec.today)))
            except RowError as error:
                rejected.append((line, reference, str(error)))
    ids = idnumbers.stream(spec.id_length, restricted=spec.restricted_ids)
    return PreparedChunk(
        applicants=applicants,
        rejected=sorted(rejected),
        id_candidates=list(itertools.islice(ids, len(applicants))),
        last_line=chunk.last_line,
    )


def _unreadable(row: dict[str, str]) -> str | None:
    """Why a row cannot even be checked: bytes that are not UTF-8, or a field over FIELD_LIMIT."""
    for column, value in row.items():
        if value is None:
            continue
        if undecodable := _UNDECODABLE.search(value):
            return f"{column}: " + _("invalid UTF-8 (an undecodable byte at character {position})").format(
                position=undecodable.start() + 1
            )
        if len(value) > FIELD_LIMIT:
            return f"{column}: " + _("a field is longer than {limit} characters").format(limit=FIELD_LIMIT)
    return None


def _printable(reference: str) -> str:
    """The source reference as the reject file can show it (invalid bytes as U+FFFD, at most 100 characters)."""
    return _UNDECODABLE.sub("\ufffd", reference[:100])


def prepare(applicant: Applicant) -> Prepared:
    name_key = normalise_name(f"{applicant.given_name} {applicant.family_name}")
    # What the API would store (absent optional fields take their defaults when an
    # adjudicator re-reads it): its canonical text, stored as is and hashed (content_hash).
    demographics_json = canonical_json(
        {
            "application_id": applicant.application_id,
            "given_name": applicant.given_name,
            "family_name": applicant.family_name,
            "date_of_birth": applicant.date_of_birth.isoformat(),
            "sex": applicant.sex,
            "phone": applicant.raw_phone,
            "address": applicant.address,
        }
    )
    return Prepared(
        application_id=applicant.application_id,
        given_name=applicant.given_name,
        family_name=applicant.family_name,
        date_of_birth=applicant.date_of_birth,
        sex=applicant.sex,
        phone=applicant.phone,
        name_key=name_key,
        token_key=sorted_tokens(name_key),
        address_json=dump_json(applicant.address),
        demographics_json=demographics_json,
        request_hash=hashlib.sha256(demographics_json.encode()).hexdigest(),
    )


def parse_row(row: dict[str, str], *, levels: list[str], region: str, today: date) -> Applicant:
    """Validate one CSV row as the enrolment API would; RowError says what is wrong (in the current language)."""
    if _CONTROL.search("".join(value for value in row.values() if isinstance(value, str))):
        raise RowError(_("a field holds control characters"))
    reference = (row.get(REFERENCE_COLUMN) or "").strip()
    if not _REFERENCE.match(reference):
        raise RowError(
            f"{REFERENCE_COLUMN}: " + _("'{reference}' must be 8-36 letters, digits or '-'").format(reference=reference)
        )
    given, family = (row.get("given_name") or "").strip(), (row.get("family_name") or "").strip()
    if not given or not family or len(given) > _NAME_LENGTH or len(family) > _NAME_LENGTH:
        raise RowError(
            "given_name, family_name: "
            + _("both are required, at most {length} characters").format(length=_NAME_LENGTH)
        )
    try:
        born = date.fromisoformat((row.get("date_of_birth") or "").strip())
    except ValueError:
        raise RowError(
            "date_of_birth: " + _("'{value}' is not a date (YYYY-MM-DD)").format(value=row.get("date_of_birth") or "")
        ) from None
    if born > today or born < _EARLIEST:
        raise RowError(
            "date_of_birth: "
            + _("{date} is in the future or before {year}").format(date=born.isoformat(), year=_EARLIEST.year)
        )
    sex = (row.get("sex") or "").strip()
    if sex not in _SEXES:
        raise RowError(
            "sex: " + _("'{sex}' is not one of {allowed}").format(sex=sex, allowed=", ".join(sorted(_SEXES)))
        )
    raw_phone = (row.get("phone") or "").strip() or None
    try:
        phone = normalised_phone(raw_phone, region)
    except Unprocessable as problem:
        raise RowError(problem.detail) from None
    address = {level: value.strip() for level in levels if (value := row.get(level) or "").strip()}
    return Applicant(
        application_id=reference,
        given_name=given,
        family_name=family,
        date_of_birth=born,
        sex=sex,
        phone=phone,
        raw_phone=raw_phone,
        address=address,
    )
