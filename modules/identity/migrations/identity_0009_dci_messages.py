"""Identity: DCI civil-registration messages (issue 19) — each received message's answer, kept for replays.

Revision ID: 1d000000009
Revises: 1d000000008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000009"
down_revision: str | Sequence[str] | None = "1d000000008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_dci_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_dci_message")),
        sa.UniqueConstraint("sender_id", "message_id", name=op.f("uq_identity_dci_message_sender_id_message_id")),
    )


def downgrade() -> None:
    op.drop_table("identity_dci_message")
