"""Core: the audit chain keyed with HMAC-SHA256, and partner key expiry.

Chains written before this revision used plain SHA-256, which anyone with write access to the
database can recompute. The upgrade first checks the existing chain with plain SHA-256 (and
refuses to go on if it is already broken: re-keying would launder the tampering), then re-hashes
every event with the HMAC key derived from SECRET_KEY, in id order, page by page, and moves the
head. The downgrade re-hashes with plain SHA-256 again. The canonical form of an event is copied
here (not imported from core/audit.py) so this revision keeps doing what it did when written.

Revision ID: c0de00000002
Revises: c0de00000001
Create Date: 2026-12-03
"""

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import context, op
from alembic.util import CommandError

revision: str = "c0de00000002"
down_revision: str | Sequence[str] | None = "c0de00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
PAGE = 5000

events = sa.table(
    "core_audit_event",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("previous_hash", sa.String),
    sa.column("hash", sa.String),
)
head = sa.table("core_audit_head", sa.column("id", sa.Integer), sa.column("last_hash", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("core_partner") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    if _has_events():
        key = context.config.attributes["audit_chain_key"]()
        _rehash(check=_sha256, write=lambda data: hmac.new(key, data, hashlib.sha256).hexdigest())


def downgrade() -> None:
    if _has_events():
        key = context.config.attributes["audit_chain_key"]()
        _rehash(check=lambda data: hmac.new(key, data, hashlib.sha256).hexdigest(), write=_sha256)
    with op.batch_alter_table("core_partner") as batch:
        batch.drop_column("expires_at")


def _has_events() -> bool:
    return op.get_bind().execute(sa.select(events.c.id).limit(1)).first() is not None


def _rehash(*, check: Callable[[bytes], str], write: Callable[[bytes], str]) -> None:
    bind = op.get_bind()
    old_previous, new_previous, last_id = GENESIS_HASH, GENESIS_HASH, 0
    while True:
        rows = bind.execute(sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(PAGE)).all()
        if not rows:
            break
        for row in rows:
            if row.previous_hash != old_previous or check(_canonical(row, row.previous_hash)) != row.hash:
                raise CommandError(
                    f"the audit chain is already broken at event {row.id}; refusing to re-key it "
                    "(that would hide the tampering): investigate, then restore the chain from a backup"
                )
            new_hash = write(_canonical(row, new_previous))
            bind.execute(events.update().where(events.c.id == row.id).values(previous_hash=new_previous, hash=new_hash))
            old_previous, new_previous, last_id = row.hash, new_hash, row.id
    current = bind.execute(sa.select(head.c.last_hash).where(head.c.id == 1)).scalar_one_or_none()
    if current is not None and current != old_previous:
        raise CommandError(f"the audit head does not match the chain's last event {last_id}; refusing to re-key it")
    bind.execute(head.update().where(head.c.id == 1).values(last_hash=new_previous))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(row, previous_hash: str) -> bytes:
    moment = row.occurred_at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    content = {
        "occurred_at": moment.isoformat(timespec="microseconds"),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "detail": row.detail,
        "previous_hash": previous_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
