"""Payments: a cycle records its maker and the version of its instructions its approvers approved (four-eyes).

Revision ID: 9a0000000004
Revises: 9a0000000003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000004"
down_revision: str | Sequence[str] | None = "9a0000000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments_cycle") as batch:
        batch.add_column(sa.Column("made_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("made_by_actor", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("approved_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments_cycle") as batch:
        batch.drop_column("approved_fingerprint")
        batch.drop_column("made_by_actor")
        batch.drop_column("made_by")
