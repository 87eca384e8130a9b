"""Identity hardening (issue 13): OTP rate gates, sealed outbox, lock-out per partner, sessions
bound to their partner.

Revision ID: 1d000000003
Revises: 1d000000002
Create Date: 2026-12-03

Throttle rows and resident sessions are short-lived state without a partner: they are dropped
(an ongoing lock-out ends, open resident sessions must be opened again). Outbox messages written
before this revision are in clear text; they are deleted, as they hold OTPs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000003"
down_revision: str | Sequence[str] | None = "1d000000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_rate_gate",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_identity_rate_gate")),
    )
    op.create_index("ix_identity_otp_partner_id_created_at", "identity_otp", ["partner_id", "created_at"])
    op.execute("DELETE FROM identity_outbox")
    with op.batch_alter_table("identity_outbox") as batch:
        batch.alter_column("body", type_=sa.Text(), existing_type=sa.String(length=500), existing_nullable=False)
    op.execute("DELETE FROM identity_auth_throttle")
    with op.batch_alter_table("identity_auth_throttle") as batch:
        batch.drop_constraint("uq_identity_auth_throttle_national_id", type_="unique")
        batch.add_column(sa.Column("partner_id", sa.Integer(), nullable=False))
        batch.create_unique_constraint(
            "uq_identity_auth_throttle_national_id_partner_id", ["national_id", "partner_id"]
        )
    op.execute("DELETE FROM identity_resident_session")
    with op.batch_alter_table("identity_resident_session") as batch:
        batch.add_column(sa.Column("partner_id", sa.Integer(), nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM identity_resident_session")
    with op.batch_alter_table("identity_resident_session") as batch:
        batch.drop_column("partner_id")
    op.execute("DELETE FROM identity_auth_throttle")
    with op.batch_alter_table("identity_auth_throttle") as batch:
        batch.drop_constraint("uq_identity_auth_throttle_national_id_partner_id", type_="unique")
        batch.drop_column("partner_id")
        batch.create_unique_constraint("uq_identity_auth_throttle_national_id", ["national_id"])
    op.execute("DELETE FROM identity_outbox")
    with op.batch_alter_table("identity_outbox") as batch:
        batch.alter_column("body", type_=sa.String(length=500), existing_type=sa.Text(), existing_nullable=False)
    op.drop_index("ix_identity_otp_partner_id_created_at", table_name="identity_otp")
    op.drop_table("identity_rate_gate")
