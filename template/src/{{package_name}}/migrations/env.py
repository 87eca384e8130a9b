"""Alembic environment: run migrations on the engine handed over by core.migrate."""

from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, Engine

config = context.config


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
            yield connection
        return
    with engine.connect() as plain:
        connection: Connection = plain.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        connection.exec_driver_sql("BEGIN")
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
