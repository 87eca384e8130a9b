"""Identity: people and enrolment applications.

Revision ID: 1d000000001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("identity",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=400), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_person")),
        sa.UniqueConstraint("national_id", name=op.f("uq_identity_person_national_id")),
    )
    op.create_index(op.f("ix_identity_person_date_of_birth"), "identity_person", ["date_of_birth"])
    op.create_table(
        "identity_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("demographics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_enrolment")),
        sa.UniqueConstraint("application_id", name=op.f("uq_identity_enrolment_application_id")),
    )


def downgrade() -> None:
    op.drop_table("identity_enrolment")
    op.drop_index(op.f("ix_identity_person_date_of_birth"), table_name="identity_person")
    op.drop_table("identity_person")
