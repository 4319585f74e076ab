"""The hot read path of the equivalence resolver: plain SQL on one held DBAPI connection.

A single question is one statement that returns the registry's revision counter and what
the resolver reads of the certificate (its terms) together, so the cache check costs no
round trip of its own and sees exactly the same database snapshot as the certificate. No
ORM, no SQLAlchemy statement compilation, no pool checkout per request: the `async def`
handlers call this synchronously on the event loop (a primary-key lookup is shorter than a
threadpool hop).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Protocol

import anyio.to_thread
import orjson
import structlog
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import (
    Certificate,
    CertificateTerms,
    ProductCategory,
    StatusChange,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import RegistryFacts
from ecolabel_registry.persistence import revisions
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.repositories import certificate_from_row
from ecolabel_registry.persistence.tables import RegistryRevisionLogRow
from ecolabel_registry.persistence.versions import SqlFactVersions
from ecolabel_registry.services.ports.equivalence import FactChanges, FactsCache

log = structlog.get_logger("ecolabel_registry.resolver_cache")

# Point lookups never gain from JIT compilation, and without fresh statistics (a bulk load
# not yet analyzed) the planner's cost estimates can make it compile one for tens of ms.
_NO_JIT = "SET jit = off"


class HotReads:
    """The hot reads' DBAPI connections, over the app's bind (an engine, or a test's
    connection: the same reader either way).

    Over an engine, `held` readers (the single question) keep one connection of the engine's
    pool between requests, in autocommit mode, so every statement reads the latest committed
    data; the others (the batch, whose later chunks are read on a second thread, and the
    markets) take a pooled connection for each read. Over a connection (a test's, in its
    transaction), every read is made on it, so the test's own transaction is what is read.
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
        self.dialect: TermsDialect = _Sqlite() if bind.dialect.name == "sqlite" else _Postgres()
        self._pool: _AsyncPostgresPool | None = None
        if isinstance(bind, Engine) and isinstance(self.dialect, _Postgres) and async_pool_size:
            self._pool = _AsyncPostgresPool(bind, async_pool_size, connect_timeout)

    def session(self) -> Session:
        """An ORM session over the same bind (the rare reads of the small facts)."""
        return Session(self.bind)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement's rows, without blocking the event loop on PostgreSQL's answer.

        PostgreSQL over an engine: on a small pool of asynchronous connections, so that the
        worker answers other requests while one waits for the database. SQLite (a local file,
        a lookup of some microseconds) and a test's connection: synchronously.
        """
        if self._pool is not None:
            return await self._pool.fetch(sql, params)
        with self.connection() as conn:
            rows: list[tuple[Any, ...]] = conn.fetch(sql, params)
        return rows

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A DBAPI connection; driver errors come out as SQLAlchemy's DBAPIError family."""
        bind = self.bind
        if isinstance(bind, Connection):
            with self._lock:
                yield _wrapping(bind.connection.dbapi_connection)
            return
        if not self._held_mode:
            pooled = bind.raw_connection()
            try:
                conn = _wrapping(pooled.dbapi_connection)
                self.dialect.borrowed(conn)
                yield conn
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    pooled.invalidate()
                raise
            finally:
                pooled.close()
            return
        with self._lock:
            held = self._held
            if held is None:
                held = bind.raw_connection()
                self.dialect.held(held.dbapi_connection)
                self._held = held
            try:
                yield _wrapping(held.dbapi_connection)
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


class _AsyncPostgresPool:
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
        # A connection cut while idle (a database restart) fails its next statement: the
        # pool drops it, and the statement is tried once more on a new one, as a pre-ping
        # would, without a ping's round trip on every request.
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    cursor = await conn.execute(sql, params)
                    rows: list[tuple[Any, ...]] = await cursor.fetchall()
                    return rows
            except PoolTimeout as exc:  # no connection could be made in time
                raise DBAPIError.instance(
                    sql, list(params), exc, psycopg.Error, connection_invalidated=True
                ) from exc
            except psycopg.OperationalError as exc:
                lost = _connection_lost(exc)
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
    """Whether the statement failed because its connection was gone (not for its own sake)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08")  # class 08: connection exception


class _Wrapped:
    """A DBAPI connection whose execute() turns driver errors into SQLAlchemy's."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str) -> None:
        """A statement without rows (a setting)."""
        self._run(sql, (), fetch=False)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._run(sql, params, fetch=True)

    def _run(self, sql: str, params: Sequence[Any], fetch: bool) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(sql, params)
                if fetch:
                    rows = cursor.fetchall()
            finally:
                cursor.close()
        except DBAPIError:
            raise
        except Exception as exc:
            base = _dbapi_error_base(exc)
            if base is None:
                raise
            raise DBAPIError.instance(
                sql, list(params), exc, base, connection_invalidated=_is_disconnect(exc)
            ) from exc
        return rows


