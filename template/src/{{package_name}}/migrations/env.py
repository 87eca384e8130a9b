"""Alembic environment: run migrations on the engine handed over by core.migrate.

Every run holds the database's migration lock for its whole transaction, so any number of
replicas (a Kubernetes Job retried, compose's one-shot service next to an operator's
`db upgrade`) may migrate at once: they take turns, and each one after the first finds the
schema at its heads and has nothing left to do.
"""

import time
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

config = context.config

# PostgreSQL advisory locks are per database, so one fixed key serialises the migrations of this
# database only ("nsmigr" in ASCII; any constant no other part of the stack uses would do).
MIGRATION_LOCK_KEY = 0x6E736D696772
# How long a SQLite run waits for another one to finish. Each BEGIN IMMEDIATE already waits the
# engine's busy timeout (30 s); a first migration of every module can take longer on a slow disk.
SQLITE_LOCK_WAIT_SECONDS = 600.0


def take_postgresql_lock(connection: Connection) -> None:
    """Wait for the migration lock; PostgreSQL releases it when this transaction ends.

    Alembic reads alembic_version only after this returns, and under READ COMMITTED each
    statement sees what committed before it, so a run that waited sees the first run's schema.
    """
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")


def begin_immediate(connection: Connection) -> None:
    """Open the transaction holding SQLite's write lock from its first statement.

    A deferred BEGIN would let two runs both read an empty alembic_version and then fail
    when the second tries to write; IMMEDIATE makes the second wait before it reads anything.
    """
    deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise


@contextmanager
def migration_connection(engine: Engine):
    """A connection whose migrations commit together or not at all.

    pysqlite commits DDL on its own, so a failed SQLite migration would leave half a
    schema behind; we drive the transaction ourselves instead. Batch migrations rebuild
    a table by copying it and dropping the original, which SQLite's foreign keys forbid
    while other tables reference it (even deferred), so the checks are off during the
    migration and `PRAGMA foreign_key_check` must come back empty before we commit.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                take_postgresql_lock(connection)
            yield connection
        return
    with engine.connect() as plain:
        connection: Connection = plain.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        begin_immediate(connection)
        try:
            yield connection
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration would leave rows pointing nowhere: {broken[:5]}")
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        else:
            connection.exec_driver_sql("COMMIT")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")


engine = config.attributes["engine"]
with migration_connection(engine) as connection:
    context.configure(
        connection=connection,
        target_metadata=config.attributes["target_metadata"],
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
        include_name=config.attributes.get("include_name"),
    )
    with context.begin_transaction():
        context.run_migrations()
