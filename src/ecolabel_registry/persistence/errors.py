"""The one mapping of the database drivers' errors to the domain's (`Busy`, `Unavailable`).

SQLAlchemy wraps a driver's error in its DBAPIError family; the hot path's raw connections
(persistence.hot) do the same; a few paths see the driver's own error. Whichever form it
comes in, this says what it means for the caller: another write held a lock past the wait
allowed (PostgreSQL's `lock_timeout`, SQLite's busy write lock: `Busy`, a 409 to retry), or
the database cannot answer now (a lost or refused connection, no pooled connection in time,
`statement_timeout`: `Unavailable`, a 503 to retry). Anything else is not the caller's to
retry and is left alone (a 500, logged).
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ecolabel_registry.domain.errors import Busy, DomainError, Unavailable
from ecolabel_registry.domain.messages import (
    DATABASE_SLOW,
    DATABASE_UNREACHABLE,
    LOCK_WAIT_EXPIRED,
    WRITE_LOCK_TAKEN,
)

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout passed
QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout passed (or a cancel request)
SQLITE_BUSY = 5  # the primary result code of SQLITE_BUSY and SQLITE_BUSY_SNAPSHOT

DRIVER_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout, psycopg.Error, sqlite3.Error)
"""The exception classes `domain_error` reads (the API's problem handlers register these)."""


def domain_error(exc: BaseException) -> DomainError | None:
    """What a driver's error means to the caller, or None when it is not theirs to retry."""
    if isinstance(exc, PoolTimeout):  # SQLAlchemy's pool: no connection in time
        return Unavailable(DATABASE_UNREACHABLE, retry_after=5)
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, sqlite3.OperationalError):
        code = getattr(cause, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == SQLITE_BUSY:
            return Busy(WRITE_LOCK_TAKEN, retry_after=1)
        return Unavailable(DATABASE_UNREACHABLE, retry_after=5)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return Busy(LOCK_WAIT_EXPIRED, retry_after=5)
    if sqlstate == QUERY_CANCELED:
        return Unavailable(DATABASE_SLOW, retry_after=5)
    if isinstance(cause, psycopg.OperationalError):  # psycopg_pool's PoolTimeout among them
        return Unavailable(DATABASE_UNREACHABLE, retry_after=5)
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return Unavailable(DATABASE_UNREACHABLE, retry_after=5)
    return None
