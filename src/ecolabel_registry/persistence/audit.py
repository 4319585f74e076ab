"""Reading the audit table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.tables import AuditEventRow
from ecolabel_registry.services.audit import AuditEvent, AuditFilter


class SqlAuditReader:
    def __init__(self, session: Session) -> None:
        self._s = session

    def find(self, filters: AuditFilter, after: int | None, limit: int) -> list[AuditEvent]:
        query = select(AuditEventRow).order_by(AuditEventRow.id).limit(limit)
        if after is not None:
            query = query.where(AuditEventRow.id > after)
        if filters.entity_type is not None:
            query = query.where(AuditEventRow.entity_type == filters.entity_type)
        if filters.entity_id is not None:
            query = query.where(AuditEventRow.entity_id == filters.entity_id)
        if filters.actor_key_id is not None:
            query = query.where(AuditEventRow.actor_key_id == filters.actor_key_id)
        if filters.since is not None:
            query = query.where(AuditEventRow.occurred_at >= filters.since)
        if filters.until is not None:
            query = query.where(AuditEventRow.occurred_at < filters.until)
        return [
            AuditEvent(
                id=r.id,
                occurred_at=r.occurred_at,
                actor_key_id=r.actor_key_id,
                actor_name=r.actor_name,
                operation=r.operation,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                before=r.before,
                after=r.after,
            )
            for r in self._s.execute(query).scalars()
        ]
