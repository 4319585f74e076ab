"""The decisions' port: a decision as stored, and the repository persistence implements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["question", "lines"]


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A decision as stored: the receipt, and what is read without decoding it."""

    id: str
    recorded_at: dt.datetime
    api_key_id: str
    registry_revision: int
    kind: Kind
    line_count: int
    kid: str
    receipt: str


class DecisionRepository(Protocol):
    def add(self, decision: StoredDecision) -> None: ...
    def get(self, decision_id: str) -> StoredDecision | None: ...
