"""Payments: account links (mapper), ledger accounts, transfers and entries.

Revision ID: 9a0000000001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("payments",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_account_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("bank_code", sa.String(length=11), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_account_link")),
        sa.UniqueConstraint("beneficiary_key", name=op.f("uq_payments_account_link_beneficiary_key")),
    )
    op.create_table(
        "payments_account_link_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("bank_code", sa.String(length=11), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_account_link_history")),
    )
    op.create_index(
        op.f("ix_payments_account_link_history_beneficiary_key"), "payments_account_link_history", ["beneficiary_key"]
    )
    op.create_table(
        "payments_ledger_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_ledger_account")),
        sa.UniqueConstraint("code", name=op.f("uq_payments_ledger_account_code")),
    )
    op.create_index(op.f("ix_payments_ledger_account_owner"), "payments_ledger_account", ["owner"])
    op.create_table(
        "payments_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_reference", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("payer_account_id", sa.Integer(), nullable=False),
        sa.Column("payee_account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["payee_account_id"],
            ["payments_ledger_account.id"],
            name=op.f("fk_payments_transfer_payee_account_id_payments_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_account_id"],
            ["payments_ledger_account.id"],
            name=op.f("fk_payments_transfer_payer_account_id_payments_ledger_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_transfer")),
        sa.UniqueConstraint("client_reference", name=op.f("uq_payments_transfer_client_reference")),
    )
    op.create_index(op.f("ix_payments_transfer_beneficiary_key"), "payments_transfer", ["beneficiary_key"])
    op.create_table(
        "payments_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["payments_ledger_account.id"],
            name=op.f("fk_payments_entry_account_id_payments_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["payments_transfer.id"], name=op.f("fk_payments_entry_transfer_id_payments_transfer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_entry")),
    )
    op.create_index(op.f("ix_payments_entry_account_id"), "payments_entry", ["account_id"])
    op.create_index(op.f("ix_payments_entry_transfer_id"), "payments_entry", ["transfer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payments_entry_transfer_id"), table_name="payments_entry")
    op.drop_index(op.f("ix_payments_entry_account_id"), table_name="payments_entry")
    op.drop_table("payments_entry")
    op.drop_index(op.f("ix_payments_transfer_beneficiary_key"), table_name="payments_transfer")
    op.drop_table("payments_transfer")
    op.drop_index(op.f("ix_payments_ledger_account_owner"), table_name="payments_ledger_account")
    op.drop_table("payments_ledger_account")
    op.drop_index(op.f("ix_payments_account_link_history_beneficiary_key"), table_name="payments_account_link_history")
    op.drop_table("payments_account_link_history")
    op.drop_table("payments_account_link")
