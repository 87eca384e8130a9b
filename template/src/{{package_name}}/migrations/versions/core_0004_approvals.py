"""Core: four-eyes approvals, one live approval per person and version of a subject.

Revision ID: c0de00000004
Revises: c0de00000003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000004"
down_revision: str | Sequence[str] | None = "c0de00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("voided_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "core_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_approval")),
    )
    op.create_index(
        "uq_core_approval_live",
        "core_approval",
        ["action", "subject", "fingerprint", "person"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_core_approval_live", table_name="core_approval")
    op.drop_table("core_approval")
