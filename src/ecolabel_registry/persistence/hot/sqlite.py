"""The hot reads on SQLite: its statements (a local file: every read is synchronous)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ecolabel_registry.persistence.hot.dialect import Statements

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


def _sqlite_events(ref: str) -> str:
    """The events of the certificate row `ref` as one JSON text, in recording order."""
    return (
        "(SELECT json_group_array(json_array(e.id, e.status, e.effective_date, e.reason, "
        "e.recorded_at)) FROM (SELECT * FROM certificate_status_event "
        f"WHERE certificate_id = {ref}.id ORDER BY id) e)"
    )


class SqliteDialect(Statements, mark="?", events=_sqlite_events):
    text_dates = True

    def instant(self, value: dt.datetime) -> Any:
        # As SQLAlchemy stores a DateTime on SQLite: naive UTC, microseconds always written.
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def many(self, keys: Sequence[tuple[str, str]]) -> tuple[str, tuple[str, ...]]:
        return _SQLITE_TERMS, (orjson.dumps(keys).decode(),)

    def rows(self, fetched: list[tuple[Any, ...]]) -> Iterable[Sequence[Any]]:
        # One JSON text of rows (see _SQLITE_TERMS).
        return orjson.loads(fetched[0][0]) if fetched and fetched[0][0] else []
