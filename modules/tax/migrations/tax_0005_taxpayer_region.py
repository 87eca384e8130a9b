"""Tax: a taxpayer's region (its address's first level), which region-limited staff roles are checked against.

Existing taxpayers have none: only partners and staff granted their role everywhere reach them.

Revision ID: 7a0000000005
Revises: 7a0000000004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a0000000005"
down_revision: str | Sequence[str] | None = "7a0000000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tax_taxpayer", sa.Column("region", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tax_taxpayer") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("region")
