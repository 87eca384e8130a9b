import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ..config import IdentitySettings
from ..importer import FIELD_LIMIT, ImportFileError, import_register
from ..models import Enrolment, ImportCheckpoint, Person
from ..synth import TRUTH_COLUMN, columns, population, write_csv
from .conftest import LEVELS, PROFILE

# Names from a locale with many of them: the dedup assertions count only injected duplicates,
# and some countries' Faker name lists are small enough to collide by chance.
NAME_LOCALE = "en_US"


def synth_rows(count: int, seed: int = 5, duplicates: float = 0.0) -> list[dict[str, str]]:
    return list(
        population(
            count=count,
            seed=seed,
            duplicates=duplicates,
            locale=NAME_LOCALE,
            phone_region=PROFILE["phone_region"],
            address_levels=LEVELS,
        )
    )


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    write_csv(path, iter(rows), LEVELS)
    return path


def run(engine: Engine, country: LoadedCountry, path: Path, rejects: Path, chunk_size: int = 100, workers: int = 0):
    """Rows prepared in-process unless asked (a worker costs a process start; test_pipeline covers workers)."""
    return import_register(
        session_factory=make_session_factory(engine),
        path=path,
        rejects=rejects,
        country=country,
        settings=IdentitySettings(),
        chunk_size=chunk_size,
        workers=workers,
    )


def test_synthetic_population_is_reproducible_with_known_duplicates() -> None:
    first, again = synth_rows(500, duplicates=0.1), synth_rows(500, duplicates=0.1)
    assert first == again
    assert first != synth_rows(500, seed=6, duplicates=0.1)
    duplicates = [row for row in first if row[TRUTH_COLUMN]]
    assert 25 <= len(duplicates) <= 80
    references = [row["source_ref"] for row in first]
    assert all(references.index(row[TRUTH_COLUMN]) < references.index(row["source_ref"]) for row in duplicates)
    assert list(first[0]) == columns(LEVELS)


def test_import_enrols_good_rows_and_reports_bad_ones(
    engine: Engine, country: LoadedCountry, session: Session, tmp_path: Path
) -> None:
    rows = synth_rows(300)
    rows[10] = {**rows[10], "date_of_birth": "1990-02-30"}
    rows[20] = {**rows[20], "sex": "Q"}
    rows[30] = {**rows[30], "phone": "12"}
    rows[40] = {**rows[40], "source_ref": "x"}
    rows[50] = {**rows[50], "family_name": "Otieno\x00"}
    summary = run(engine, country, write(tmp_path / "register.csv", rows), tmp_path / "rejects.csv")
    assert (summary.enrolled, summary.rejected, summary.held) == (295, 5, 0)
    with (tmp_path / "rejects.csv").open() as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["line"], r["reason"].split(":")[0]) for r in rejected] == [
        ("12", "date_of_birth"),
        ("22", "sex"),
        ("32", "phone"),
        ("42", "source_ref"),
        ("52", "a field holds control characters"),
    ]
    assert session.scalar(select(func.count()).select_from(Person)) == 295
    person = session.scalar(select(Person).where(Person.given_name == rows[0]["given_name"]))
    assert person is not None and person.date_of_birth.isoformat() == rows[0]["date_of_birth"]
    assert person.address == {level: rows[0][level] for level in LEVELS}


def test_import_holds_injected_duplicates(engine: Engine, country: LoadedCountry, tmp_path: Path) -> None:
    rows = synth_rows(400, duplicates=0.05)
    summary = run(engine, country, write(tmp_path / "register.csv", rows), tmp_path / "rejects.csv")
    truth = {row["source_ref"] for row in rows if row[TRUTH_COLUMN]}
    with make_session_factory(engine)() as session:
        held = set(session.scalars(select(Enrolment.application_id).where(Enrolment.status != "issued")))
    assert summary.held == len(held)
    assert held == truth


def test_rerun_continues_and_never_enrols_twice(
    engine: Engine, country: LoadedCountry, session: Session, tmp_path: Path
) -> None:
    rows = synth_rows(250)
    path = write(tmp_path / "register.csv", rows[:120])
    first = run(engine, country, path, tmp_path / "rejects.csv")
    assert first.enrolled == 120
    write(path, rows)  # the register grew since the interrupted run
    second = run(engine, country, path, tmp_path / "rejects.csv")
    assert second.resumed_from_line == 121
    assert second.enrolled == 130 and second.already == 0
    session.query(ImportCheckpoint).delete()
    session.commit()
    third = run(engine, country, path, tmp_path / "rejects.csv")  # checkpoint lost: still no double enrolment
    assert (third.enrolled, third.already) == (0, 250)
    assert session.scalar(select(func.count()).select_from(Person)) == 250


