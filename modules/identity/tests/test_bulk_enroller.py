from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from .. import bulk
from ..bulk import BulkEnroller, ChunkOutcome
from ..config import IdentitySettings
from ..models import Person
from ..rows import parse_row, prepare
from .conftest import LEVELS, PROFILE
from .test_import import synth_rows


def applicant(row: dict[str, str]):
    return prepare(parse_row(row, levels=LEVELS, region=PROFILE["phone_region"], today=date.today()))


def test_each_chunk_sees_people_other_writers_enrolled_since_the_last(
    engine: Engine, country: LoadedCountry, enrolled: Callable[..., str]
) -> None:
    rows = synth_rows(6)
    enroller = BulkEnroller(country=country, settings=IdentitySettings(), actor="test")
    factory = make_session_factory(engine)

    def enrol_chunk(chunk: list[dict[str, str]]) -> ChunkOutcome:
        with factory.begin() as session:
            return enroller.enrol_chunk(session=session, applicants=[applicant(r) for r in chunk], source="test")

    first = enrol_chunk(rows[:3])
    assert len(first.issued) == 3
    # Another writer (the API) enrols someone between two chunks, twice over.
    for given, family, born, row in (
        ("Wambui Njeri", "Otieno", "1979-03-08", rows[3]),
        ("Chebet Jelagat", "Kiprono", "1991-11-23", rows[4]),
    ):
        other = enrolled(given_name=given, family_name=family, date_of_birth=born)
        near_duplicate = {**row, "given_name": given, "family_name": family + "h", "date_of_birth": born}
        outcome = enrol_chunk([near_duplicate])
        assert outcome.held == [(row["source_ref"], [other])]
    # And the enroller's own people are still in its index.
    own = enrol_chunk([{**rows[5], **{k: rows[0][k] for k in ("given_name", "family_name", "date_of_birth")}}])
    assert own.held == [(rows[5]["source_ref"], [first.issued[0][1]])]


def test_a_row_another_writer_slipped_in_before_the_chunk_is_still_seen(
    engine: Engine, country: LoadedCountry, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = synth_rows(3)
    enroller = BulkEnroller(country=country, settings=IdentitySettings(), actor="test")
    factory = make_session_factory(engine)
    real_insert = bulk.insert_rows
    slipped_in = Person(
        national_id="7857203861",
        given_name="Wambui Njeri",
        family_name="Otieno",
        name_key="wambui njeri otieno",
        date_of_birth=date(1979, 3, 8),
        sex="F",
        address={},
        status="active",
    )

    def another_writer_first(connection, table, columns, batch):
        if table is bulk.PERSON and batch:
            with Session(bind=connection) as other:
                other.add(slipped_in)
                other.flush()
        real_insert(connection, table, columns, batch)

    monkeypatch.setattr(bulk, "insert_rows", another_writer_first)
    with factory.begin() as session:
        enroller.enrol_chunk(session=session, applicants=[applicant(rows[0])], source="test")
    monkeypatch.setattr(bulk, "insert_rows", real_insert)
    near_duplicate = {**rows[1], "given_name": "Wambui Njeri", "family_name": "Otienoh", "date_of_birth": "1979-03-08"}
    with factory.begin() as session:
        outcome = enroller.enrol_chunk(session=session, applicants=[applicant(near_duplicate)], source="test")
    assert outcome.held == [(rows[1]["source_ref"], ["7857203861"])]
