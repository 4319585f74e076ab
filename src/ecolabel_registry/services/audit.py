"""Reading the audit trail: who changed what, when, before and after."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.services._common import id_cursor, page_of
from ecolabel_registry.services.authz import require_operator
from ecolabel_registry.services.ports.audit import AuditEvent, AuditFilter, AuditReader
from ecolabel_registry.services.ports.registry import Page


class AuditService:
    """The audit trail, for the registry operator."""

    def __init__(self, reader: AuditReader) -> None:
        self._reader = reader

    def find(
        self, actor: Actor, filters: AuditFilter, cursor: str | None, limit: int
    ) -> Page[AuditEvent]:
        """Audit events in the order they were recorded, filtered."""
        require_operator(actor, "read the audit trail")
        after = id_cursor(cursor)
        filters = dataclasses.replace(
            filters, since=as_utc(filters.since), until=as_utc(filters.until)
        )
        return page_of(self._reader.find(filters, after, limit + 1), limit, lambda e: str(e.id))


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """The same instant in UTC; a time given without an offset is taken to be UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
