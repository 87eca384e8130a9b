"""Tax: who lodged an objection (its maker), whom four-eyes refuses as a decider.

Revision ID: 7a0000000004
Revises: 7a0000000003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a0000000004"
down_revision: str | Sequence[str] | None = "7a0000000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tax_objection", sa.Column("lodged_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tax_objection") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("lodged_by")
