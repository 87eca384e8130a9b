"""The machine yardstick: how fast this database takes a plain bulk insert with a unique key.

A rate measured on one machine says little about another: the same code ran three times
slower on a crowded host than on a quiet one. Goals written for a reference machine ("30,000
residents/s where a raw executemany of a million rows with a unique key runs at 150,000/s")
are checked against this yardstick measured in the same run, on the same database.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, select

from .bulk import insert_rows

CHUNK = 10_000


@dataclass(frozen=True)
class Yardstick:
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    def scaled(self, rate: float, reference_rate: float) -> float:
        """`rate` as it would be on a machine whose yardstick runs at `reference_rate`."""
        return rate * reference_rate / self.rate


def measure(engine: Engine, rows: int) -> Yardstick:
    """Insert `rows` rows (integer key, random 10-digit unique text, 100-character payload) in
    transactions of 10,000 through the core's bulk path, into a scratch table dropped afterwards;
    the rows counted back (untimed) are the ones reported."""
    table = Table(
        f"yardstick_{secrets.token_hex(4)}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("unique_key", String(20), unique=True, nullable=False),
        Column("payload", String(100), nullable=False),
    )
    keys = _distinct_keys(rows)
    payload = "x" * 100
    table.create(engine)
    try:
        started = time.perf_counter()
        for start in range(0, rows, CHUNK):
            batch = [(number, keys[number], payload) for number in range(start, min(rows, start + CHUNK))]
            with engine.begin() as connection:
                insert_rows(connection, table, ("id", "unique_key", "payload"), batch)
        seconds = time.perf_counter() - started
        with engine.connect() as connection:
            written = connection.scalar(select(func.count()).select_from(table))
        return Yardstick(rows=written, seconds=seconds)
    finally:
        table.drop(engine)


def _distinct_keys(count: int) -> list[str]:
    keys: set[str] = set()
    while len(keys) < count:
        keys.update(str(secrets.randbelow(9 * 10**9) + 10**9) for _ in range(count - len(keys)))
    return list(keys)
