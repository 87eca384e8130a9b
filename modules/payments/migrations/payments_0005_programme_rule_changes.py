"""Payments: changes of a programme's rules, proposed by one person and in force once others approved them.

Revision ID: 9a0000000005
Revises: 9a0000000004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000005"
down_revision: str | Sequence[str] | None = "9a0000000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_programme_rule_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("entitlement", sa.JSON(), nullable=False),
        sa.Column("income_year", sa.Integer(), nullable=True),
        sa.Column("proposed_by", sa.String(length=200), nullable=False),
        sa.Column("proposed_by_actor", sa.String(length=200), nullable=False),
        sa.Column("proposed_by_role", sa.String(length=100), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["payments_programme.id"],
            name=op.f("fk_payments_programme_rule_change_programme_id_payments_programme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_programme_rule_change")),
    )
    op.create_index(
        "ix_payments_programme_rule_change_programme_id_state",
        "payments_programme_rule_change",
        ["programme_id", "state"],
    )


def downgrade() -> None:
    op.drop_index("ix_payments_programme_rule_change_programme_id_state", table_name="payments_programme_rule_change")
    op.drop_table("payments_programme_rule_change")
