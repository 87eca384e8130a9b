"""Payments: programmes, enrolments, cycles, chunks, payment instructions and bank messages.

Revision ID: 9a0000000002
Revises: 9a0000000001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a0000000002"
down_revision: str | Sequence[str] | None = "9a0000000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments_bank_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("msg_id", sa.String(length=35), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("control_sum", sa.BigInteger(), nullable=False),
        sa.Column("unmatched", sa.Integer(), nullable=False),
        sa.Column("unmatched_sum", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_bank_message")),
        sa.UniqueConstraint("kind", "msg_id", name=op.f("uq_payments_bank_message_kind_msg_id")),
    )
    with op.batch_alter_table("payments_bank_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_bank_message_cycle_id"), ["cycle_id"], unique=False)

    op.create_table(
        "payments_programme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("entitlement", sa.JSON(), nullable=False),
        sa.Column("income_year", sa.Integer(), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_payments_programme_code")),
    )
    op.create_table(
        "payments_cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instruction_count", sa.Integer(), nullable=False),
        sa.Column("instruction_sum", sa.BigInteger(), nullable=False),
        sa.Column("unlinked_count", sa.Integer(), nullable=False),
        sa.Column("control_count", sa.Integer(), nullable=True),
        sa.Column("control_sum", sa.BigInteger(), nullable=True),
        sa.Column("funding_account", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["payments_programme.id"], name=op.f("fk_payments_cycle_programme_id_payments_programme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_cycle")),
        sa.UniqueConstraint("programme_id", "name", name=op.f("uq_payments_cycle_programme_id_name")),
    )
    op.create_table(
        "payments_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["payments_programme.id"],
            name=op.f("fk_payments_enrolment_programme_id_payments_programme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_enrolment")),
        sa.UniqueConstraint(
            "programme_id", "beneficiary_key", name=op.f("uq_payments_enrolment_programme_id_beneficiary_key")
        ),
    )
    op.create_table(
        "payments_chunk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["payments_cycle.id"], name=op.f("fk_payments_chunk_cycle_id_payments_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_chunk")),
        sa.UniqueConstraint("cycle_id", "number", name=op.f("uq_payments_chunk_cycle_id_number")),
    )
    with op.batch_alter_table("payments_chunk", schema=None) as batch_op:
        batch_op.create_index("ix_payments_chunk_cycle_id_state", ["cycle_id", "state"], unique=False)

    op.create_table(
        "payments_instruction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("chunk_id", sa.Integer(), nullable=True),
        sa.Column("beneficiary_key", sa.String(length=80), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("msg_id", sa.String(length=35), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["payments_chunk.id"], name=op.f("fk_payments_instruction_chunk_id_payments_chunk")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["payments_cycle.id"], name=op.f("fk_payments_instruction_cycle_id_payments_cycle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments_instruction")),
        sa.UniqueConstraint(
            "cycle_id", "beneficiary_key", name=op.f("uq_payments_instruction_cycle_id_beneficiary_key")
        ),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_payments_instruction_end_to_end_id")),
    )
    with op.batch_alter_table("payments_instruction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_instruction_beneficiary_key"), ["beneficiary_key"], unique=False)
        batch_op.create_index("ix_payments_instruction_chunk_id_state", ["chunk_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments_instruction", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_instruction_chunk_id_state")
        batch_op.drop_index(batch_op.f("ix_payments_instruction_beneficiary_key"))

    op.drop_table("payments_instruction")
    with op.batch_alter_table("payments_chunk", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_chunk_cycle_id_state")

    op.drop_table("payments_chunk")
    op.drop_table("payments_enrolment")
    op.drop_table("payments_cycle")
    op.drop_table("payments_programme")
    with op.batch_alter_table("payments_bank_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_bank_message_cycle_id"))

    op.drop_table("payments_bank_message")
