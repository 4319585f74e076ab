"""The audit trail, for the registry operator."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ecolabel_registry.api.deps import ActorDep, Cursor, Limit, RegistryDep
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas import PageOut, utc
from ecolabel_registry.persistence.audit import SqlAuditReader
from ecolabel_registry.services.audit import AuditService
from ecolabel_registry.services.ports.audit import AuditEvent, AuditFilter

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])

EntityType = Literal[
    "economy",
    "scheme",
    "product_category",
    "certification_body",
    "certificate",
    "agreement",
    "scope_entry",
    "api_key",
]


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


@router.get("", responses=responses(401, 403, 422))
def list_audit_events(
    registry: RegistryDep,
    actor: ActorDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity_type: Annotated[EntityType | None, Query()] = None,
    entity_id: Annotated[str | None, Query(max_length=300)] = None,
    actor_key_id: Annotated[str | None, Query(max_length=36)] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Only events at or after this time.")
    ] = None,
    until: Annotated[dt.datetime | None, Query(description="Only events before this time.")] = None,
) -> PageOut[AuditEventRead]:
    """Who changed what, when, with the entity before and after, oldest first."""
    filters = AuditFilter(entity_type, entity_id, actor_key_id, since, until)
    page = AuditService(SqlAuditReader(registry.session)).find(actor, filters, cursor, limit)
    return PageOut(items=[AuditEventRead.of(e) for e in page.items], next_cursor=page.next_cursor)
