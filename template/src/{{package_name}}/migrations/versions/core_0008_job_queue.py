"""Core: procrastinate's job queue (tables, types and functions) on PostgreSQL; nothing on SQLite.

Applied here, by `db upgrade`, never when a worker starts. It is procrastinate's own schema.sql of
the minor release the stack pins (3.10); moving the pin comes with a new core revision applying the
newer release's migration files (procrastinate/sql/migrations).

Revision ID: c0de00000008
Revises: c0de00000007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op
from procrastinate.schema import SchemaManager

revision: str = "c0de00000008"
down_revision: str | Sequence[str] | None = "c0de00000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Everything procrastinate's schema creates is named procrastinate_*: dropped by name on downgrade.
DROP_QUEUE = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
            AND tablename LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%' AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
    END LOOP;
END $$;
"""


def upgrade() -> None:
    _run_script(SchemaManager.get_schema())


def downgrade() -> None:
    _run_script(DROP_QUEUE)


def _run_script(script: str) -> None:
    """Many statements at once, on the migration's own connection and transaction (PostgreSQL only).

    psycopg runs a script without parameters as it is, so its `%` signs need no escaping."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        with bind.connection.driver_connection.cursor() as cursor:
            cursor.execute(script)
