"""Identity: an index on when enrolments were received, for the console's chart of the last 14 days.

Revision ID: 1d000000006
Revises: 1d000000005
Create Date: 2026-12-10
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1d000000006"
down_revision: str | Sequence[str] | None = "1d000000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_identity_enrolment_created_at", "identity_enrolment", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_identity_enrolment_created_at", table_name="identity_enrolment")
