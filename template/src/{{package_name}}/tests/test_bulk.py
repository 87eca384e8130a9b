from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Engine, ForeignKey, Index, Integer, MetaData, String, Table, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError

from ..core.bulk import driver_value, dump_json, insert_rows, scratch_copy
from ..core.db import NAMING_CONVENTION
from ..core.models import Partner

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

PARTNER = Partner.__table__
CREATED = datetime(2026, 11, 27, 4, 5, 6, 7, tzinfo=UTC)


def _read_back(engine: Engine) -> dict[str, tuple]:
    query = select(Partner.key_prefix, Partner.name, Partner.scopes, Partner.active, Partner.created_at)
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(query)}


def test_bulk_rows_read_back_exactly_like_rows_the_orm_wrote(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            PARTNER.insert(),
            {"name": "Bank Ä", "key_prefix": "orm", "key_hash": "h", "scopes": ["a", "b"], "created_at": CREATED},
        )
        created = driver_value(connection, PARTNER.c.created_at, CREATED)
        insert_rows(
            connection,
            PARTNER,
            ("name", "key_prefix", "key_hash", "scopes", "active", "created_at"),
            [("Bank Ä", "bulk", "h", dump_json(["a", "b"]), True, created)],
        )
    rows = _read_back(engine)
    assert rows["bulk"] == rows["orm"]
    assert rows["bulk"][1] == ["a", "b"]


def test_many_rows_in_one_call(engine: Engine) -> None:
    with engine.begin() as connection:
        created = driver_value(connection, PARTNER.c.created_at, CREATED)
        rows = [(f"p{i}", f"k{i}", "h", "[]", True, created) for i in range(2500)]
        insert_rows(connection, PARTNER, ("name", "key_prefix", "key_hash", "scopes", "active", "created_at"), rows)
    assert len(_read_back(engine)) == 2500


def test_an_unknown_column_is_named_and_nothing_is_written(engine: Engine) -> None:
    with pytest.raises(ValueError, match="core_partner has no column nickname"), engine.begin() as connection:
        insert_rows(connection, PARTNER, ("name", "nickname"), [("p", "n")])
    assert _read_back(engine) == {}


def test_a_failing_row_writes_none_of_the_batch(engine: Engine) -> None:
    columns = ("name", "key_prefix", "key_hash", "scopes", "active", "created_at")
    with pytest.raises(IntegrityError, match=r"(?i)unique"), engine.begin() as connection:
        created = driver_value(connection, PARTNER.c.created_at, CREATED)
        rows = [("a", "same", "h", "[]", True, created), ("b", "same", "h", "[]", True, created)]
        insert_rows(connection, PARTNER, columns, rows)
    assert _read_back(engine) == {}


def test_none_and_values_without_a_processor_pass_through(engine: Engine) -> None:
    with engine.connect() as connection:
        assert driver_value(connection, PARTNER.c.created_at, None) is None
        assert driver_value(connection, PARTNER.c.name, "x") == "x"


def test_a_scratch_copy_has_the_keys_and_indexes_of_the_table(engine: Engine) -> None:
    original = Table(
        "bulk_original",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("code", String(10), nullable=False, unique=True),
        Column("owner", String(10), index=True),
        Column("kind", String(10)),
        Index("ix_bulk_original_owner_kind", "owner", "kind"),
    )
    scratch = MetaData(naming_convention=NAMING_CONVENTION)
    copy = scratch_copy(original, "bulk_scratch", scratch)
    assert [c.name for c in copy.columns] == ["id", "code", "owner", "kind"]
    assert [c.name for c in copy.primary_key] == ["id"]
    uniques = [[c.name for c in u.columns] for u in copy.constraints if isinstance(u, UniqueConstraint)]
    assert uniques == [["code"]]
    assert sorted(tuple(c.name for c in i.columns) for i in copy.indexes) == [("owner",), ("owner", "kind")]
    assert all(i.name.startswith("ix_bulk_scratch_") for i in copy.indexes)
    scratch.create_all(engine)
    try:
        with engine.begin() as connection:
            insert_rows(connection, copy, ("code", "owner"), [("a", "x")])
            with pytest.raises(IntegrityError):
                insert_rows(connection, copy, ("code", "owner"), [("a", "y")])
    finally:
        scratch.drop_all(engine)


def test_a_scratch_copy_keeps_foreign_keys_only_to_copied_tables() -> None:
    original = MetaData()
    parent = Table("bulk_parent", original, Column("id", Integer, primary_key=True))
    other = Table("bulk_other", original, Column("id", Integer, primary_key=True))
    child = Table(
        "bulk_child",
        original,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey(parent.c.id)),
        Column("other_id", ForeignKey(other.c.id)),
    )
    scratch = MetaData(naming_convention=NAMING_CONVENTION)
    parent_copy = scratch_copy(parent, "bulk_parent_copy", scratch)
    child_copy = scratch_copy(child, "bulk_child_copy", scratch, references={"bulk_parent": parent_copy})
    assert [(k.parent.name, k.column.table.name, k.column.name) for k in child_copy.foreign_keys] == [
        ("parent_id", "bulk_parent_copy", "id")
    ]


def test_a_scratch_copy_is_stored_like_the_table(engine: Engine) -> None:
    """A table stored WITHOUT ROWID on SQLite is copied so: the baseline pays the same storage as the original."""
    original = Table(
        "bulk_keyed",
        MetaData(),
        Column("owner", Integer, primary_key=True),
        Column("day", String(10), primary_key=True),
        sqlite_with_rowid=False,
    )
    scratch = MetaData(naming_convention=NAMING_CONVENTION)
    copy = scratch_copy(original, "bulk_keyed_scratch", scratch)
    assert copy.dialect_kwargs == {"sqlite_with_rowid": False}
    scratch.create_all(engine)
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                created = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'bulk_keyed_scratch'"
                ).scalar_one()
            assert created.rstrip().endswith("WITHOUT ROWID"), created
    finally:
        scratch.drop_all(engine)
