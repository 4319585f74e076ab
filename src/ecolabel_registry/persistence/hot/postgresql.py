"""The hot reads on PostgreSQL: its statements, and the pool of asynchronous connections."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from ecolabel_registry.persistence.hot.dialect import TERMS, Statements, Wrapped

# Point lookups never gain from JIT compilation, and without fresh statistics (a bulk load
# not yet analyzed) the planner's cost estimates can make it compile one for tens of ms.
_NO_JIT = "SET jit = off"

# The single question's columns; the batch's on SQLite are the same, as JSON (_SQLITE_TERMS).
# PostgreSQL: the keys as two JSON lists zipped into rows.
_PG_TERMS = (
    f"SELECT {TERMS} "
    "FROM ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json)) "
    "AS k(scheme_id, number) "
    "JOIN certificate c ON c.scheme_id = k.scheme_id AND c.number = k.number"
)


def _pg_events(ref: str) -> str:
    """The events of the certificate row `ref` as one JSON text, in recording order."""
    return (
        "(SELECT CAST(json_agg(json_build_array(e.id, e.status, e.effective_date, e.reason, "
        "e.recorded_at) ORDER BY e.id) AS TEXT) "
        f"FROM certificate_status_event e WHERE e.certificate_id = {ref}.id)"
    )


class PostgresDialect(Statements, mark="%s", events=_pg_events):
    text_dates = False

    def many(self, keys: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
        schemes = orjson.dumps([k[0] for k in keys]).decode()
        return _PG_TERMS, (schemes, orjson.dumps([k[1] for k in keys]).decode())

    def held(self, raw: Any) -> None:
        raw.autocommit = True  # each read sees the latest commit; no idle transaction
        raw.execute(_NO_JIT)

    def borrowed(self, conn: Wrapped) -> None:
        conn.execute("SET LOCAL jit = off")  # until the pool's rollback on return


UNREACHABLE_WAIT_SECONDS = 0.25
"""How long a statement waits for a connection while the database is unreachable."""


class AsyncPostgresPool:
    """psycopg_pool's AsyncConnectionPool of autocommit connections, one per event loop.

    An asyncio pool belongs to the loop it was opened on. A served process has one loop; an
    app whose lifespan runs in several (two test clients over one app) gets a pool for each,
    each opened on first use in its loop and closed by the lifespan that ends there.
    """

    def __init__(self, engine: Engine, size: int, connect_timeout: int) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._size = size
        self._timeout = connect_timeout
        self._pools: dict[asyncio.AbstractEventLoop, Any] = {}
        self._unreachable = False
        self._connect_errors = 0

    async def _pool(self) -> Any:
        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = AsyncConnectionPool(
                self._conninfo,
                min_size=0,
                max_size=self._size,
                kwargs={"autocommit": True, "connect_timeout": self._timeout},
                configure=_configure,
                timeout=self._timeout,
                open=False,
                name="hot-reads",
            )
            self._pools[loop] = pool
            await pool.open()
        return pool

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        import psycopg
        from psycopg_pool import PoolTimeout

        pool = await self._pool()
        # While the database looks unreachable (a connection of the pool was cut, or the
        # pool failed to connect), a statement waits for a connection only briefly: a 503 at
        # once rather than after the whole timeout. The first statement that runs clears it.
        # A connection cut while idle (a database restart) fails its next statement: the
        # pool drops it, and the statement is tried once more on a new one, as a pre-ping
        # would, without a ping's round trip on every request.
        for attempt in (1, 2):
            wait = UNREACHABLE_WAIT_SECONDS if self._unreachable else None
            try:
                async with pool.connection(timeout=wait) as conn:
                    cursor = await conn.execute(sql, params)
                    rows: list[tuple[Any, ...]] = await cursor.fetchall()
                    self._unreachable = False
                    return rows
            except PoolTimeout as exc:  # no connection could be made in time
                errors = pool.get_stats().get("connections_errors", 0)
                self._unreachable = self._unreachable or errors > self._connect_errors
                self._connect_errors = errors
                # As the engine's pool says it: an OperationalError (a 503 that names it).
                failure = psycopg.OperationalError(f"no connection to the database: {exc}")
                raise DBAPIError.instance(
                    sql, list(params), failure, psycopg.Error, connection_invalidated=True
                ) from exc
            except psycopg.OperationalError as exc:
                lost = _connection_lost(exc)
                self._unreachable = self._unreachable or lost
                if attempt == 1 and lost:
                    continue
                raise DBAPIError.instance(
                    sql, list(params), exc, psycopg.Error, connection_invalidated=lost
                ) from exc
            except psycopg.Error as exc:
                raise DBAPIError.instance(sql, list(params), exc, psycopg.Error) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the pool of the running loop (each lifespan closes its own)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()


async def _configure(conn: Any) -> None:
    await conn.execute(_NO_JIT)


def _connection_lost(exc: Exception) -> bool:
    """Whether the statement failed because its connection was gone (not for its own sake):
    SQLSTATE class 08 (connection exception), or the server shutting down or starting up
    (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _GOING_AWAY


_GOING_AWAY = frozenset({"57P01", "57P02", "57P03"})
