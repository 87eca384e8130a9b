"""Identity: an index for the queue of held enrolments (status, then id: the queue's order).

Revision ID: 1d000000004
Revises: 1d000000003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1d000000004"
down_revision: str | Sequence[str] | None = "1d000000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_identity_enrolment_status_id", "identity_enrolment", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_identity_enrolment_status_id", table_name="identity_enrolment")
