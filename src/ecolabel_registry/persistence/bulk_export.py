"""The bulk store's export: a scheme's certificates with their histories, page by page."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import Certificate, StatusEvent
from ecolabel_registry.persistence.repositories import certificate_from_row
from ecolabel_registry.persistence.tables import CertificateRow, CertificateStatusEventRow
from ecolabel_registry.services.ports.registry import CertificateFilter

EXPORT_PAGE = 1000


def export_certificates(
    session: Session, scheme_id: str, filters: CertificateFilter
) -> Iterator[Certificate]:
    """The scheme's certificates with their histories, in registration order, a page a query."""
    t = CertificateRow.__table__
    e = CertificateStatusEventRow.__table__
    after = 0
    while True:
        query = (
            select(t)
            .where(t.c.scheme_id == scheme_id, t.c.id > after)
            .order_by(t.c.id)
            .limit(EXPORT_PAGE)
        )
        if filters.category_code is not None:
            query = query.where(t.c.category_code == filters.category_code)
        if filters.certification_body_id is not None:
            query = query.where(t.c.certification_body_id == filters.certification_body_id)
        rows = session.execute(query).all()
        if not rows:
            return
        after = rows[-1].id
        events: dict[int, list[StatusEvent]] = {r.id: [] for r in rows}
        for ev in session.execute(
            select(e).where(e.c.certificate_id.in_(list(events))).order_by(e.c.id)
        ):
            events[ev.certificate_id].append(
                StatusEvent(ev.status, ev.effective_date, ev.reason, str(ev.id), ev.recorded_at)
            )
        for r in rows:
            yield certificate_from_row(r, tuple(events[r.id]))
        if len(rows) < EXPORT_PAGE:
            return
