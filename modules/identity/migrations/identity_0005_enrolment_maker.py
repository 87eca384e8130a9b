"""Identity: who submitted an enrolment (its maker), whom four-eyes adjudication refuses as an approver.

Revision ID: 1d000000005
Revises: 1d000000004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000005"
down_revision: str | Sequence[str] | None = "1d000000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("identity_enrolment", sa.Column("made_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_enrolment") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("made_by")
