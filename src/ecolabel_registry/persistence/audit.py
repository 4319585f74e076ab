"""Reading the audit table (its writer is `repositories.audit.SqlAuditLog`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.repositories.base import from_row, page, where_equal
from ecolabel_registry.persistence.tables import AuditEventRow
from ecolabel_registry.services.ports.audit import AuditEvent, AuditFilter


class SqlAuditReader:
    def __init__(self, session: Session) -> None:
        self._s = session

    def find(self, filters: AuditFilter, after: int | None, limit: int) -> list[AuditEvent]:
        query = page(select(AuditEventRow), AuditEventRow.id, after, limit)
        query = where_equal(
            query,
            (AuditEventRow.entity_type, filters.entity_type),
            (AuditEventRow.entity_id, filters.entity_id),
            (AuditEventRow.actor_key_id, filters.actor_key_id),
        )
        if filters.since is not None:
            column, moment = self._instant(filters.since)
            query = query.where(column >= moment)
        if filters.until is not None:
            column, moment = self._instant(filters.until)
            query = query.where(column < moment)
        return [from_row(AuditEvent, r) for r in self._s.execute(query).scalars()]

    def _instant(self, moment: dt.datetime) -> tuple[Any, Any]:
        """`occurred_at` and a UTC instant, in forms the engine compares as instants.

        PostgreSQL compares timestamptz values. SQLite keeps `occurred_at` as the text of
        CURRENT_TIMESTAMP ("2025-03-01 10:00:00", UTC, whole seconds) and compares text:
        the instant is written the same way (SQLAlchemy would drop its offset and always add
        microseconds, so that 10:00:00 would sort after the stored 10:00:00).
        """
        if self._s.get_bind().dialect.name != "sqlite":
            return AuditEventRow.occurred_at, moment
        written = moment.strftime("%Y-%m-%d %H:%M:%S")
        if moment.microsecond:
            written += f".{moment.microsecond:06d}"
        return type_coerce(AuditEventRow.occurred_at, String), written
