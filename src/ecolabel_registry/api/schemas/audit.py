"""Bodies of the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from ecolabel_registry.api.schemas.common import utc
from ecolabel_registry.services.audit import AuditEvent


class AuditEventRead(BaseModel):
    id: int
    occurred_at: dt.datetime
    actor_key_id: str
    actor_name: str
    operation: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventRead:
        return cls(
            id=e.id,
            occurred_at=utc(e.occurred_at),
            actor_key_id=e.actor_key_id,
            actor_name=e.actor_name,
            operation=e.operation,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            before=e.before,
            after=e.after,
        )
