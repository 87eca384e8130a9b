"""Identity: biometrics, virtual IDs, partner policies, OTPs, locks, contact history, imports.

Revision ID: 1d000000002
Revises: 1d000000001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000002"
down_revision: str | Sequence[str] | None = "1d000000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("identity_person") as batch:
        batch.add_column(sa.Column("other_names", sa.JSON(), nullable=True))
    op.create_table(
        "identity_biometric",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_hash", sa.String(length=64), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_biometric")),
    )
    op.create_index(op.f("ix_identity_biometric_template_hash"), "identity_biometric", ["template_hash"])
    op.create_index(op.f("ix_identity_biometric_national_id"), "identity_biometric", ["national_id"])
    op.create_table(
        "identity_vid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vid", sa.String(length=16), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses_left", sa.Integer(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_vid")),
        sa.UniqueConstraint("vid", name=op.f("uq_identity_vid_vid")),
    )
    op.create_index(op.f("ix_identity_vid_national_id"), "identity_vid", ["national_id"])
    op.create_table(
        "identity_partner_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("auth_types", sa.JSON(), nullable=False),
        sa.Column("ekyc_attributes", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_partner_policy")),
        sa.UniqueConstraint("partner_id", name=op.f("uq_identity_partner_policy_partner_id")),
    )
    op.create_table(
        "identity_otp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_otp")),
    )
    op.create_index(op.f("ix_identity_otp_national_id"), "identity_otp", ["national_id"])
    op.create_table(
        "identity_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=50), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_outbox")),
    )
    op.create_index(op.f("ix_identity_outbox_recipient"), "identity_outbox", ["recipient"])
    op.create_table(
        "identity_auth_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("factor", sa.String(length=20), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_auth_lock")),
        sa.UniqueConstraint("national_id", "factor", name=op.f("uq_identity_auth_lock_national_id_factor")),
    )
    op.create_table(
        "identity_auth_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_auth_throttle")),
        sa.UniqueConstraint("national_id", name=op.f("uq_identity_auth_throttle_national_id")),
    )
    op.create_table(
        "identity_contact_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_contact_change")),
    )
    op.create_index(op.f("ix_identity_contact_change_national_id"), "identity_contact_change", ["national_id"])
    op.create_table(
        "identity_resident_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_resident_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_resident_session_token_hash")),
    )
    op.create_table(
        "identity_import_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_import_checkpoint")),
        sa.UniqueConstraint("source", name=op.f("uq_identity_import_checkpoint_source")),
    )


def downgrade() -> None:
    op.drop_table("identity_import_checkpoint")
    op.drop_table("identity_resident_session")
    op.drop_index(op.f("ix_identity_contact_change_national_id"), table_name="identity_contact_change")
    op.drop_table("identity_contact_change")
    op.drop_table("identity_auth_throttle")
    op.drop_table("identity_auth_lock")
    op.drop_index(op.f("ix_identity_outbox_recipient"), table_name="identity_outbox")
    op.drop_table("identity_outbox")
    op.drop_index(op.f("ix_identity_otp_national_id"), table_name="identity_otp")
    op.drop_table("identity_otp")
    op.drop_table("identity_partner_policy")
    op.drop_index(op.f("ix_identity_vid_national_id"), table_name="identity_vid")
    op.drop_table("identity_vid")
    op.drop_index(op.f("ix_identity_biometric_national_id"), table_name="identity_biometric")
    op.drop_index(op.f("ix_identity_biometric_template_hash"), table_name="identity_biometric")
    op.drop_table("identity_biometric")
    with op.batch_alter_table("identity_person") as batch:
        batch.drop_column("other_names")
