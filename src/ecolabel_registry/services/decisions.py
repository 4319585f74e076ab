"""Decisions on the record: a question (or a batch of lines) answered, stored and signed.

A decision is stored as its receipt: the signed credential whose subject is the question(s),
the answer(s) as the API renders them, the registry revision and the instant (domain rule 8,
docs/decisions.md). The credential's JSON is made by the API layer (`Render`), which owns the
answer's wire format; this service answers, signs and stores.

Every answer of a decision, when it is recorded and when it is replayed, comes from
`answer_for_record`, or from `answer_question` for a one-question decision whose certificate
the API read without a thread: both answer a line with `EquivalenceService.answer_line` or
`answer_lines`, as the batch does.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import DomainError, NotFound
from ecolabel_registry.domain.model import CertificateTerms
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.services.equivalence import EquivalenceService, Line
from ecolabel_registry.services.ports.decisions import DecisionRepository, Kind, StoredDecision
from ecolabel_registry.services.signing import KeyRing, ReceiptSigner
from ecolabel_registry.services.snapshots import Snapshot

DECISION_ID_BYTES = 18
"""A decision's id: 144 random bits, written as 24 URL-safe base64 characters."""
DECISION_ID = re.compile(r"[A-Za-z0-9_-]{24}")


@dataclass(frozen=True, slots=True)
class Recorded:
    """The answers to a decision's questions, line by line (an answer or the line's own
    error), with the registry revision they were computed at and the instant asked about."""

    registry_revision: int
    as_recorded: dt.datetime
    outcomes: list[Answer | DomainError]


Render = Callable[[str, Recorded], bytes]
"""The credential's JSON for a decision id and its answers (the receipt's payload)."""


def new_decision_id() -> str:
    return secrets.token_urlsafe(DECISION_ID_BYTES)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DecisionService:
    """Records decisions and reads them back."""

    def __init__(
        self,
        equivalence: EquivalenceService,
        decisions: DecisionRepository | None,
        signer: ReceiptSigner,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._equivalence = equivalence
        self._decisions = decisions
        self._signer = signer
        self._clock = clock

    def answer_for_record(
        self, lines: Sequence[Line], as_recorded: dt.datetime | None = None
    ) -> Recorded:
        """The answers the registry gives to `lines`: now, when recording (the instant is
        taken once they are read, so that it names every revision they read), or as recorded
        at `as_recorded`, when replaying (InvalidInput for an instant out of the history)."""
        if as_recorded is not None:
            asked = self._equivalence.as_recorded(as_recorded, ("as_recorded",))
            outcomes = self._equivalence.answer_lines_as_recorded(
                lines, [asked] * len(lines), self._equivalence.current_snapshot()
            )
            return Recorded(asked.revision, as_recorded, outcomes)
        if len(lines) == 1:
            revision, outcome = self._equivalence.answer_line_with_revision(lines[0])
            return Recorded(revision, self._clock(), [outcome])
        revision, answers = self._equivalence.answer_lines_with_revision(lines)
        outcomes = list(answers)
        return Recorded(revision, self._clock(), outcomes)

    def answer_question(
        self, snapshot: Snapshot, terms: CertificateTerms | None, line: Line
    ) -> Recorded:
        """`answer_for_record` of one line whose certificate the caller read (`terms`, with
        the revision counter `snapshot` holds): the asynchronous one-question decision."""
        outcome = self._equivalence.answer_line(snapshot, terms, line)
        return Recorded(snapshot.revision, self._clock(), [outcome])

    def record(
        self, actor: Actor, kind: Kind, line_count: int, lines: Sequence[Line], render: Render
    ) -> StoredDecision:
        """Answer `lines`, sign the credential `render` makes of them, and store it.

        `line_count` counts the decision's lines, those whose own errors `render` knows
        (a line not even well formed) included. The signing key is read first: without one
        nothing is answered (Unavailable, 503).
        """
        ring = self.ready()
        recorded = self.answer_for_record(lines)
        credential = self.credential(recorded, render)
        repository = self._repository()
        # The credential is written on a second thread while this one signs it (the database
        # works, or the driver waits, meanwhile); the decision's row, which holds the
        # signature, follows in the same transaction. A failure on either side stops both.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-credential") as writer:
            written = writer.submit(repository.add_credential, *credential)
            stored = self.signed(ring, actor, kind, line_count, recorded, credential)
            written.result()
        repository.add(stored)
        return stored

    def ready(self) -> KeyRing:
        """The signing keys (SigningKeyError, a 503, without them): read before anything is
        answered, and what `signed` signs with."""
        return self._signer.ring()

    def _repository(self) -> DecisionRepository:
        if self._decisions is None:
            raise TypeError("this service stores no decisions")  # pragma: no cover
        return self._decisions

    @staticmethod
    def credential(recorded: Recorded, render: Render) -> tuple[str, bytes]:
        """A new random decision id, and the credential's JSON `render` makes of `recorded`
        under it (the receipt's payload)."""
        decision_id = new_decision_id()
        return decision_id, render(decision_id, recorded)

    def signed(
        self,
        ring: KeyRing,
        actor: Actor,
        kind: Kind,
        line_count: int,
        recorded: Recorded,
        credential: tuple[str, bytes],
    ) -> StoredDecision:
        """The decision of `recorded` whose `credential` (id and payload) is signed with the
        current key of `ring` (`ready`): what `record` stores (the caller stores it when it
        answered apart)."""
        decision_id, payload = credential
        return StoredDecision(
            id=decision_id,
            recorded_at=recorded.as_recorded,
            api_key_id=actor.key_id,
            registry_revision=recorded.registry_revision,
            kind=kind,
            line_count=line_count,
            kid=ring.current.kid,
            payload=payload,
            receipt=ring.sign(payload),
        )

    def get(self, decision_id: str) -> StoredDecision:
        """The decision of `decision_id`; NotFound for an unknown id or one of no decision's
        form (looked up no further)."""
        found = self._repository().get(decision_id) if DECISION_ID.fullmatch(decision_id) else None
        if found is None:
            raise NotFound(f"no decision {decision_id!r}")
        return found
