"""Bodies of the audit trail."""

from __future__ import annotations

from typing import Any

from ecolabel_registry.api.schemas.common import Output, UtcInstant


class AuditEventRead(Output):
    id: int
    occurred_at: UtcInstant
    actor_key_id: str
    actor_name: str
    operation: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
