"""Core: partners and the hash-chained audit log.

Revision ID: c0de00000001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "core_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_partner")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_core_partner_key_prefix")),
    )
    op.create_table(
        "core_audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_audit_event")),
        sa.UniqueConstraint("hash", name=op.f("uq_core_audit_event_hash")),
    )
    op.create_index(op.f("ix_core_audit_event_action"), "core_audit_event", ["action"])
    op.create_index(op.f("ix_core_audit_event_subject"), "core_audit_event", ["subject"])
    head = op.create_table(
        "core_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_audit_head")),
    )
    # The head row exists from the start, so concurrent first appends lock it
    # instead of racing to create it.
    op.bulk_insert(head, [{"id": 1, "last_hash": GENESIS_HASH, "last_event_id": 0}])


def downgrade() -> None:
    op.drop_table("core_audit_head")
    op.drop_index(op.f("ix_core_audit_event_subject"), table_name="core_audit_event")
    op.drop_index(op.f("ix_core_audit_event_action"), table_name="core_audit_event")
    op.drop_table("core_audit_event")
    op.drop_table("core_partner")