def _wrapping(conn: Any) -> _Wrapped:
    return _Wrapped(conn)


def _dbapi_error_base(exc: Exception) -> type[Exception] | None:
    module = type(exc).__module__.split(".")[0]
    if module == "sqlite3":
        import sqlite3

        return sqlite3.Error
    if module == "psycopg":
        import psycopg

        return psycopg.Error
    return None


def _is_disconnect(exc: Exception) -> bool:
    return type(exc).__name__ in ("OperationalError", "InterfaceError")


class HotFacts:
    """The resolver's facts and certificate terms (CertificateSource of
    services.ports.equivalence): the one reader of certificate terms, with plain SQL."""

    def __init__(self, reads: HotReads) -> None:
        self._r = reads
        self._d = reads.dialect

    def revision(self) -> int:
        with self._r.connection() as conn:
            rows = conn.fetch(_REVISION_SQL, ())
        return int(rows[0][0]) if rows else 0

    async def revision_async(self) -> int:
        """`revision` without blocking the event loop on PostgreSQL."""
        rows = await self._r.fetch(_REVISION_SQL, ())
        return int(rows[0][0]) if rows else 0

    def load(self) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        """The small facts, through the ORM repositories (rare: the first snapshot, or when
        the change log cannot say what changed)."""
        with self._r.session() as session:
            return SqlFacts(session).load()

    def changes(self, since: int) -> FactChanges | None:
        """The facts written since revision `since`, through the ORM repositories."""
        with self._r.session() as session:
            return SqlFacts(session).changes(since)

    # The registry as recorded (services.ports.equivalence.RecordedSource, ADR 0007)

    def recorded_revision(self, instant: dt.datetime) -> tuple[int, int] | None:
        """The last revision recorded at or before `instant`, and the last revision at or
        before that one which recorded a fact version: one statement."""
        with self._r.connection() as conn:
            rows = conn.fetch(self._d.recorded_sql, (self._d.instant(instant),))
        if not rows:
            return None
        return int(rows[0][0]), int(rows[0][1] or 0)

    def first_recorded(self) -> dt.datetime | None:
        with self._r.session() as session:
            first = session.execute(select(func.min(RegistryRevisionLogRow.recorded_at))).scalar()
        return None if first is None else revisions.utc(first)

    def past_load(
        self, revision: int
    ) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        with self._r.session() as session:
            return SqlFactVersions(session).load_at(revision)

    def past_changes(self, base: int, revision: int, limit: int) -> FactChanges | None:
        with self._r.session() as session:
            return SqlFactVersions(session).changes_between(base, revision, limit)

    def terms_as_recorded(
        self, keys: Iterable[tuple[str, str]], revision: int
    ) -> dict[tuple[str, str], CertificateTerms]:
        """The certificates' terms as recorded at `revision`: the current row when it was
        recorded by then, else the history row in force then (one statement a key)."""
        build = _TermsBuilder(self._d.text_dates)
        found: dict[tuple[str, str], CertificateTerms] = {}
        sql = self._d.as_recorded_sql
        with self._r.connection() as conn:
            for scheme_id, number in dict.fromkeys(keys):
                rows = conn.fetch(
                    sql, (scheme_id, number, revision, scheme_id, number, revision, revision)
                )
                found.update(build.terms(rows[:1]))
        return found

    def terms_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """The revision counter and what the resolver reads of one certificate: one
        statement, one index lookup (the status history is on the certificate's row)."""
        with self._r.connection() as conn:
            rows = conn.fetch(self._d.single_sql, (scheme_id, number))
        return self._single(rows)

    async def version_and_revision(self, scheme_id: str, number: str) -> tuple[int, int | None]:
        """The revision counter and one certificate's version (None when there is no such
        certificate), read together: what a page made of both depends on."""
        rows = await self._r.fetch(self._d.version_sql, (scheme_id, number))
        if not rows:
            return 0, None
        version = rows[0][1]
        return int(rows[0][0] or 0), None if version is None else int(version)

    async def certificate_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, Certificate | None]:
        """The revision counter and one whole certificate with its status history: one
        statement (the events aggregated as JSON in the certificate's row)."""
        rows = await self._r.fetch(self._d.certificate_sql, (scheme_id, number))
        if not rows:
            return 0, None
        revision = int(rows[0][0] or 0)
        if rows[0][1] is None:
            return revision, None
        return revision, self._certificate(rows[0][1:])

    def _certificate(self, row: Sequence[Any]) -> Certificate:
        text_dates = self._d.text_dates
        fields = dict(zip(_WHOLE_NAMES, row, strict=True))
        for name in ("gtins", "hs_codes"):
            fields[name] = orjson.loads(fields[name] or "[]")
        if text_dates:
            for name in ("valid_from", "valid_to"):
                fields[name] = dt.date.fromisoformat(fields[name])
        events = tuple(
            StatusEvent(
                status=status,
                effective_date=dt.date.fromisoformat(effective),
                reason=reason,
                id=str(event_id),
                recorded_at=None if recorded is None else _timestamp(recorded),
            )
            for event_id, status, effective, reason, recorded in orjson.loads(
                fields.pop("events") or "[]"
            )
        )
        return certificate_from_row(SimpleNamespace(**fields), events)

    async def terms_and_revision_async(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """`terms_and_revision` without blocking the event loop on PostgreSQL."""
        return self._single(await self._r.fetch(self._d.single_sql, (scheme_id, number)))

    def _single(self, rows: list[tuple[Any, ...]]) -> tuple[int, CertificateTerms | None]:
        if not rows:
            return 0, None
        revision = int(rows[0][0] or 0)
        if rows[0][1] is None:
            return revision, None
        found = _TermsBuilder(self._d.text_dates).terms([rows[0][1:]])
        return revision, next(iter(found.values()))

    def certificate_terms(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CertificateTerms]:
        """What the resolver reads of many certificates: one statement per 10,000 keys.

        The keys go in as JSON lists (one parameter each, whatever their number) and each
        certificate comes back as one row of only the columns recognition depends on, its
        status history as the JSON text of its own `status_changes` column, which orjson
        decodes (far fewer rows, bytes and look-ups than whole certificates with their
        events).
        """
        wanted = list(set(keys))
        build = _TermsBuilder(self._d.text_dates)
        found: dict[tuple[str, str], CertificateTerms] = {}
        with self._r.connection() as conn:
            for start in range(0, len(wanted), _MANY_CHUNK):
                sql, params = self._d.many(wanted[start : start + _MANY_CHUNK])
                found.update(build.terms(self._d.rows(conn.fetch(sql, params))))
        return found


class TermsDialect(Protocol):
    """What differs between the databases in reading certificate terms."""

    text_dates: bool
    """Whether dates come back as ISO text (SQLite) rather than `date`s."""

    @property
    def single_sql(self) -> str:
        """The revision counter and one certificate's terms (parameters: scheme, number)."""
        ...

    @property
    def version_sql(self) -> str:
        """The revision counter and one certificate's version (parameters: scheme, number)."""
        ...

    @property
    def certificate_sql(self) -> str:
        """The revision counter and one whole certificate (parameters: scheme, number)."""
        ...

    def many(self, keys: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
        """The statement and parameters reading the terms of `keys`."""
        ...

    def rows(self, fetched: list[tuple[Any, ...]]) -> Iterable[Sequence[Any]]:
        """The terms rows of what `many`'s statement returned."""
        ...

    @property
    def recorded_sql(self) -> str:
        """The revision recorded last at or before an instant, and its facts' revision."""
        ...

    @property
    def as_recorded_sql(self) -> str:
        """One certificate's terms as recorded at a revision (scheme, number, revision,
        scheme, number, revision, revision)."""
        ...

    def instant(self, value: dt.datetime) -> Any:
        """An instant as the driver compares it with `recorded_at`."""
        ...

    def held(self, raw: Any) -> None:
        """Set up a connection held between reads."""
        ...

    def borrowed(self, conn: _Wrapped) -> None:
        """Set up a pooled connection for one read (in its transaction)."""
        ...


# Only the columns recognition depends on; the status history comes from the certificate's
# own row (`status_changes`, kept by every write of events), so that each certificate is one
# index lookup and one heap row, with no look-up of its events.
_TERMS = (
    "c.scheme_id, c.number, c.category_code, c.valid_from, c.valid_to, "
    "CAST(c.hs_codes AS TEXT), c.status_changes"
)
# The single question's columns; the batch's on SQLite are the same, as JSON (_SQLITE_TERMS).
# PostgreSQL: the keys as two JSON lists zipped into rows.
_PG_TERMS = (
    f"SELECT {_TERMS} "
    "FROM ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json)) "
    "AS k(scheme_id, number) "
    "JOIN certificate c ON c.scheme_id = k.scheme_id AND c.number = k.number"
)
# SQLite: the keys as one JSON list of pairs, looked up one by one in the unique index, and
# the rows aggregated into one JSON text. sqlite3 releases the GIL while SQLite runs, but
# takes it back for every row it returns: one row is one hand-off, not thousands, so that a
# read on the batch's second thread runs beside the answering instead of queueing behind it
# for the GIL at every row (at 1M certificates, 90 ms of waiting a batch).
_SQLITE_TERMS = (
    "SELECT json_group_array(json_array(c.scheme_id, c.number, c.category_code, "
    "c.valid_from, c.valid_to, c.hs_codes, c.status_changes)) "
    "FROM json_each(?) AS k CROSS JOIN certificate c "
    "WHERE c.scheme_id = json_extract(k.value, '$[0]') "
    "AND c.number = json_extract(k.value, '$[1]')"
)
_MANY_CHUNK = 10_000


_REVISION_SQL = "SELECT revision FROM registry_revision WHERE id = 1"
# A whole certificate (what `repositories.certificate_from_row` reads), its events as JSON.
_WHOLE_NAMES = (
    "scheme_id",
    "number",
    "category_code",
    "holder_name",
    "holder_economy",
    "product_name",
    "brand",
    "model",
    "gtins",
    "hs_codes",
    "certification_body_id",
    "valid_from",
    "valid_to",
    "version",
    "events",
)
_WHOLE = ", ".join(
    f"CAST(c.{name} AS TEXT)" if name in ("gtins", "hs_codes") else f"c.{name}"
    for name in _WHOLE_NAMES[:-1]
)
_PG_EVENTS = (
    "(SELECT CAST(json_agg(json_build_array(e.id, e.status, e.effective_date, e.reason, "
    "e.recorded_at) ORDER BY e.id) AS TEXT) "
    "FROM certificate_status_event e WHERE e.certificate_id = c.id)"
)
_SQLITE_EVENTS = (
    "(SELECT json_group_array(json_array(e.id, e.status, e.effective_date, e.reason, "
    "e.recorded_at)) FROM (SELECT * FROM certificate_status_event "
    "WHERE certificate_id = c.id ORDER BY id) e)"
)


def _timestamp(text: str) -> dt.datetime:
    """A recorded_at as JSON holds it (PostgreSQL's ISO form, or SQLite's stored text)."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _single_sql(mark: str, columns: str = _TERMS) -> str:
    return (
        f"SELECT r.revision, {columns} FROM registry_revision r "
        f"LEFT JOIN certificate c ON c.scheme_id = {mark} AND c.number = {mark} "
        "WHERE r.id = 1"
    )


def _recorded_sql(mark: str) -> str:
    return (
        "SELECT l.revision, (SELECT max(v.recorded_revision) FROM fact_version v "
        "WHERE v.recorded_revision <= l.revision) FROM registry_revision_log l "
        f"WHERE l.recorded_at <= {mark} ORDER BY l.recorded_at DESC LIMIT 1"
    )


def _as_recorded_sql(mark: str) -> str:
    return (
        f"SELECT {_TERMS} FROM certificate c WHERE c.scheme_id = {mark} AND c.number = {mark} "
        f"AND c.recorded_revision <= {mark} UNION ALL "
        f"SELECT {_TERMS} FROM certificate_history c WHERE c.scheme_id = {mark} "
        f"AND c.number = {mark} AND c.recorded_revision <= {mark} "
        f"AND c.superseded_revision > {mark}"
    )


class _Postgres:
    text_dates = False
    single_sql = _single_sql("%s")
    recorded_sql = _recorded_sql("%s")
    as_recorded_sql = _as_recorded_sql("%s")

    version_sql = _single_sql("%s", "c.version")
    certificate_sql = _single_sql("%s", f"{_WHOLE}, {_PG_EVENTS}")

    def instant(self, value: dt.datetime) -> Any:
        return value

    def many(self, keys: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
        schemes = orjson.dumps([k[0] for k in keys]).decode()
        return _PG_TERMS, (schemes, orjson.dumps([k[1] for k in keys]).decode())

    def rows(self, fetched: list[tuple[Any, ...]]) -> Iterable[Sequence[Any]]:
        return fetched

    def held(self, raw: Any) -> None:
        raw.autocommit = True  # each read sees the latest commit; no idle transaction
        raw.execute(_NO_JIT)

    def borrowed(self, conn: _Wrapped) -> None:
        conn.execute("SET LOCAL jit = off")  # until the pool's rollback on return


class _Sqlite:
    text_dates = True
    single_sql = _single_sql("?")
    recorded_sql = _recorded_sql("?")
    as_recorded_sql = _as_recorded_sql("?")

    version_sql = _single_sql("?", "c.version")
    certificate_sql = _single_sql("?", f"{_WHOLE}, {_SQLITE_EVENTS}")

    def instant(self, value: dt.datetime) -> Any:
        # As SQLAlchemy stores a DateTime on SQLite: naive UTC, microseconds always written.
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def many(self, keys: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
        return _SQLITE_TERMS, (orjson.dumps(keys).decode(),)

    def rows(self, fetched: list[tuple[Any, ...]]) -> Iterable[Sequence[Any]]:
        # One JSON text of rows (see _SQLITE_TERMS).
        return orjson.loads(fetched[0][0]) if fetched and fetched[0][0] else []

    def held(self, raw: Any) -> None:
        pass

    def borrowed(self, conn: _Wrapped) -> None:
        pass


class _TermsBuilder:
    """`CertificateTerms` from rows of `_PG_TERMS` / `_SQLITE_TERMS`, with the repeated
    values (dates, JSON lists, status histories) converted once per read, not once per row."""

    def __init__(self, text_dates: bool) -> None:
        self._text_dates = text_dates
        self._dates: dict[str, dt.date] = {}
        self._lists: dict[str | None, tuple[str, ...]] = {"[]": (), None: (), "": ()}
        self._changes: dict[tuple[str, str], StatusChange] = {}
        self._histories: dict[str | None, tuple[StatusChange, ...]] = {None: (), "[]": ()}

    def _date(self, text: str) -> dt.date:
        day = self._dates.get(text)
        if day is None:
            day = self._dates[text] = dt.date.fromisoformat(text)
        return day

    def _list(self, text: str) -> tuple[str, ...]:
        value = self._lists[text] = tuple(orjson.loads(text) or ())
        return value

    def _history(self, text: str) -> tuple[StatusChange, ...]:
        changes, out = self._changes, []
        for status, effective in orjson.loads(text):
            change = changes.get((status, effective))
            if change is None:
                change = changes[(status, effective)] = StatusChange(status, self._date(effective))
            out.append(change)
        history = self._histories[text] = tuple(out)
        return history

    def terms(self, rows: Iterable[Sequence[Any]]) -> dict[tuple[str, str], CertificateTerms]:
        out: dict[tuple[str, str], CertificateTerms] = {}
        lists, dates, histories = self._lists, self._dates, self._histories
        text_dates = self._text_dates
        for scheme_id, number, category_code, valid_from, valid_to, hs_codes, history in rows:
            if text_dates:
                valid_from = dates.get(valid_from) or self._date(valid_from)
                valid_to = dates.get(valid_to) or self._date(valid_to)
            hs = lists.get(hs_codes)
            if hs is None:
                hs = self._list(hs_codes)
            changes = histories.get(history)
            if changes is None:
                changes = self._history(history)
            out[(scheme_id, number)] = CertificateTerms(
                scheme_id, number, category_code, valid_from, valid_to, hs, changes
            )
        return out


async def warm_resolver_cache(cache: FactsCache, reads: HotReads) -> None:
    """Build the resolver's snapshot before the first question (seconds on a large registry).

    A failure is logged, not raised: the first question then builds it (and answers 503 if
    the database is still unreachable).
    """
    try:
        await anyio.to_thread.run_sync(cache.get, HotFacts(reads))
    except Exception as exc:
        log.warning("resolver cache not warmed", error=str(exc)[:200])
