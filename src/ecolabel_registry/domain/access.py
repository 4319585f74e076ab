"""Who is calling: the actor every write is attributed to."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    SCHEME_OPERATOR = "scheme_operator"
    CERTIFICATION_BODY = "certification_body"


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a service: an API key's identity and bindings, or a local command."""

    key_id: str
    name: str
    role: Role
    scheme_ids: frozenset[str] = frozenset()
    certification_body_id: str | None = None


SYSTEM = Actor(key_id="system", name="command line", role=Role.OPERATOR)
"""The actor of local commands (migrate, seed, import run on the server itself)."""
