"""Certification bodies and their authorizations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    delete,
    exists,
    insert,
    select,
)

from ecolabel_registry.domain.model import (
    Authorization,
    CertificationBody,
)
from ecolabel_registry.persistence.repositories.base import (
    VersionedRepository,
    by_owner,
    page,
    stored,
)
from ecolabel_registry.persistence.tables import (
    BodyAuthorizationRow,
    CertificationBodyRow,
)


class SqlBodyRepository(VersionedRepository[CertificationBody]):
    def _to_domain(self, rows: Sequence[CertificationBodyRow]) -> list[CertificationBody]:
        a = BodyAuthorizationRow
        auths = by_owner(self._s, a.body_id, [r.id for r in rows], a, a.id)
        return [
            CertificationBody(
                r.id,
                r.name,
                r.economy_code,
                r.accreditation_ref,
                tuple(Authorization(x.scheme_id, x.valid_from, x.valid_to) for x in auths[r.id]),
                r.version,
            )
            for r in rows
        ]

    def get(self, body_id: str) -> CertificationBody | None:
        return self._by_key(CertificationBodyRow, body_id)

    def find(self, after: str | None, limit: int, scheme_id: str | None) -> list[CertificationBody]:
        query = page(select(CertificationBodyRow), CertificationBodyRow.id, after, limit)
        if scheme_id is not None:
            query = query.where(
                exists().where(
                    BodyAuthorizationRow.body_id == CertificationBodyRow.id,
                    BodyAuthorizationRow.scheme_id == scheme_id,
                )
            )
        return self._to_domain(self._s.execute(query).scalars().all())

    def _children(self, body: CertificationBody) -> None:
        self._s.execute(delete(BodyAuthorizationRow).where(BodyAuthorizationRow.body_id == body.id))
        if body.authorizations:
            self._s.execute(
                insert(BodyAuthorizationRow),
                [
                    {
                        "body_id": body.id,
                        "scheme_id": a.scheme_id,
                        "valid_from": a.valid_from,
                        "valid_to": a.valid_to,
                    }
                    for a in body.authorizations
                ],
            )

    @staticmethod
    def _fields(b: CertificationBody) -> dict[str, Any]:
        return {"name": b.name, "economy_code": b.economy, "accreditation_ref": b.accreditation_ref}

    def _reload(self, body: CertificationBody) -> CertificationBody:
        return stored(self.get(body.id))

    def add(self, body: CertificationBody) -> CertificationBody:
        row = CertificationBodyRow(id=body.id, version=1, **self._fields(body))
        return self._insert(row, body, f"certification body {body.id}")

    def update(self, body: CertificationBody) -> CertificationBody:
        key = CertificationBodyRow.id == body.id
        return self._update(CertificationBodyRow, key, body, f"certification body {body.id}")
