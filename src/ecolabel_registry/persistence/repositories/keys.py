"""API keys (stored as hashes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.driver import datetime_of, run_sql
from ecolabel_registry.persistence.repositories.audit import SqlAuditLog
from ecolabel_registry.persistence.repositories.base import from_row
from ecolabel_registry.persistence.repositories.schemes import SqlSchemeRepository
from ecolabel_registry.persistence.tables import (
    ApiKeyRow,
    CertificationBodyRow,
)
from ecolabel_registry.services.ports.keys import ApiKey

if TYPE_CHECKING:
    from ecolabel_registry.persistence.hot import HotReads

_KEY_BY_HASH = (
    "SELECT id, name, role, scheme_ids, certification_body_id, created_at, revoked_at "
    "FROM api_key WHERE key_hash = ?"
)


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The key of `key_hash`, read with one plain statement: every write authenticates
    first, and the ORM's read of the row costs many times the database's."""
    rows = run_sql(session, _KEY_BY_HASH, (key_hash,), fetch=True)
    return _key_of(rows[0]) if rows else None


async def api_key_by_hash_async(reads: HotReads, key_hash: str) -> ApiKey | None:
    """`api_key_by_hash` on the hot reads' connections, in autocommit (the latest committed
    key, a revocation included): no session, and on PostgreSQL no thread."""
    rows = await reads.fetch(_KEY_BY_HASH.replace("?", reads.dialect.mark), (key_hash,))
    return _key_of(rows[0]) if rows else None


def _key_of(row: Sequence[Any]) -> ApiKey:
    key_id, name, role, scheme_ids, body_id, created_at, revoked_at = row
    return ApiKey(
        id=key_id,
        name=name,
        role=Role(role),
        scheme_ids=tuple(json.loads(scheme_ids) if isinstance(scheme_ids, str) else scheme_ids),
        certification_body_id=body_id,
        created_at=datetime_of(created_at),
        revoked_at=datetime_of(revoked_at),
    )


class SqlApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
        self.audit = SqlAuditLog(session)

    @staticmethod
    def _key(r: ApiKeyRow) -> ApiKey:
        return from_row(ApiKey, r, role=Role(r.role), scheme_ids=tuple(r.scheme_ids))

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return api_key_by_hash(self._s, key_hash)

    def get(self, key_id: str) -> ApiKey | None:
        row = self._s.get(ApiKeyRow, key_id)
        return None if row is None else self._key(row)

    def add(self, key: ApiKey, key_hash: str) -> None:
        self._s.add(
            ApiKeyRow(
                id=key.id,
                name=key.name,
                role=key.role.value,
                scheme_ids=list(key.scheme_ids),
                certification_body_id=key.certification_body_id,
                key_hash=key_hash,
            )
        )
        self._s.flush()

    def find(self) -> list[ApiKey]:
        return [
            self._key(r)
            for r in self._s.execute(
                select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
            ).scalars()
        ]

    def revoke(self, key_id: str) -> None:
        self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )

    def schemes_exist(self, scheme_ids: tuple[str, ...]) -> set[str]:
        return SqlSchemeRepository(self._s).existing(scheme_ids)

    def body_exists(self, body_id: str) -> bool:
        return self._s.get(CertificationBodyRow, body_id) is not None
