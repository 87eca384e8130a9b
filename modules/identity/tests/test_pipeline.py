import os
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.i18n import use_locale
from .. import idnumbers, importer
from ..config import IdentitySettings
from ..models import ImportCheckpoint, Person
from ..pipeline import prepared_chunks
from ..rows import RowChunk, numbered_chunks, row_spec
from .test_import import run, synth_rows, write

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

ID_LENGTH = 10


class ExitingRow(dict):
    """A row whose reading kills the process reading it, as an out-of-memory kill would."""

    def get(self, key, default=None):
        os._exit(3)


def test_a_worker_prepares_exactly_what_the_writer_would(country: LoadedCountry) -> None:
    rows = synth_rows(120)
    rows[7] = {**rows[7], "sex": "Q"}
    rows[70] = {**rows[70], "date_of_birth": "1990-02-30"}
    spec = row_spec(country, IdentitySettings())
    here = list(prepared_chunks(numbered_chunks(rows, 50), spec, workers=0))
    there = list(prepared_chunks(numbered_chunks(rows, 50), spec, workers=1))
    assert [c.applicants for c in there] == [c.applicants for c in here]
    assert [c.rejected for c in there] == [c.rejected for c in here]
    assert [[line for line, _ref, _reason in c.rejected] for c in there] == [[9], [72], []]
    assert [c.last_line for c in there] == [51, 101, 121]
    for chunk in there:
        assert len(chunk.id_candidates) == len(chunk.applicants)
        length = country.section("identity").id_length
        assert all(idnumbers.passes_filters(i) and idnumbers.validate(i, length=length) for i in chunk.id_candidates)


@pytest.mark.country_independent
def test_the_worker_words_rejections_in_the_callers_language(country: LoadedCountry) -> None:
    rows = [{**synth_rows(1)[0], "sex": "Q"}]
    with use_locale("fr"):
        spec = row_spec(country, IdentitySettings())
        in_french_here = [c.rejected for c in prepared_chunks(numbered_chunks(rows, 10), spec, workers=0)]
    # The worker runs outside that context: the spec alone carries the language.
    (chunk,) = prepared_chunks(numbered_chunks(rows, 10), spec, workers=1)
    assert [chunk.rejected] == in_french_here
    assert "ne fait pas partie des valeurs autorisées" in chunk.rejected[0][2]


@pytest.mark.country_independent
def test_a_dead_worker_stops_the_import_after_the_last_committed_chunk(
    engine: Engine, country: LoadedCountry, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "register.csv", synth_rows(300))
    real_row_chunks = importer._row_chunks

    def second_chunk_kills(records, header, start, size) -> Iterator[RowChunk]:
        for number, chunk in enumerate(real_row_chunks(records, header, start, size)):
            if number == 1:
                chunk.rows[5] = (chunk.rows[5][0], ExitingRow(chunk.rows[5][1]))
            yield chunk

    monkeypatch.setattr(importer, "_row_chunks", second_chunk_kills)
    with pytest.raises(BrokenProcessPool):
        run(engine, country, path, tmp_path / "rejects.csv", chunk_size=100, workers=1)
    assert session.scalar(select(func.count()).select_from(Person)) == 100
    assert session.scalar(select(ImportCheckpoint.line)) == 101
    monkeypatch.setattr(importer, "_row_chunks", real_row_chunks)
    again = run(engine, country, path, tmp_path / "rejects.csv", chunk_size=100, workers=1)
    assert (again.resumed_from_line, again.enrolled) == (101, 200)
    assert session.scalar(select(func.count()).select_from(Person)) == 300
