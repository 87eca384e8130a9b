"""Loans: products, applications, loans with their schedules, the loan book, daily accruals, bank credits.

Revision ID: b10a00000001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b10a00000001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("loans",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loans_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("borrower", sa.String(length=100), nullable=False),
        sa.Column("payee", sa.String(length=120), nullable=False),
        sa.Column("region", sa.String(length=200), nullable=True),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=True),
        sa.Column("consent", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("made_by", sa.String(length=200), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_application")),
        sa.UniqueConstraint("reference", name=op.f("uq_loans_application_reference")),
    )
    with op.batch_alter_table("loans_application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_application_borrower"), ["borrower"], unique=False)
        batch_op.create_index(batch_op.f("ix_loans_application_state"), ["state"], unique=False)

    op.create_table(
        "loans_bank_credit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_reference", sa.String(length=120), nullable=False),
        sa.Column("loan_reference", sa.String(length=140), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_bank_credit")),
        sa.UniqueConstraint("entry_reference", name=op.f("uq_loans_bank_credit_entry_reference")),
    )
    op.create_table(
        "loans_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("made_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_product")),
        sa.UniqueConstraint("code", name=op.f("uq_loans_product_code")),
    )
    op.create_table(
        "loans_loan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("borrower", sa.String(length=100), nullable=False),
        sa.Column("payee", sa.String(length=120), nullable=False),
        sa.Column("region", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("disbursed_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("schedule_from", sa.Date(), nullable=False),
        sa.Column("carried_interest", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["loans_application.id"], name=op.f("fk_loans_loan_application_id_loans_application")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_loan")),
        sa.UniqueConstraint("application_id", name=op.f("uq_loans_loan_application_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_loans_loan_reference")),
    )
    with op.batch_alter_table("loans_loan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_loan_borrower"), ["borrower"], unique=False)
        batch_op.create_index("ix_loans_loan_state_id", ["state", "id"], unique=False)

    op.create_table(
        "loans_position",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("disbursed_on", sa.Date(), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("schedule_from", sa.Date(), nullable=False),
        sa.Column("carried_interest", sa.BigInteger(), nullable=False),
        sa.Column("unpaid_from", sa.Date(), nullable=True),
        sa.Column("last_settled_on", sa.Date(), nullable=True),
        sa.Column("period_number", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_due", sa.Date(), nullable=True),
        sa.Column("period_interest", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["loan_id"], ["loans_loan.id"], name=op.f("fk_loans_position_loan_id_loans_loan")),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loans_position")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "loans_accrual",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans_loan.id"], name=op.f("fk_loans_accrual_loan_id_loans_loan")),
        sa.PrimaryKeyConstraint("loan_id", "day", name=op.f("pk_loans_accrual")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "loans_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("transfer_state", sa.String(length=20), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans_loan.id"], name=op.f("fk_loans_event_loan_id_loans_loan")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_event")),
        sa.UniqueConstraint("reference", name=op.f("uq_loans_event_reference")),
    )
    with op.batch_alter_table("loans_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_event_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "loans_instalment",
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("penalties", sa.BigInteger(), nullable=False),
        sa.Column("paid_principal", sa.BigInteger(), nullable=False),
        sa.Column("paid_interest", sa.BigInteger(), nullable=False),
        sa.Column("paid_fees", sa.BigInteger(), nullable=False),
        sa.Column("paid_penalties", sa.BigInteger(), nullable=False),
        sa.Column("waived", sa.BigInteger(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("penalised_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["loan_id"], ["loans_loan.id"], name=op.f("fk_loans_instalment_loan_id_loans_loan")),
        sa.PrimaryKeyConstraint("loan_id", "version", "number", name=op.f("pk_loans_instalment")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "loans_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["loans_event.id"], name=op.f("fk_loans_line_event_id_loans_event")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans_loan.id"], name=op.f("fk_loans_line_loan_id_loans_loan")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans_line")),
    )
    with op.batch_alter_table("loans_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_line_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loans_line_loan_id"), ["loan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("loans_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_line_loan_id"))
        batch_op.drop_index(batch_op.f("ix_loans_line_event_id"))

    op.drop_table("loans_line")
    op.drop_table("loans_instalment")
    with op.batch_alter_table("loans_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_event_loan_id"))

    op.drop_table("loans_event")
    op.drop_table("loans_accrual")
    op.drop_table("loans_position")
    with op.batch_alter_table("loans_loan", schema=None) as batch_op:
        batch_op.drop_index("ix_loans_loan_state_id")
        batch_op.drop_index(batch_op.f("ix_loans_loan_borrower"))

    op.drop_table("loans_loan")
    op.drop_table("loans_product")
    op.drop_table("loans_bank_credit")
    with op.batch_alter_table("loans_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_application_state"))
        batch_op.drop_index(batch_op.f("ix_loans_application_borrower"))

    op.drop_table("loans_application")
