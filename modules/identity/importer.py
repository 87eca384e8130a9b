"""Bulk import of an existing population register (CSV, streamed, any size).

Bad rows go to a reject file with their line number and reason; good rows are
enrolled in chunks through `bulk.BulkEnroller`. The row's source reference is
the application ID, so no row is ever enrolled twice, and a checkpoint
committed with each chunk lets a re-run continue where the last one stopped.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ...core.country import LoadedCountry
from ...core.i18n import _
from ...core.models import utcnow
from .bulk import BulkEnroller
from .config import IdentitySettings
from .models import ImportCheckpoint
from .pipeline import default_workers, prepared_chunks
from .rows import REQUIRED_COLUMNS, RowChunk, row_spec
from .synth import REFERENCE_COLUMN


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
        spec = row_spec(country, settings)
        for prepared in prepared_chunks(_row_chunks(reader, start, chunk_size), spec, workers=workers):
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
    return summary


def _row_chunks(reader: csv.DictReader, start: int, size: int) -> Iterator[RowChunk]:
    rows: list[tuple[int, dict[str, str]]] = []
    line = start
    for row in reader:
        line = reader.line_num
        if line <= start:
            continue
        rows.append((line, row))
        if len(rows) >= size:
            yield RowChunk(rows=rows, last_line=line)
            rows = []
    if rows:
        yield RowChunk(rows=rows, last_line=line)
