"""The unit of work: every repository over one session."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ecolabel_registry.persistence import revisions
from ecolabel_registry.persistence.repositories.agreements import SqlAgreementRepository
from ecolabel_registry.persistence.repositories.audit import SqlAuditLog
from ecolabel_registry.persistence.repositories.bodies import SqlBodyRepository
from ecolabel_registry.persistence.repositories.certificates import SqlCertificateRepository
from ecolabel_registry.persistence.repositories.economies import SqlEconomyRepository
from ecolabel_registry.persistence.repositories.schemes import (
    SqlCategoryRepository,
    SqlSchemeRepository,
)
from ecolabel_registry.services.ports.changes import ChangeFacts


class SqlRegistry:
    """Every repository over one session: the unit of work of one request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        revisions.watch(session)
        self.economies = SqlEconomyRepository(session)
        self.schemes = SqlSchemeRepository(session)
        self.categories = SqlCategoryRepository(session)
        self.bodies = SqlBodyRepository(session)
        self.certificates = SqlCertificateRepository(session)
        self.agreements = SqlAgreementRepository(session)
        self.audit = SqlAuditLog(session)

    def changed(self, entity_type: str, entity_id: str, facts: ChangeFacts | None = None) -> None:
        """Log the entity under this transaction's revision (`revisions.changed`), with what
        the change feed says of it."""
        revisions.changed(self.session, entity_type, entity_id, facts)
