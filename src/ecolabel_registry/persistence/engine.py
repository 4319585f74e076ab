"""Engine set-up for SQLite and PostgreSQL, and one transaction over a session (`unit_of_work`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from ecolabel_registry.settings import Settings


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def configure_sqlite_connection(dbapi_connection: Any) -> None:
    """Foreign keys on, and a lower() that folds all of Unicode as PostgreSQL's does."""
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    configure_sqlite_connection(dbapi_connection)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine for the configured database: SQLite with foreign keys and WAL, or PostgreSQL."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        ensure_sqlite_directory(url)
        engine = create_engine(url, **overrides)
        event.listen(engine, "connect", _sqlite_pragmas)
        if url.database not in (None, "", ":memory:"):
            event.listen(engine, "first_connect", _sqlite_wal)
        return engine
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_pre_ping": True,
        "connect_args": {
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": postgres_session_options(settings),
        },
    }
    options.update(overrides)
    return create_engine(url, **options)


def postgres_session_options(settings: Settings) -> str:
    """The PostgreSQL session settings of every connection: how long a lock, a statement or a
    transaction left idle may last (a stalled client's transaction is ended by the server).
    """
    limits = {
        "lock_timeout": settings.db_lock_timeout_seconds,
        "statement_timeout": settings.db_statement_timeout_seconds,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout_seconds,
    }
    return " ".join(f"-c {name}={round(seconds * 1000)}" for name, seconds in limits.items())


def ensure_sqlite_directory(url: URL) -> None:
    """Create the folder of a SQLite database file when it does not exist yet."""
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def unit_of_work(new_session: Callable[[], Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises (a
    request's, in `api/deps.py`; a command's, in `cli`)."""
    with new_session() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
