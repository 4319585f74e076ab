"""The audit trail, for the registry operator."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from ecolabel_registry.api.deps import ActorDep, AuditDep, Cursor, Limit
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.audit import AuditEventRead
from ecolabel_registry.api.schemas.common import PageOut
from ecolabel_registry.services.ports.audit import AuditedEntityType, AuditFilter

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


@router.get("", responses=responses(401, 403, 422))
def list_audit_events(
    service: AuditDep,
    actor: ActorDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity_type: Annotated[AuditedEntityType | None, Query()] = None,
    entity_id: Annotated[str | None, Query(max_length=300)] = None,
    actor_key_id: Annotated[str | None, Query(max_length=36)] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Only events at or after this time.")
    ] = None,
    until: Annotated[dt.datetime | None, Query(description="Only events before this time.")] = None,
) -> PageOut[AuditEventRead]:
    """Who changed what, when, with the entity before and after, oldest first."""
    filters = AuditFilter(entity_type, entity_id, actor_key_id, since, until)
    page = service.find(actor, filters, cursor, limit)
    return PageOut.of(page, AuditEventRead.read)
