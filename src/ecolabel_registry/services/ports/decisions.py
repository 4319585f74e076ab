"""The decisions' port: a decision as stored, and the repository persistence implements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["question", "lines"]


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A decision as stored: the receipt (a compact JWS), its payload (the credential's JSON,
    as signed), and what is read without decoding either."""

    id: str
    recorded_at: dt.datetime
    api_key_id: str
    registry_revision: int
    kind: Kind
    line_count: int
    kid: str
    payload: bytes
    receipt: str


class DecisionRepository(Protocol):
    """Decisions in the caller's transaction. A decision is written in two steps, its
    credential first (`add_credential`, which may run on another thread while the
    credential is signed) and then itself (`add`), before the transaction commits."""

    def add_credential(self, decision_id: str, payload: bytes) -> None: ...
    def add(self, decision: StoredDecision) -> None: ...
    def get(self, decision_id: str) -> StoredDecision | None: ...
