"""Core: sign-in attempts per client address and form, so the web sign-in pages are rate-limited.

Revision ID: c0de00000007
Revises: c0de00000006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000007"
down_revision: str | Sequence[str] | None = "c0de00000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_sign_in_attempts",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("core_sign_in_attempts")
