"""Tax: taxpayer register, returns and assessments.

Revision ID: 7a0000000001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a0000000001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tax",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tax_taxpayer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tin", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_taxpayer")),
        sa.UniqueConstraint("kind", "reference", name=op.f("uq_tax_taxpayer_kind_reference")),
        sa.UniqueConstraint("tin", name=op.f("uq_tax_taxpayer_tin")),
    )
    op.create_table(
        "tax_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tin", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("income", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_return")),
        sa.UniqueConstraint("tin", "year", name=op.f("uq_tax_return_tin_year")),
    )
    op.create_table(
        "tax_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("tin", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("taxable", sa.BigInteger(), nullable=False),
        sa.Column("tax_due", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("trace", sa.JSON(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["return_id"], ["tax_return.id"], name=op.f("fk_tax_assessment_return_id_tax_return")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_assessment")),
        sa.UniqueConstraint("return_id", name=op.f("uq_tax_assessment_return_id")),
    )
    op.create_index(op.f("ix_tax_assessment_tin"), "tax_assessment", ["tin"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tax_assessment_tin"), table_name="tax_assessment")
    op.drop_table("tax_assessment")
    op.drop_table("tax_return")
    op.drop_table("tax_taxpayer")
