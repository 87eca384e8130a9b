"""Identity: the outbox is drained (issue 17) — each message's delivery status, attempts, next attempt,
expiry and last error; the body becomes NULL once the message is sent, expired or given up on; the
recipient widens to hold an e-mail address.

Revision ID: 1d000000007
Revises: 1d000000006
Create Date: 2026-12-05

Messages written before this revision were never going to be sent (nothing drained the outbox):
they are marked expired and their bodies emptied, so turning a gateway on after the upgrade does
not text residents codes that died long ago.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000007"
down_revision: str | Sequence[str] | None = "1d000000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_outbox") as batch:
        batch.alter_column("body", existing_type=sa.Text(), nullable=True)
        batch.alter_column("recipient", type_=sa.String(length=254), existing_type=sa.String(length=50))
        batch.add_column(sa.Column("status", sa.String(length=10), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE identity_outbox SET status = 'expired', body = NULL, next_attempt_at = created_at, "
        "expires_at = created_at"
    )
    with op.batch_alter_table("identity_outbox") as batch:
        batch.alter_column("next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_identity_outbox_status_next_attempt_at", "identity_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    # The old table holds a body in every row and phone numbers only: other rows cannot go back.
    op.execute("DELETE FROM identity_outbox WHERE body IS NULL OR length(recipient) > 50")
    op.drop_index("ix_identity_outbox_status_next_attempt_at", table_name="identity_outbox")
    with op.batch_alter_table("identity_outbox") as batch:
        batch.drop_column("last_error")
        batch.drop_column("sent_at")
        batch.drop_column("expires_at")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("status")
        batch.alter_column("recipient", type_=sa.String(length=50), existing_type=sa.String(length=254))
        batch.alter_column("body", existing_type=sa.Text(), nullable=False)
