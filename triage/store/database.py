"""Engine and migrations. SQLite (a file under ``var/``, WAL) by default; any SQLAlchemy URL otherwise,
PostgreSQL tested (``postgresql+psycopg://…``). ``open_engine`` upgrades the schema to the latest migration.

The database is a dependency that can go away: ``unavailable`` tells a lost or refused connection from other
database errors (``Store.session`` turns it into ``StoreError``, HTTP 503). Pooled connections are checked
before use (``pool_pre_ping``), so requests recover by themselves once the database is back."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError

from triage.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT_S = 5  # a database host that does not answer fails the request instead of hanging it


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (down, restarting, refused, dropped connection, SQLite file locked or
    unreadable), as opposed to a query it rejected."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged commit is on disk
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created. Raises ``StoreError`` for a bad URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"TRIAGE_DATABASE_URL is not a database URL ({exc}); e.g. "
                         "'sqlite:///var/triage.db' or 'postgresql+psycopg://user@127.0.0.1:5432/triage'") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 10}, pool_pre_ping=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(parsed, pool_size=20, max_overflow=40, pool_pre_ping=True, connect_args=connect_args)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Held by one process at a time across every process and replica on this database: a PostgreSQL advisory
    lock, or an flock on a file beside the SQLite database (other databases: no lock)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
    elif url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        with open(f"{url.database}.{name}.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    else:
        yield


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (idempotent; safe at every start, and when replicas start
    together: one migrates while the others wait, then finds nothing to do)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with exclusive(engine, "migrate"), engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as exc:
        if not unavailable(exc):
            raise
        raise StoreError(f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
                         f"{exc.orig}") from exc


def open_engine(url: str) -> Engine:
    engine = create(url)
    migrate(engine)
    return engine
