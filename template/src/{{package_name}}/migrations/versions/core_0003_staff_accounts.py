"""Core: staff accounts, their role grants and their sessions.

Revision ID: c0de00000003
Revises: c0de00000002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000003"
down_revision: str | Sequence[str] | None = "c0de00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_staff_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_secret", sa.String(length=200), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("oidc_issuer", sa.String(length=300), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_staff_account")),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name=op.f("uq_core_staff_account_oidc_issuer_oidc_subject")),
        sa.UniqueConstraint("user_name", name=op.f("uq_core_staff_account_user_name")),
    )
    op.create_table(
        "core_staff_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["core_staff_account.id"],
            name=op.f("fk_core_staff_grant_account_id_core_staff_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_staff_grant")),
    )
    op.create_index(op.f("ix_core_staff_grant_account_id"), "core_staff_grant", ["account_id"])
    op.create_table(
        "core_staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["core_staff_account.id"],
            name=op.f("fk_core_staff_session_account_id_core_staff_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_staff_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_core_staff_session_token_hash")),
    )
    op.create_index(op.f("ix_core_staff_session_account_id"), "core_staff_session", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_core_staff_session_account_id"), table_name="core_staff_session")
    op.drop_table("core_staff_session")
    op.drop_index(op.f("ix_core_staff_grant_account_id"), table_name="core_staff_grant")
    op.drop_table("core_staff_grant")
    op.drop_table("core_staff_account")
