"""The audit trail's writer: one row per audited write, in the write's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.tables import AuditEventRow


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._s = session

    def record(
        self,
        *,
        actor_key_id: str,
        actor_name: str,
        operation: str,
        entity_type: str,
        entity_id: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        self._s.execute(
            insert(AuditEventRow).values(
                actor_key_id=actor_key_id,
                actor_name=actor_name,
                operation=operation,
                entity_type=entity_type,
                entity_id=entity_id,
                before=None if before is None else dict(before),
                after=None if after is None else dict(after),
            )
        )
