"""Certificates grouped by what recognition depends on, for impact questions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import Text, cast, func, literal, select
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import CertificateStatus
from ecolabel_registry.persistence.tables import CertificateRow, CertificateStatusEventRow
from ecolabel_registry.services.ports.equivalence import CertificateGroup

C = CertificateRow
E = CertificateStatusEventRow


class SqlCertificateGroups:
    def __init__(self, session: Session) -> None:
        self._s = session

    def active_groups(
        self, scheme_ids: Iterable[str], on: dt.date, limit: int
    ) -> tuple[list[CertificateGroup], int]:
        ids = sorted(set(scheme_ids))
        if not ids:
            return [], 0
        # The status in force on `on`: the latest event effective by then, the one recorded
        # last among those of one day (domain.model.status_on); none yet: active.
        status = (
            select(E.status)
            .where(E.certificate_id == C.id, E.effective_date <= on)
            .order_by(E.effective_date.desc(), E.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        hs = cast(C.hs_codes, Text)
        active = (
            select(C.scheme_id, C.category_code, hs.label("hs"), func.count().label("n"))
            .where(
                C.scheme_id.in_(ids),
                C.valid_from <= on,
                C.valid_to >= on,
                func.coalesce(status, literal(CertificateStatus.ACTIVE.value))
                == CertificateStatus.ACTIVE.value,
            )
            .group_by(C.scheme_id, C.category_code, hs)
            .subquery()
        )
        total = int(self._s.execute(select(func.count()).select_from(active)).scalar() or 0)
        rows = self._s.execute(
            select(active)
            .order_by(active.c.n.desc(), active.c.scheme_id, active.c.category_code, active.c.hs)
            .limit(limit)
        )
        groups = [
            CertificateGroup(r.scheme_id, r.category_code, tuple(json.loads(r.hs)), int(r.n))
            for r in rows
        ]
        return groups, total
