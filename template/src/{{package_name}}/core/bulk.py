"""Bulk writes for national-scale batches: plain tuples through the driver's fastest path.

SQLAlchemy's executemany builds a parameter dictionary and runs every bind
processor for every row; at a million rows that costs more than the database's
own work. Batches here hand the driver tuples it takes as they are: COPY on
PostgreSQL, one `executemany` on SQLite. Callers prepare each value once for the
connection with `driver_value` (a batch's timestamps and dates are the same for
every row) and serialise JSON with `dump_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, ForeignKeyConstraint, Index, MetaData, Table, UniqueConstraint
from sqlalchemy.exc import DBAPIError

dump_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def driver_value(connection: Connection, column: Column[Any], value: Any) -> Any:
    """`value` as the driver stores it in `column` (on SQLite, dates and datetimes become SQLAlchemy's text)."""
    if value is None or connection.dialect.name == "postgresql":
        return value  # psycopg adapts dates, datetimes and numbers itself, in COPY too
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    return value if process is None else process(value)


def insert_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert `rows` (tuples in `columns` order, values ready for the driver) in one bulk operation.

    Column defaults set in Python (`default=utcnow`) are not applied: give every column that needs a value.
    """
    if not rows:
        return
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    names = ", ".join(table.c[name].name for name in columns)
    if connection.dialect.name == "postgresql":
        _copy(connection, f"COPY {table.name} ({names}) FROM STDIN", rows)
        return
    placeholders = ", ".join("?" for _ in columns)
    # Table and column names come from the table's metadata (checked above), never from input.
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})", rows)  # noqa: S608


def scratch_copy(
    table: Table, name: str, metadata: MetaData, *, references: Mapping[str, Table] | None = None
) -> Table:
    """`table`'s columns, primary key, unique constraints, indexes and storage options under another name.

    What a benchmark's raw-insert baseline writes into: the same rows cost the same index
    upkeep as in the real table. A foreign key is kept when the table it refers to has a copy
    in `references` (by the original's name), and then points at that copy; others are left
    out (the baseline's rows would point nowhere).
    """
    copy = Table(
        name,
        metadata,
        *(Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in table.columns),
        **table.dialect_kwargs,  # e.g. SQLite's WITHOUT ROWID: the same storage as the original
    )
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            copy.append_constraint(UniqueConstraint(*(copy.c[c.name] for c in constraint.columns)))
    for index in table.indexes:
        columns = [copy.c[c.name] for c in index.columns]
        Index(f"ix_{name}_{'_'.join(c.name for c in columns)}", *columns, unique=bool(index.unique))
    for key in table.foreign_key_constraints:
        target = (references or {}).get(key.referred_table.name)
        if target is not None:
            local = [copy.c[c.name] for c in key.columns]
            copy.append_constraint(ForeignKeyConstraint(local, [target.c[e.column.name] for e in key.elements]))
    return copy


def _copy(connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as error:
        # The same exception classes executemany raises (IntegrityError for a duplicate, ...).
        raise DBAPIError.instance(statement, None, error, dbapi.Error, dialect=connection.dialect) from error
