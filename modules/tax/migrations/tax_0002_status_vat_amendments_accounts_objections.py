"""Tax: taxpayer status, VAT and amended returns, penalties, running accounts, objections.

Revision ID: 7a0000000002
Revises: 7a0000000001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a0000000002"
down_revision: str | Sequence[str] | None = "7a0000000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tax_taxpayer") as batch:
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="active"))
        batch.add_column(sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("tax_return") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="income"))
        batch.add_column(sa.Column("period", sa.String(length=10), nullable=False, server_default=""))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("lines", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("filed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("filed_by", sa.String(length=100), nullable=True))
    op.execute("UPDATE tax_return SET period = CAST(year AS VARCHAR(10))")
    with op.batch_alter_table("tax_return") as batch:
        batch.drop_constraint("uq_tax_return_tin_year", type_="unique")
        batch.create_unique_constraint("uq_tax_return_tin_kind_period_version", ["tin", "kind", "period", "version"])
        batch.create_index("ix_tax_return_kind_period", ["kind", "period"])

    with op.batch_alter_table("tax_assessment") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=10), nullable=False, server_default="income"))
        batch.add_column(sa.Column("period", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("penalty", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("state", sa.String(length=20), nullable=False, server_default="current"))
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))

    op.create_table(
        "tax_account_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tin", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_account_entry")),
        sa.UniqueConstraint("reference", name=op.f("uq_tax_account_entry_reference")),
    )
    op.create_index(op.f("ix_tax_account_entry_tin"), "tax_account_entry", ["tin"])

    op.create_table(
        "tax_objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("tin", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("grounds", sa.String(length=2000), nullable=False),
        sa.Column("claimed_income", sa.BigInteger(), nullable=True),
        sa.Column("decided_income", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.String(length=2000), nullable=True),
        sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_assessment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["tax_assessment.id"], name=op.f("fk_tax_objection_assessment_id_tax_assessment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_objection")),
    )
    op.create_index(op.f("ix_tax_objection_assessment_id"), "tax_objection", ["assessment_id"])
    op.create_index(op.f("ix_tax_objection_tin"), "tax_objection", ["tin"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tax_objection_tin"), table_name="tax_objection")
    op.drop_index(op.f("ix_tax_objection_assessment_id"), table_name="tax_objection")
    op.drop_table("tax_objection")
    op.drop_index(op.f("ix_tax_account_entry_tin"), table_name="tax_account_entry")
    op.drop_table("tax_account_entry")
    with op.batch_alter_table("tax_assessment") as batch:
        for column in ("superseded_by", "state", "due_on", "penalty", "period", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("tax_return") as batch:
        batch.drop_index("ix_tax_return_kind_period")
        batch.drop_constraint("uq_tax_return_tin_kind_period_version", type_="unique")
        batch.create_unique_constraint("uq_tax_return_tin_year", ["tin", "year"])
    with op.batch_alter_table("tax_return") as batch:
        for column in ("filed_by", "filed_on", "lines", "version", "period", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("tax_taxpayer") as batch:
        batch.drop_column("status_changed_at")
        batch.drop_column("status")
