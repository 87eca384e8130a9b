"""Payments: the G2P Connect mapper adapter's senders, messages (idempotent on message_id) and their items.

Revision ID: 9a0000000007
Revises: 9a0000000006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000007"
down_revision: str | Sequence[str] | None = "9a0000000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_g2p_sender",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=99), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("signing_method", sa.String(length=20), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_url", sa.String(length=2000), nullable=True),
        sa.Column("callback_uri", sa.String(length=2000), nullable=True),
        sa.Column("resolve_details", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_g2p_sender")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_payments_g2p_sender_partner_id")),
        sa.UniqueConstraint("sender_id", name=op.f("uq_payments_g2p_sender_sender_id")),
    )
    op.create_table(
        "payments_g2p_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=99), nullable=False),
        sa.Column("message_id", sa.String(length=99), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=5), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=99), nullable=True),
        sa.Column("correlation_id", sa.String(length=32), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("callback_uri", sa.String(length=2000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_g2p_message")),
        sa.UniqueConstraint("correlation_id", name=op.f("uq_payments_g2p_message_correlation_id")),
        sa.UniqueConstraint("sender_id", "message_id", name=op.f("uq_payments_g2p_message_sender_id_message_id")),
    )
    op.create_index(
        "ix_payments_g2p_message_sender_id_transaction_id",
        "payments_g2p_message",
        ["sender_id", "transaction_id"],
    )
    op.create_index(
        "ix_payments_g2p_message_state_next_attempt_at", "payments_g2p_message", ["state", "next_attempt_at"]
    )
    op.create_table(
        "payments_g2p_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=99), nullable=False),
        sa.Column("reference_id", sa.String(length=99), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_pk"],
            ["payments_g2p_message.id"],
            name=op.f("fk_payments_g2p_item_message_pk_payments_g2p_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_g2p_item")),
    )
    op.create_index(op.f("ix_payments_g2p_item_message_pk"), "payments_g2p_item", ["message_pk"])
    op.create_index("ix_payments_g2p_item_sender_id_reference_id", "payments_g2p_item", ["sender_id", "reference_id"])


def downgrade() -> None:
    op.drop_table("payments_g2p_item")
    op.drop_table("payments_g2p_message")
    op.drop_table("payments_g2p_sender")
