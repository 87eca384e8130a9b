"""Row locks: a read-check-write of one row stays exact under concurrent requests (approvals, disbursements)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session


def lock_row(*, session: Session, row: Any) -> None:
    """Hold `row` (a mapped object with an `id`) until the transaction ends, then read it again: a concurrent
    transaction may have changed it while this one waited.

    PostgreSQL: a row lock (`SELECT … FOR UPDATE`). SQLite ignores FOR UPDATE and its driver only begins the
    transaction at the first write, so a no-op UPDATE takes the database's write lock instead.
    """
    table = type(row)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(table).where(table.id == row.id).values(id=table.id).execution_options(synchronize_session=False)
        )
    else:
        session.execute(select(table.id).where(table.id == row.id).with_for_update())
    session.refresh(row)
