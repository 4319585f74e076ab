"""Plain SQL on a session's DBAPI connection, in the session's transaction.

For the few statements on a hot path where SQLAlchemy's execution (and the ORM's) costs
far more than the database does: a decision's insert, an API key's look-up. Driver errors
come out as SQLAlchemy's DBAPIError family, as from any other statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def run_sql(
    session: Session, sql: str, params: Sequence[Any], fetch: bool = False
) -> list[tuple[Any, ...]]:
    """`sql` (parameters marked `?`) with `params`; its rows with `fetch`. A datetime
    parameter is written as SQLAlchemy writes a DateTime (on SQLite: naive UTC text)."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        params = [_sqlite_value(v) for v in params]
    else:
        sql = sql.replace("?", "%s")
    dbapi = dialect.loaded_dbapi
    rows: list[tuple[Any, ...]] = []
    try:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            if fetch:
                rows = list(cursor.fetchall())
        finally:
            cursor.close()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, list(params), exc, dbapi.Error) from exc
    return rows


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # As SQLAlchemy stores a DateTime on SQLite: naive UTC, microseconds always written.
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def datetime_of(value: Any) -> dt.datetime | None:
    """A DateTime column's value as read: SQLite gives back naive UTC text."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))
