"""Bulk import of an existing population register (CSV, streamed, any size).

Bad rows go to a reject file with the number of the line they start on and the
reason; good rows are enrolled in chunks through `bulk.BulkEnroller`. The row's
source reference is the application ID, so no row is ever enrolled twice, and a
checkpoint committed with each chunk lets a re-run continue where the last one stopped.

No line stops an import: the file is decoded with `surrogateescape`, so a record with
bytes that are not UTF-8 is parsed like any other and then rejected ("invalid UTF-8");
a field over FIELD_LIMIT characters is rejected (csv's own limit of 131,072 stops the
parser for that record only, which then carries on with the next line); a physical line
over LINE_LIMIT characters is skipped unread and its record rejected. A header naming a
column twice refuses the whole file before anything is imported.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ...core.country import LoadedCountry
from ...core.i18n import _
from ...core.models import utcnow
from .bulk import BulkEnroller
from .config import IdentitySettings
from .models import ImportCheckpoint
from .pipeline import default_workers, prepared_chunks
from .rows import FIELD_LIMIT, REQUIRED_COLUMNS, RowChunk, RowSpec, row_spec
from .synth import REFERENCE_COLUMN

__all__ = ["FIELD_LIMIT", "LINE_LIMIT", "ImportFileError", "ImportSummary", "count_lines", "import_register"]

LINE_LIMIT = 1 << 20  # characters in one physical line; a longer one is skipped, not read into memory


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
    workers: int | None = None,
) -> ImportSummary:
    """Import the register at `path`; `workers` prepare rows beside the writer (default: one if
    there is a second core, see pipeline.py)."""
    workers = default_workers() if workers is None else workers
    source = str(path.resolve())[-500:]
    with session_factory() as session:
        checkpoint = session.scalar(select(ImportCheckpoint).where(ImportCheckpoint.source == source))
        start = checkpoint.line if checkpoint else 0
    summary = ImportSummary(source=source, resumed_from_line=start)
    on_progress(start)
    enroller = BulkEnroller(country=country, settings=settings, actor=actor)
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        records = _Records(handle)
        header = records.header()
        _check_header(path, header)
        with rejects.open("a" if start else "w", newline="", encoding="utf-8") as out:
            _import_records(
                records,
                header,
                start=start,
                chunk_size=chunk_size,
                source=source,
                summary=summary,
                session_factory=session_factory,
                enroller=enroller,
                spec=row_spec(country, settings),
                out=out,
                workers=workers,
                on_progress=on_progress,
            )
    return summary


def _check_header(path: Path, header: list[str]) -> None:
    if any(_has_surrogate(name) for name in header):
        raise ImportFileError(_("{path}: the header line is not valid UTF-8").format(path=path))
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise ImportFileError(
                _("{path}: column '{column}' appears more than once in the header; nothing was imported").format(
                    path=path, column=name
                )
            )
        seen.add(name)
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ImportFileError(
            _("{path}: missing column(s) {missing}; required: {required}").format(
                path=path, missing=", ".join(missing), required=", ".join(REQUIRED_COLUMNS)
            )
        )


def _import_records(
    records: _Records,
    header: list[str],
    *,
    start: int,
    chunk_size: int,
    source: str,
    summary: ImportSummary,
    session_factory: sessionmaker[Session],
    enroller: BulkEnroller,
    spec: RowSpec,
    out: TextIO,
    workers: int,
    on_progress: Callable[[int], None],
) -> None:
    reject_writer = csv.writer(out)
    if not start:
        reject_writer.writerow(["line", REFERENCE_COLUMN, "reason"])
    for prepared in prepared_chunks(_row_chunks(records, header, start, chunk_size), spec, workers=workers):
        with session_factory.begin() as session:
            outcome = (
                enroller.enrol_chunk(
                    session=session,
                    applicants=prepared.applicants,
                    source=source,
                    id_candidates=prepared.id_candidates,
                )
                if prepared.applicants
                else None
            )
            checkpoint = session.scalar(select(ImportCheckpoint).where(ImportCheckpoint.source == source))
            if checkpoint is None:
                checkpoint = ImportCheckpoint(source=source, line=0, enrolled=0, held=0, rejected=0)
                session.add(checkpoint)
            checkpoint.line = prepared.last_line
            checkpoint.enrolled += len(outcome.issued) if outcome else 0
            checkpoint.held += len(outcome.held) if outcome else 0
            checkpoint.rejected += len(prepared.rejected)
            checkpoint.updated_at = utcnow()
        reject_writer.writerows(prepared.rejected)
        out.flush()
        summary.enrolled += len(outcome.issued) if outcome else 0
        summary.held += len(outcome.held) if outcome else 0
        summary.already += outcome.already if outcome else 0
        summary.rejected += len(prepared.rejected)
        summary.last_line = prepared.last_line
        on_progress(prepared.last_line)


@dataclass
class _Record:
    line: int  # the line it starts on
    fields: list[str] | None  # None: unreadable, see `reason`
    reason: str = ""


@dataclass
class _Records:
    """CSV records with the line each starts on; a record the parser cannot read is yielded with a reason
    instead of ending the file."""

    handle: TextIO
    overlong: set[int] = field(default_factory=set)
    lines_read: int = 0

    def __post_init__(self) -> None:
        self._reader = csv.reader(self._lines())

    def header(self) -> list[str]:
        for record in self:
            return record.fields or []
        return []

    def __iter__(self) -> Iterator[_Record]:
        while True:
            first = self.lines_read + 1
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error:  # a field over csv's limit; the parser carries on with the next line
                yield _Record(first, None, _("a field is longer than {limit} characters").format(limit=FIELD_LIMIT))
                continue
            if any(number in self.overlong for number in range(first, self.lines_read + 1)):
                yield _Record(first, None, _("a line is longer than {limit} characters").format(limit=LINE_LIMIT))
            elif fields:  # blank lines are skipped
                yield _Record(first, fields)

    def _lines(self) -> Iterator[str]:
        while line := self.handle.readline(LINE_LIMIT):
            self.lines_read += 1
            if len(line) == LINE_LIMIT and not line.endswith("\n"):
                self.overlong.add(self.lines_read)
                while (rest := self.handle.readline(LINE_LIMIT)) and not rest.endswith("\n"):
                    pass
                line = "\n"
            yield line


def _row_chunks(records: _Records, header: list[str], start: int, size: int) -> Iterator[RowChunk]:
    rows: list[tuple[int, dict[str | None, str]]] = []
    unreadable: list[tuple[int, str, str]] = []
    line = start
    for record in records:
        line = record.line
        if line <= start:
            continue
        if record.fields is None:
            unreadable.append((line, "", record.reason))
        else:
            rows.append((line, _as_row(header, record.fields)))
        if len(rows) + len(unreadable) >= size:
            yield RowChunk(rows=rows, last_line=line, rejected=unreadable)
            rows, unreadable = [], []
    if rows or unreadable:
        yield RowChunk(rows=rows, last_line=line, rejected=unreadable)


def _as_row(header: list[str], fields: list[str]) -> dict[str | None, str]:
    """As csv.DictReader gives it: missing fields empty, extra ones under None (rows.prepare_chunk rejects them)."""
    row: dict[str | None, str] = dict(zip(header, fields, strict=False))
    if len(fields) > len(header):
        row[None] = ",".join(fields[len(header) :])
    return row


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)
