"""Tax: an index for the queue of objections (state, then id: the queue's order).

Revision ID: 7a0000000003
Revises: 7a0000000002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7a0000000003"
down_revision: str | Sequence[str] | None = "7a0000000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tax_objection_state_id", "tax_objection", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_tax_objection_state_id", table_name="tax_objection")
