"""The audit trail's writer: one row per audited write, in the write's transaction."""

from __future__ import annotations

import dataclasses

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.tables import AuditEventRow
from ecolabel_registry.services.ports.audit import AuditRecord


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._s = session

    def record(self, entry: AuditRecord) -> None:
        self._s.execute(insert(AuditEventRow).values(**dataclasses.asdict(entry)))
