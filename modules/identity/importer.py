"""Bulk import of an existing population register (CSV, streamed, any size).

Bad rows go to a reject file with their line number and reason; good rows are
enrolled in chunks through `bulk.BulkEnroller`. The row's source reference is
the application ID, so no row is ever enrolled twice, and a checkpoint
committed with each chunk lets a re-run continue where the last one stopped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ...core.country import LoadedCountry
from ...core.errors import Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from .bulk import Applicant, BulkEnroller
from .config import IdentitySettings
from .models import ImportCheckpoint
from .schemas import EARLIEST_BIRTH_YEAR
from .service import normalised_phone
from .synth import REFERENCE_COLUMN

REQUIRED_COLUMNS = (REFERENCE_COLUMN, "given_name", "family_name", "date_of_birth", "sex")
_REFERENCE = re.compile(r"^[A-Za-z0-9-]{8,36}$")
_SEXES = {"F", "M", "X"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EARLIEST = date(EARLIEST_BIRTH_YEAR, 1, 1)
_NAME_LENGTH = 200


class RowError(ValueError):
    pass


class ImportFileError(ValueError):
    pass


@dataclass
class ImportSummary:
    source: str
    resumed_from_line: int
    enrolled: int = 0
    held: int = 0
    rejected: int = 0
    already: int = 0
    last_line: int = 0


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


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return lines


def import_register(
    *,
    session_factory: sessionmaker[Session],
    path: Path,
    rejects: Path,
    country: LoadedCountry,
    settings: IdentitySettings,
    chunk_size: int = 5000,
    actor: str = "import",
    on_progress: Callable[[int], None] = lambda line: None,
) -> ImportSummary:
    source = str(path.resolve())[-500:]
    with session_factory() as session:
        checkpoint = session.scalar(select(ImportCheckpoint).where(ImportCheckpoint.source == source))
        start = checkpoint.line if checkpoint else 0
    summary = ImportSummary(source=source, resumed_from_line=start)
    on_progress(start)
    enroller = BulkEnroller(country=country, settings=settings, actor=actor)
    levels = country.profile.address_levels
    with path.open(newline="", encoding="utf-8-sig") as handle, rejects.open("a" if start else "w", newline="") as out:
        reject_writer = csv.writer(out)
        if not start:
            reject_writer.writerow(["line", REFERENCE_COLUMN, "reason"])
        reader = csv.DictReader(handle)
        missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ImportFileError(
                _("{path}: missing column(s) {missing}; required: {required}").format(
                    path=path, missing=", ".join(missing), required=", ".join(REQUIRED_COLUMNS)
                )
            )
        for chunk, last_line, bad in _chunks(reader, start, chunk_size, levels, country.profile.phone_region):
            with session_factory.begin() as session:
                outcome = enroller.enrol_chunk(session=session, applicants=chunk, source=source) if chunk else None
                checkpoint = session.scalar(select(ImportCheckpoint).where(ImportCheckpoint.source == source))
                if checkpoint is None:
                    checkpoint = ImportCheckpoint(source=source, line=0, enrolled=0, held=0, rejected=0)
                    session.add(checkpoint)
                checkpoint.line = last_line
                checkpoint.enrolled += len(outcome.issued) if outcome else 0
                checkpoint.held += len(outcome.held) if outcome else 0
                checkpoint.rejected += len(bad)
                checkpoint.updated_at = utcnow()
            reject_writer.writerows(bad)
            out.flush()
            summary.enrolled += len(outcome.issued) if outcome else 0
            summary.held += len(outcome.held) if outcome else 0
            summary.already += outcome.already if outcome else 0
            summary.rejected += len(bad)
            summary.last_line = last_line
            on_progress(last_line)
    return summary


def _chunks(
    reader: csv.DictReader, start: int, size: int, levels: list[str], region: str
) -> Iterator[tuple[list[Applicant], int, list[tuple[int, str, str]]]]:
    today = date.today()
    chunk: list[Applicant] = []
    bad: list[tuple[int, str, str]] = []
    line = start
    for row in reader:
        line = reader.line_num
        if line <= start:
            continue
        if None in row:
            bad.append((line, row.get(REFERENCE_COLUMN) or "", _("more fields than the header")))
            continue
        try:
            chunk.append(parse_row(row, levels=levels, region=region, today=today))
        except RowError as error:
            bad.append((line, row.get(REFERENCE_COLUMN) or "", str(error)))
        if len(chunk) >= size:
            yield chunk, line, bad
            chunk, bad = [], []
    if chunk or bad:
        yield chunk, line, bad
