"""What both databases share on the hot read path: the protocol of a dialect, the SQL they
have in common (each builds its own from it), and DBAPI connections raising SQLAlchemy's
errors."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from ecolabel_registry.persistence.repositories.certificates import WHOLE_NAMES


class TermsDialect(Protocol):
    """What differs between the databases in reading certificate terms."""

    text_dates: bool
    """Whether dates come back as ISO text (SQLite) rather than `date`s."""

    mark: str
    """The driver's parameter mark (`?` or `%s`)."""

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

    @property
    def listed_columns(self) -> str:
        """A whole certificate of the `certificate` table, as a list of them reads it: its
        id, then the columns of `certificate_sql` (`WHOLE_NAMES`), its events as JSON."""
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
        """One certificate's terms as recorded at a revision (scheme, number, scheme,
        number, revision, revision)."""
        ...

    @property
    def recorded_terms_sql(self) -> str:
        """`recorded_sql` and `as_recorded_sql` in one statement: the revision recorded last
        at or before an instant, its facts' revision, and one certificate's terms as recorded
        then, or NULLs (instant, scheme, number, scheme, number); no row for an instant
        before the first revision."""
        ...

    def instant(self, value: dt.datetime) -> Any:
        """An instant as the driver compares it with `recorded_at`."""
        ...

    def held(self, raw: Any) -> None:
        """Set up a connection held between reads."""
        ...

    def borrowed(self, conn: Wrapped) -> None:
        """Set up a pooled connection for one read (in its transaction)."""
        ...


# Only the columns recognition depends on; the status history comes from the certificate's
# own row (`status_changes`, kept by every write of events), so that each certificate is one
# index lookup and one heap row, with no look-up of its events.
TERMS = (
    "c.scheme_id, c.number, c.category_code, c.valid_from, c.valid_to, "
    "CAST(c.hs_codes AS TEXT) AS hs_codes, c.status_changes"
)
TERMS_NAMES = "scheme_id, number, category_code, valid_from, valid_to, hs_codes, status_changes"
MANY_CHUNK = 10_000


REVISION_SQL = "SELECT revision FROM registry_revision WHERE id = 1"


def whole(ref: str) -> str:
    """The columns of `WHOLE_NAMES` but the events, of the certificate row named `ref`."""
    return ", ".join(
        f"CAST({ref}.{name} AS TEXT)" if name in ("gtins", "hs_codes") else f"{ref}.{name}"
        for name in WHOLE_NAMES[:-1]
    )


WHOLE = whole("c")


def _single_sql(mark: str, columns: str = TERMS) -> str:
    return (
        f"SELECT r.revision, {columns} FROM registry_revision r "
        f"LEFT JOIN certificate c ON c.scheme_id = {mark} AND c.number = {mark} "
        "WHERE r.id = 1"
    )


def _recorded_sql(mark: str) -> str:
    return (
        "SELECT l.revision, (SELECT max(v.recorded_revision) FROM fact_version v "
        "WHERE v.recorded_revision <= l.revision) AS facts FROM registry_revision_log l "
        f"WHERE l.recorded_at <= {mark} ORDER BY l.recorded_at DESC LIMIT 1"
    )


def _versions_sql(mark: str) -> str:
    """Every recorded version of one certificate (scheme, number, scheme, number): its
    current row and its history rows, each with the revisions it was in force from (`since`)
    and until (`until`, NULL for the current row)."""
    return (
        f"SELECT {TERMS}, c.recorded_revision AS since, NULL AS until FROM certificate c "
        f"WHERE c.scheme_id = {mark} AND c.number = {mark} UNION ALL "
        f"SELECT {TERMS}, c.recorded_revision, c.superseded_revision FROM certificate_history c "
        f"WHERE c.scheme_id = {mark} AND c.number = {mark}"
    )


_IN_FORCE = "t.since <= {revision} AND (t.until IS NULL OR t.until > {revision})"
_VERSION_TERMS = ", ".join(f"t.{name}" for name in TERMS_NAMES.split(", "))


def _as_recorded_sql(mark: str) -> str:
    in_force = _IN_FORCE.format(revision=mark)
    return f"SELECT {_VERSION_TERMS} FROM ({_versions_sql(mark)}) t WHERE {in_force}"


def _recorded_terms_sql(mark: str) -> str:
    # The revision row joined to the certificate's version in force at it: no LATERAL, so
    # that one statement serves both databases.
    in_force = _IN_FORCE.format(revision="l.revision")
    return (
        f"SELECT l.revision, l.facts, {_VERSION_TERMS} FROM ({_recorded_sql(mark)}) l "
        f"LEFT JOIN ({_versions_sql(mark)}) t ON {in_force}"
    )


class Statements:
    """A dialect's statements, built from its parameter mark and its events subquery of the
    certificate row it is given (`class X(Statements, mark="?", events=...)`), and the
    defaults of `TermsDialect`: rows and instants as the driver gives and takes them,
    connections used as they come."""

    mark: str
    single_sql: str
    recorded_sql: str
    as_recorded_sql: str
    recorded_terms_sql: str
    version_sql: str
    certificate_sql: str
    listed_columns: str

    def __init_subclass__(cls, *, mark: str, events: Callable[[str], str], **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.mark = mark
        cls.single_sql = _single_sql(mark)
        cls.recorded_sql = _recorded_sql(mark)
        cls.as_recorded_sql = _as_recorded_sql(mark)
        cls.recorded_terms_sql = _recorded_terms_sql(mark)
        cls.version_sql = _single_sql(mark, "c.version")
        cls.certificate_sql = _single_sql(mark, f"{WHOLE}, {events('c')}")
        cls.listed_columns = f"certificate.id, {whole('certificate')}, {events('certificate')}"

    def instant(self, value: dt.datetime) -> Any:
        return value

    def rows(self, fetched: list[tuple[Any, ...]]) -> Iterable[Sequence[Any]]:
        return fetched

    def held(self, raw: Any) -> None:
        pass

    def borrowed(self, conn: Wrapped) -> None:
        pass


_PROGRESS_STEPS = 2_000
"""SQLite virtual machine instructions between two looks at a statement's clock (some
microseconds of work)."""


class Wrapped:
    """A DBAPI connection whose execute() turns driver errors into SQLAlchemy's."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str) -> None:
        """A statement without rows (a setting)."""
        self._run(sql, (), fetch=False)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._run(sql, params, fetch=True)

    def fetch_within(
        self, sql: str, params: Sequence[Any], seconds: float
    ) -> list[tuple[Any, ...]] | None:
        """`fetch`, or None when the statement ran longer than `seconds` and was stopped (a
        SQLite connection: its progress handler; any other statement runs to its end)."""
        conn = self._conn
        if not hasattr(conn, "set_progress_handler"):
            return self.fetch(sql, params)
        deadline = time.perf_counter() + seconds
        stopped = False

        def progress() -> int:
            nonlocal stopped
            stopped = time.perf_counter() > deadline
            return stopped

        conn.set_progress_handler(progress, _PROGRESS_STEPS)
        try:
            return self.fetch(sql, params)
        except DBAPIError:
            if stopped:  # "interrupted": SQLite stopped it at the handler's word
                return None
            raise
        finally:
            conn.set_progress_handler(None, _PROGRESS_STEPS)

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


def wrapping(conn: Any) -> Wrapped:
    return Wrapped(conn)


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
