"""The audit trail's port: a write to record, a recorded write, the filter of a listing, and
the reader."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, Protocol

AuditedEntityType = Literal[
    "economy",
    "scheme",
    "product_category",
    "certification_body",
    "certificate",
    "agreement",
    "scope_entry",
    "api_key",
]
"""The entity types the audit trail records."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What the trail keeps of one write: who made it, the operation, the entity, and the
    entity's snapshots before and after it (None where it did not exist)."""

    actor_key_id: str
    actor_name: str
    operation: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditEvent(AuditRecord):
    """One recorded write, as the trail lists it: the record, its id and when it was made."""

    id: int
    occurred_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to list; `since` and `until` are instants, given to the reader in UTC."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor_key_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class AuditReader(Protocol):
    def find(self, filters: AuditFilter, after: int | None, limit: int) -> list[AuditEvent]: ...
