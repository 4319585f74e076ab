"""The API keys' port: a stored key and the repository that keeps them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.services.ports.registry import AuditLog


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: everything but the key itself."""

    id: str
    name: str
    role: Role
    scheme_ids: tuple[str, ...]
    certification_body_id: str | None
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def actor(self) -> Actor:
        """The identity this key acts as."""
        return Actor(
            key_id=self.id,
            name=self.name,
            role=self.role,
            scheme_ids=frozenset(self.scheme_ids),
            certification_body_id=self.certification_body_id,
        )


class ApiKeyRepository(Protocol):
    @property
    def audit(self) -> AuditLog:
        """The audit trail, written in the same transaction as the keys."""
        ...

    def by_hash(self, key_hash: str) -> ApiKey | None: ...
    def get(self, key_id: str) -> ApiKey | None: ...
    def add(self, key: ApiKey, key_hash: str) -> None: ...
    def find(self) -> list[ApiKey]: ...
    def revoke(self, key_id: str) -> None: ...
    def schemes_exist(self, scheme_ids: tuple[str, ...]) -> set[str]: ...
    def body_exists(self, body_id: str) -> bool: ...
