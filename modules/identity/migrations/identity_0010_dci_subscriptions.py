"""Identity: DCI subscriptions to civil registries; stored DCI answers sealed, their digests keyed.

The messages kept before this revision held their answers in clear (a search answer names a person)
under an unkeyed digest: they are deleted rather than re-sealed (a migration has no SECRET_KEY). A
replay of one of them is then taken as new, which changes nothing: a death told again is already
applied, a birth finds its enrolment, a search is answered (and audited) again.

Revision ID: 1d000000010
Revises: 1d000000009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1d000000010"
down_revision: str | Sequence[str] | None = "1d000000009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM identity_dci_message"))
    with op.batch_alter_table("identity_dci_message") as batch:
        batch.drop_column("answer")
        batch.add_column(sa.Column("sealed_answer", sa.Text(), nullable=False))
    op.create_table(
        "identity_dci_registry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("our_sender_id", sa.String(length=100), nullable=False),
        sa.Column("our_url", sa.String(length=500), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("jwks_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_dci_registry")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_dci_registry_name")),
    )
    op.create_table(
        "identity_dci_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("transaction_id", sa.String(length=99), nullable=False),
        sa.Column("reference_id", sa.String(length=99), nullable=False),
        sa.Column("subscription_code", sa.String(length=99), nullable=True),
        sa.Column("reason", sa.String(length=999), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["identity_dci_registry.id"],
            name=op.f("fk_identity_dci_subscription_registry_id_identity_dci_registry"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_dci_subscription")),
        sa.UniqueConstraint("reference_id", name=op.f("uq_identity_dci_subscription_reference_id")),
    )
    op.create_index(
        op.f("ix_identity_dci_subscription_registry_id"), "identity_dci_subscription", ["registry_id"], unique=False
    )
    op.create_index(
        op.f("ix_identity_dci_subscription_transaction_id"),
        "identity_dci_subscription",
        ["transaction_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_dci_subscription_transaction_id"), table_name="identity_dci_subscription")
    op.drop_index(op.f("ix_identity_dci_subscription_registry_id"), table_name="identity_dci_subscription")
    op.drop_table("identity_dci_subscription")
    op.drop_table("identity_dci_registry")
    op.execute(sa.text("DELETE FROM identity_dci_message"))
    with op.batch_alter_table("identity_dci_message") as batch:
        batch.drop_column("sealed_answer")
        batch.add_column(sa.Column("answer", sa.JSON(), nullable=False))
