"""Core: a partner key holding a money scope waits for four-eyes approval; who requested it.

Revision ID: c0de00000005
Revises: c0de00000004
Create Date: 2026-12-03

Keys issued before this revision keep working (`awaiting_approval` false): they were issued by an
operator at the server's shell, under the rules of their day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000005"
down_revision: str | Sequence[str] | None = "c0de00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_partner") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("awaiting_approval", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("core_partner") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("awaiting_approval")
        batch.drop_column("requested_by")
