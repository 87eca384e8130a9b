"""Core: a staff session the OpenID provider opened keeps its ID token, for the provider's logout.

Revision ID: c0de00000006
Revises: c0de00000005
Create Date: 2026-12-04

The token was kept in a signed cookie before this revision; sessions opened then keep none, and
their logout at the provider goes without `id_token_hint` (the provider may ask the person to
confirm).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0de00000006"
down_revision: str | Sequence[str] | None = "c0de00000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_staff_session") as batch:
        batch.add_column(sa.Column("oidc_id_token", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("core_staff_session") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("oidc_id_token")
