"""Bodies of the audit trail."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ecolabel_registry.api.schemas.common import UtcInstant
from ecolabel_registry.services.ports.audit import AuditEvent


class AuditEventRead(BaseModel):
    id: int
    occurred_at: UtcInstant
    actor_key_id: str
    actor_name: str
    operation: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventRead:
        return cls.model_validate(e, from_attributes=True)
