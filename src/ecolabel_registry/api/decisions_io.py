"""Decisions on the wire: the receipt's credential, the decision, its replay.

The receipt is a W3C Verifiable Credential 2.0 (https://www.w3.org/TR/vc-data-model-2.0/):
`@context` starts with the VC 2.0 context (section 4.3), `type` holds `VerifiableCredential`
and our `RecognitionDecision` (4.5), `issuer` is the registry's URL (4.7), `validFrom` the
instant of the decision (4.9) and `credentialSubject` the decision itself (4.8), whose `id`
is the decision's URL. Terms this registry defines (the subject's members) are not in the
base context; the base context's `@vocab` makes them issuer-dependent terms (section 5.2).
It is secured as VC-JOSE-COSE describes (https://www.w3.org/TR/vc-jose-cose/, 3.1.1): the
credential is the JWS payload, with no JWT claim beside it (services/signing.py).

The subject's question and answers are the equivalence API's own structs (equivalence_io):
a receipt says exactly what the API said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from ecolabel_registry.api.batch_lines import Lines, WrittenLines, write_lines
from ecolabel_registry.api.equivalence_io import (
    AnswerWriter,
    BatchLineOut,
    BatchSummary,
    EquivalenceAnswer,
    LineProblem,
    QueryOut,
)
from ecolabel_registry.domain.errors import DomainError
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.services.decisions import DECISION_ID, Recorded
from ecolabel_registry.services.equivalence import Line
from ecolabel_registry.services.signing import ReceiptInvalid, verify_receipt_signature

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPE = "RecognitionDecision"
CREDENTIAL_TYPES = ("VerifiableCredential", CREDENTIAL_TYPE)
DECISIONS_PATH = "/v1/decisions"


class DecisionLine(msgspec.Struct):
    """One line of a decision: its answer or its own error, as the batch gives them, and,
    for a line without an answer, the question asked (None for a line that was not even
    well formed). An answer names its question already (`query`); receipts recorded before
    this rule repeat it in `question`, which says the same."""

    ref: str | None
    question: QueryOut | None
    answer: EquivalenceAnswer | None
    error: LineProblem | None


L = TypeVar("L")


class DecisionSubject(msgspec.Struct, Generic[L], omit_defaults=True, forbid_unknown_fields=True):
    """The decision: a question and its answer, or lines and their answers, with the
    registry revision they were computed at and the instant they were recorded."""

    # Read as a `Decision`; written with its lines as `write_lines` wrote them (msgspec.Raw).

    id: str
    registry_revision: int
    as_recorded: dt.datetime
    ref: str | None = None
    question: QueryOut | None = None
    answer: EquivalenceAnswer | None = None
    lines: L | None = None
    summary: BatchSummary | None = None


Decision = DecisionSubject[list[DecisionLine]]
"""A decision as read back: the API's `decision`, a receipt's subject."""


S = TypeVar("S")


class Credential(msgspec.Struct, Generic[S]):
    """A VC 2.0 credential of one subject (see the module's docstring for the sections)."""

    context: list[str] = msgspec.field(name="@context")
    type: list[str] = msgspec.field(name="type")
    issuer: str = msgspec.field(name="issuer")
    valid_from: dt.datetime = msgspec.field(name="validFrom")
    credential_subject: S = msgspec.field(name="credentialSubject")


class DecisionOut(msgspec.Struct):
    """A decision as the API answers it: its id, the decision (the credential's subject)
    and the receipt (the compact JWS of the credential)."""

    id: str
    decision: Decision
    receipt: str


class ReplayDifference(msgspec.Struct):
    line: int | None
    ref: str | None
    recorded: DecisionLine
    replayed: DecisionLine


class ReplayOut(msgspec.Struct):
    """A decision's question(s) asked again: whether every answer is the recorded one."""

    decision: str
    as_recorded: dt.datetime
    recorded_revision: int
    replayed_revision: int
    matches: bool
    lines: int
    differences: list[ReplayDifference]


class JwkOut(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A public signing key (RFC 7517): a P-256 key (`kty` EC, `x` and `y`, RFC 7518 section
    6.2) or, among older keys, an Ed25519 key (`kty` OKP, `x` only, RFC 8037 section 2)."""

    kty: str
    crv: str
    x: str
    y: str | None = None
    kid: str
    use: str
    alg: str


class JwksOut(msgspec.Struct):
    """The registry's public keys: the current one first, then the retired ones."""

    keys: list[JwkOut]


_encoder = msgspec.json.Encoder()
_raw_credential = msgspec.json.Decoder(Credential[msgspec.Raw])
_credential = msgspec.json.Decoder(Credential[Decision])
_lines = msgspec.json.Decoder(list[DecisionLine])


def decision_url(registry_url: str, decision_id: str) -> str:
    return f"{registry_url}{DECISIONS_PATH}/{decision_id}"


@dataclass(frozen=True, slots=True)
class SingleQuestion:
    ref: str | None
    line: Line


class Renderer:
    """The credential's JSON of a decision (`services.decisions.Render`), kept for the
    answer: the subject is written once and put in both the receipt and the response."""

    def __init__(self, issuer: str, asked: SingleQuestion | Lines) -> None:
        self._issuer = issuer
        self._asked = asked
        self.subject_json = b""

    def __call__(self, decision_id: str, recorded: Recorded) -> bytes:
        subject = self.subject(decision_url(self._issuer, decision_id), recorded)
        self.subject_json = _encoder.encode(subject)
        credential = Credential[msgspec.Raw](
            [VC_CONTEXT],
            list(CREDENTIAL_TYPES),
            self._issuer,
            recorded.as_recorded,
            msgspec.Raw(self.subject_json),
        )
        return _encoder.encode(credential)

    def subject(self, url: str, recorded: Recorded) -> DecisionSubject[msgspec.Raw]:
        asked = self._asked
        if isinstance(asked, SingleQuestion):
            (outcome,) = recorded.outcomes
            if isinstance(outcome, DomainError):
                raise outcome
            writer = AnswerWriter()
            return DecisionSubject(
                url,
                recorded.registry_revision,
                recorded.as_recorded,
                ref=asked.ref,
                question=QueryOut(*asked.line),
                answer=writer.answer(outcome, *asked.line, revision=recorded.registry_revision),
            )
        written = decision_lines(asked, recorded.outcomes, recorded.registry_revision)
        return DecisionSubject(
            url,
            recorded.registry_revision,
            recorded.as_recorded,
            lines=msgspec.Raw(written.json),
            summary=written.summary,
        )


def decision_lines(
    asked: Lines, outcomes: Iterable[Answer | DomainError], revision: int
) -> WrittenLines:
    """The decision's lines written as the batch writes its own (`write_lines`), each with
    its answer (computed at `revision`) or its own error, and, without an answer, its
    question; in the order sent. (A line asked twice is written twice: finding the lines
    asked again would hash every line a second time, for the few a decision repeats.)"""
    return write_lines(asked, outcomes, revision, DecisionLine)


def response_json(decision_id: str, subject_json: bytes, receipt: str) -> bytes:
    """A DecisionOut's JSON with the subject as already written (never written twice)."""
    return b"".join(
        (
            b'{"id":',
            _encoder.encode(decision_id),
            b',"decision":',
            subject_json,
            b',"receipt":',
            _encoder.encode(receipt),
            b"}",
        )
    )


def subject_json(payload: bytes) -> bytes:
    """The subject's JSON as a receipt's payload (the credential's JSON) holds it."""
    return bytes(_raw_credential.decode(payload).credential_subject)


def read_credential(payload: bytes) -> Credential[Decision]:
    """The credential of a receipt's payload, checked against our types; ReceiptInvalid
    saying what is off."""
    try:
        credential = _credential.decode(payload)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ReceiptInvalid(
            f"the payload is not a decision credential: {exc}", "credential"
        ) from None
    if not credential.context or credential.context[0] != VC_CONTEXT:
        raise ReceiptInvalid(f"@context does not start with {VC_CONTEXT}", "credential")
    if not set(CREDENTIAL_TYPES) <= set(credential.type):
        raise ReceiptInvalid(f"type is not {list(CREDENTIAL_TYPES)}", "credential")
    subject = credential.credential_subject
    single = subject.question is not None and subject.answer is not None
    batch = subject.lines is not None and subject.summary is not None
    if single == batch or (single and subject.lines is not None):
        raise ReceiptInvalid(
            "the decision holds neither one question and its answer nor lines", "credential"
        )
    prefix = f"{credential.issuer}{DECISIONS_PATH}/"
    if not subject.id.startswith(prefix) or not DECISION_ID.fullmatch(
        subject.id.removeprefix(prefix)
    ):
        raise ReceiptInvalid(
            f"the decision's id {subject.id!r} is no decision of the issuer", "credential"
        )
    if credential.valid_from != subject.as_recorded:
        raise ReceiptInvalid("validFrom is not the decision's instant", "credential")
    return credential


def verify_receipt(receipt: str, jwks: Mapping[str, Any]) -> Credential[Decision]:
    """A receipt checked whole: the header, the signature under the key of `jwks` its kid
    names, and the credential's shape. ReceiptInvalid saying why it does not verify."""
    _header, payload = verify_receipt_signature(receipt.strip(), jwks)
    return read_credential(payload)


def recorded_lines(subject: Decision) -> list[DecisionLine]:
    """A decision's lines as recorded (a one-question decision is one line)."""
    if subject.lines is not None:
        return subject.lines
    return [DecisionLine(subject.ref, subject.question, subject.answer, None)]


def _question_of(line: DecisionLine) -> QueryOut | None:
    """The line's question: its answer's, or its own (None: the line was not well formed)."""
    return line.answer.query if line.answer is not None else line.question


def questions(lines: Sequence[DecisionLine]) -> list[Line]:
    """The questions to ask again: every line that had one."""
    return [
        (q.scheme, q.certificate, q.target, q.on, q.hs_code)
        for q in map(_question_of, lines)
        if q is not None
    ]


def _substance(line: DecisionLine) -> bytes:
    """What a replay compares of a line: all but the revision its answer names (a replay
    names the revision its instant names, which is the recorded one but for a write that
    was in flight when the decision was recorded: ADR 0007)."""
    if line.answer is not None:
        # The question is the answer's own (a line recorded with both says it twice).
        line = msgspec.structs.replace(
            line, question=None, answer=msgspec.structs.replace(line.answer, registry_revision=0)
        )
    return _encoder.encode(line)


def replay_report(
    credential: Credential[Decision], recorded_revision: int, replayed: Recorded
) -> ReplayOut:
    """The recorded lines against the same questions answered again, line by line."""
    subject = credential.credential_subject
    lines = recorded_lines(subject)
    asked = Lines(
        len(lines),
        [x.ref for x in lines if _question_of(x) is not None],
        questions(lines),
        [
            None if _question_of(x) is not None else BatchLineOut(x.ref, None, x.error)
            for x in lines
        ],
    )
    differences = []
    written = decision_lines(asked, replayed.outcomes, replayed.registry_revision)
    replayed_lines = _lines.decode(written.json)
    for index, (before, after) in enumerate(zip(lines, replayed_lines, strict=True)):
        if _substance(before) != _substance(after):
            line = None if subject.lines is None else index
            differences.append(ReplayDifference(line, before.ref, before, after))
    return ReplayOut(
        subject.id,
        subject.as_recorded,
        recorded_revision,
        replayed.registry_revision,
        not differences,
        len(lines),
        differences,
    )
