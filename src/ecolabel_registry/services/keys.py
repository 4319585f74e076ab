"""API keys: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from ecolabel_registry.domain.access import SYSTEM, Actor, Role
from ecolabel_registry.domain.errors import FieldError, InvalidInput, Unauthenticated
from ecolabel_registry.services._common import audit_record, found
from ecolabel_registry.services.ports.keys import ApiKey, ApiKeyRepository

KEY_PREFIX = "erk_"


def hash_key(key: str) -> str:
    """The stored form of a key (keys carry 256 random bits, so a fast hash suffices)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyService:
    """Creates, lists, revokes and checks API keys."""

    def __init__(self, keys: ApiKeyRepository) -> None:
        self._keys = keys

    def create(
        self,
        name: str,
        role: Role,
        scheme_ids: tuple[str, ...] = (),
        certification_body_id: str | None = None,
        *,
        actor: Actor = SYSTEM,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret, which is never stored and cannot be shown again.

        The audit trail records the key (its id, name, role and bindings; never the secret nor
        its hash). Keys are made on the server itself: the actor is the command line.
        """
        errors: list[FieldError] = []
        if not name.strip():
            errors.append(FieldError(("name",), "a key needs a name"))
        if role is Role.SCHEME_OPERATOR and not scheme_ids:
            errors.append(
                FieldError(("scheme",), "a scheme operator key is bound to one or more schemes")
            )
        if role is not Role.SCHEME_OPERATOR and scheme_ids:
            errors.append(FieldError(("scheme",), "only scheme operator keys are bound to schemes"))
        missing = set(scheme_ids) - self._keys.schemes_exist(scheme_ids)
        if missing:
            errors.append(FieldError(("scheme",), f"unknown schemes: {', '.join(sorted(missing))}"))
        if role is Role.CERTIFICATION_BODY:
            if certification_body_id is None:
                errors.append(
                    FieldError(("certification_body",), "a certification body key names its body")
                )
            elif not self._keys.body_exists(certification_body_id):
                errors.append(
                    FieldError(
                        ("certification_body",),
                        f"unknown certification body {certification_body_id!r}",
                    )
                )
        elif certification_body_id is not None:
            errors.append(
                FieldError(("certification_body",), "only certification body keys name a body")
            )
        if errors:
            raise InvalidInput(errors)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            role=role,
            scheme_ids=tuple(sorted(set(scheme_ids))),
            certification_body_id=certification_body_id,
            created_at=None,
            revoked_at=None,
        )
        self._keys.add(key, hash_key(secret))
        saved = self._keys.get(key.id) or key
        self._record(actor, "api_key.create", key.id, None, saved)
        return saved, secret

    def find(self) -> list[ApiKey]:
        """Every key, revoked ones included."""
        return self._keys.find()

    def revoke(self, key_id: str, *, actor: Actor = SYSTEM) -> None:
        """Revoke a key; it is refused from then on. Revoking it again changes nothing."""
        current = found(self._keys.get(key_id), f"no API key {key_id!r}")
        if current.revoked_at is not None:
            return
        self._keys.revoke(key_id)
        self._record(actor, "api_key.revoke", key_id, current, self._keys.get(key_id))

    def _record(
        self,
        actor: Actor,
        operation: str,
        key_id: str,
        before: ApiKey | None,
        after: ApiKey | None,
    ) -> None:
        self._keys.audit.record(audit_record(actor, operation, "api_key", key_id, before, after))

    def authenticate(self, secret: str) -> Actor:
        """The actor of a presented key, or Unauthenticated."""
        return actor_of(self._keys.by_hash(hash_key(secret)))


def actor_of(key: ApiKey | None) -> Actor:
    """The actor of the key a presented secret's hash found: Unauthenticated when there is
    none or it is revoked."""
    if key is None or key.revoked_at is not None:
        raise Unauthenticated("the API key is unknown or revoked")
    return key.actor()
