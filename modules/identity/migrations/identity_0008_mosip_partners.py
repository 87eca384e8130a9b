"""Identity: the MOSIP ID Authentication adapter (issue 19) — onboarded relying parties (certificate,
hashes of their MISP licence key and API key) and the generated IDA key pair.

Revision ID: 1d000000008
Revises: 1d000000007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000008"
down_revision: str | Sequence[str] | None = "1d000000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_mosip_partner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("misp_key_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_mosip_partner")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_identity_mosip_partner_partner_id")),
    )
    op.create_table(
        "identity_mosip_ida_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_mosip_ida_key")),
        sa.UniqueConstraint("purpose", name=op.f("uq_identity_mosip_ida_key_purpose")),
    )


def downgrade() -> None:
    op.drop_table("identity_mosip_ida_key")
    op.drop_table("identity_mosip_partner")
