"""Payments: payment instructions built to be rewritten, chunk after chunk.

Every step of a cycle rewrites the state of a whole chunk of instructions. With the state in
an index, each of those writes also moved an index entry per instruction: instructions are now
indexed by chunk alone (a chunk holds at most PAYMENTS_CHUNK_SIZE of them, so the rows of one
chunk in one state are found by reading the chunk's rows through this index). On PostgreSQL their
pages are also left half empty, so a rewrite, which changes no indexed column any more, can stay
on its page without touching the indexes (a HOT update).

Revision ID: 9a0000000003
Revises: 9a0000000002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9a0000000003"
down_revision: str | Sequence[str] | None = "9a0000000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTRUCTION_FILLFACTOR = 50  # percent of each page filled by inserts; the rest is room for rewrites


def upgrade() -> None:
    with op.batch_alter_table("payments_instruction", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_instruction_chunk_id_state")
        batch_op.create_index(batch_op.f("ix_payments_instruction_chunk_id"), ["chunk_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE payments_instruction SET (fillfactor = {INSTRUCTION_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE payments_instruction RESET (fillfactor)")
    with op.batch_alter_table("payments_instruction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_instruction_chunk_id"))
        batch_op.create_index("ix_payments_instruction_chunk_id_state", ["chunk_id", "state"], unique=False)
