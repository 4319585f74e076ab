"""The hot reads' DBAPI connections: one held between requests, pooled ones, and the
asynchronous PostgreSQL pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.hot.dialect import TermsDialect, wrapping
from ecolabel_registry.persistence.hot.postgresql import AsyncPostgresPool, PostgresDialect
from ecolabel_registry.persistence.hot.sqlite import SqliteDialect


def terms_dialect(name: str) -> TermsDialect:
    """The hot reads' statements on the database named `name` (SQLAlchemy's dialect name)."""
    return SqliteDialect() if name == "sqlite" else PostgresDialect()


class HotReads:
    """The hot reads' DBAPI connections, over an engine or over one connection.

    Over an engine, `held` readers (the single question) keep one connection of the engine's
    pool between requests, in autocommit mode, so every statement reads the latest committed
    data; the others (the batch, whose later chunks are read on a second thread, and the
    markets) take a pooled connection for each read.

    Over one connection, every read is made on it (and `held` means nothing). Production
    uses this: a page reads the registry through its request session, and
    `api.deps.session_equivalence` gives the page's equivalence service a reader over that
    session's connection, so one page never holds two pooled connections at once (many pages
    at once would otherwise take the whole pool and wait on each other). `create_app` builds
    its readers over its sessions' bind, whatever it is, so that the hot reads see what the
    sessions write: an app whose sessions are bound to one connection reads on it too.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        held: bool,
        async_pool_size: int = 0,
        connect_timeout: int = 5,
    ) -> None:
        self.bind = bind
        self._held_mode = held
        self._held: Any = None
        self._lock = threading.Lock()
        self.dialect = terms_dialect(bind.dialect.name)
        self._pool: AsyncPostgresPool | None = None
        if (
            isinstance(bind, Engine)
            and isinstance(self.dialect, PostgresDialect)
            and async_pool_size
        ):
            self._pool = AsyncPostgresPool(bind, async_pool_size, connect_timeout)

    @property
    def asynchronous(self) -> bool:
        """Whether `fetch` waits for the database without blocking the event loop (PostgreSQL
        over an engine), rather than running on it (SQLite, one connection)."""
        return self._pool is not None

    def session(self) -> Session:
        """An ORM session over the same bind (the rare reads of the small facts)."""
        return Session(self.bind)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement's rows, without blocking the event loop on PostgreSQL's answer.

        PostgreSQL over an engine: on a small pool of asynchronous connections, so that the
        worker answers other requests while one waits for the database. SQLite (a local file,
        a lookup of some microseconds) and one connection: synchronously.
        """
        if self._pool is not None:
            return await self._pool.fetch(sql, params)
        with self.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.fetch(sql, params)
        return rows

    async def fetch_briefly(
        self, sql: str, params: Sequence[Any], seconds: float
    ) -> list[tuple[Any, ...]]:
        """`fetch`, for a statement that is usually quick but may not be (a search): on
        SQLite, one that runs longer than `seconds` on the event loop is stopped there and
        run again in the threadpool, on a connection of its own, so that it holds up no
        other request. PostgreSQL's statements wait without blocking the loop anyway."""
        if self._pool is not None:
            return await self._pool.fetch(sql, params)
        with self.connection() as conn:
            rows: list[tuple[Any, ...]] | None = conn.fetch_within(sql, params, seconds)
        if rows is None:
            rows = await anyio.to_thread.run_sync(self._fetch_apart, sql, params)
        return rows

    def _fetch_apart(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement on a pooled connection (the held one stays free), or on the one
        connection of a reader over a connection."""
        with self._pooled() if isinstance(self.bind, Engine) else self.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.fetch(sql, params)
        return rows

    @contextmanager
    def _pooled(self) -> Iterator[Any]:
        assert isinstance(self.bind, Engine)
        pooled = self.bind.raw_connection()
        try:
            conn = wrapping(pooled.dbapi_connection)
            self.dialect.borrowed(conn)
            yield conn
        except DBAPIError as exc:
            if exc.connection_invalidated:
                pooled.invalidate()
            raise
        finally:
            pooled.close()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A DBAPI connection; driver errors come out as SQLAlchemy's DBAPIError family."""
        bind = self.bind
        if isinstance(bind, Connection):
            with self._lock:
                yield wrapping(bind.connection.dbapi_connection)
            return
        if not self._held_mode:
            with self._pooled() as conn:
                yield conn
            return
        with self._lock:
            held = self._held
            if held is None:
                held = bind.raw_connection()
                self.dialect.held(held.dbapi_connection)
                self._held = held
            try:
                yield wrapping(held.dbapi_connection)
            except DBAPIError:
                self._held = None
                held.invalidate()
                raise

    async def aclose(self) -> None:
        """Give the connections back (at shutdown)."""
        if self._pool is not None:
            await self._pool.close()
        with self._lock:
            if self._held is not None:
                self._held.close()
                self._held = None
