"""Payments: wrong control totals are counted per person and cycle, so the blind totals cannot be guessed.

Revision ID: 9a0000000006
Revises: 9a0000000005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000006"
down_revision: str | Sequence[str] | None = "9a0000000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_wrong_control_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["payments_cycle.id"], name=op.f("fk_payments_wrong_control_totals_cycle_id_payments_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_wrong_control_totals")),
        sa.UniqueConstraint("cycle_id", "person", name=op.f("uq_payments_wrong_control_totals_cycle_id_person")),
    )


def downgrade() -> None:
    op.drop_table("payments_wrong_control_totals")
