from pathlib import Path

import pytest
from sqlalchemy import text

from ..core.db import SQLITE_CACHE_KIB, make_engine

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent


def test_sqlite_connections_are_configured_for_concurrent_readers_and_large_imports(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'stack.db'}")
    with engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size")
        }
    engine.dispose()
    # synchronous 1 is NORMAL: durable at checkpoints, which WAL makes safe against corruption.
    assert pragma == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "cache_size": -SQLITE_CACHE_KIB}
