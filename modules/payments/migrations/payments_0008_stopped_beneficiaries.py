"""Payments: beneficiaries whose death the population register reported, whom no later cycle pays (issue 19).

Revision ID: 9a0000000008
Revises: 9a0000000007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000008"
down_revision: str | Sequence[str] | None = "9a0000000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_stopped_beneficiary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("effective", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=420), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_stopped_beneficiary")),
        sa.UniqueConstraint("beneficiary_key", name=op.f("uq_payments_stopped_beneficiary_beneficiary_key")),
    )


def downgrade() -> None:
    op.drop_table("payments_stopped_beneficiary")