def test_import_refuses_a_file_without_required_columns(engine: Engine, country: LoadedCountry, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text("name,born\nA,1990-01-01\n")
    with pytest.raises(ImportFileError, match="missing column"):
        run(engine, country, path, tmp_path / "rejects.csv")


@pytest.mark.parametrize("names", [None, ("Zoë Åsa", "Nakamura 中村")], ids=["ascii", "non-ascii"])
def test_bulk_and_api_enrolments_agree_on_replay(
    engine: Engine, country: LoadedCountry, tmp_path: Path, client, api_headers, names
) -> None:
    rows = synth_rows(1)
    if names:
        rows[0]["given_name"], rows[0]["family_name"] = names
    run(engine, country, write(tmp_path / "register.csv", rows), tmp_path / "rejects.csv")
    row = rows[0]
    body = {
        "application_id": row["source_ref"],
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "date_of_birth": row["date_of_birth"],
        "sex": row["sex"],
        "phone": row["phone"] or None,
        "address": {level: row[level] for level in LEVELS},
    }
    replay = client.post("/identity/enrolments", json=body, headers=api_headers("identity:enrol"))
    assert replay.status_code == 201, replay.text
    assert replay.json()["status"] == "issued"


def test_bad_bytes_long_fields_and_multi_line_records_are_rejected_at_their_first_line(
    engine: Engine, country: LoadedCountry, session: Session, tmp_path: Path
) -> None:
    """Issue 13 finding 5: one bad line no longer ends the import, and each is reported where it starts."""
    rows = synth_rows(60)
    rows[20] = {**rows[20], "given_name": "G" * 200_000}  # over csv's own field limit (131,072)
    rows[30] = {**rows[30], "family_name": "F" * (FIELD_LIMIT + 1)}
    rows[40] = {**rows[40], LEVELS[0]: "first line\nsecond line"}  # a quoted record over two lines (42-43)
    path = write(tmp_path / "register.csv", rows)
    lines = path.read_bytes().split(b"\n")
    lines[11] = lines[11].replace(rows[10]["given_name"].encode(), b"Ama\xffna", 1)  # line 12: invalid UTF-8
    path.write_bytes(b"\n".join(lines))
    summary = run(engine, country, path, tmp_path / "rejects.csv", chunk_size=25)
    assert (summary.enrolled, summary.rejected) == (56, 4)
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as handle:
        rejected = {int(r["line"]): (r["source_ref"], r["reason"]) for r in csv.DictReader(handle)}
    assert sorted(rejected) == [12, 22, 32, 42]
    assert "UTF-8" in rejected[12][1] and rejected[12][0] == rows[10]["source_ref"]
    assert f"{FIELD_LIMIT}" in rejected[22][1]
    assert rejected[32] == (rows[30]["source_ref"], f"family_name: a field is longer than {FIELD_LIMIT} characters")
    assert rejected[42][1] == "a field holds control characters"
    people = set(session.scalars(select(Person.given_name)))
    assert rows[41]["given_name"] in people and rows[59]["given_name"] in people  # the rows after the bad ones
    again = run(engine, country, path, tmp_path / "rejects.csv", chunk_size=25)  # nothing stops a re-run either
    assert (again.resumed_from_line, again.enrolled, again.rejected, again.already) == (62, 0, 0, 0)


def test_a_duplicated_header_column_refuses_the_whole_file(
    engine: Engine, country: LoadedCountry, session: Session, tmp_path: Path
) -> None:
    path = write(tmp_path / "register.csv", synth_rows(5))
    header, rest = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(f"{header},given_name\n" + "".join(line + ",Other\n" for line in rest.splitlines()), "utf-8")
    with pytest.raises(ImportFileError, match="'given_name' appears more than once"):
        run(engine, country, path, tmp_path / "rejects.csv")
    assert session.scalar(select(func.count()).select_from(Person)) == 0
