"""A batch body's lines, read fast when well formed, else line by line with each line's
own error; and the lines written out with their answers: shared by the equivalence batch and
the batch decisions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol

import msgspec
import orjson

from ecolabel_registry.api.deps import instant_of
from ecolabel_registry.api.equivalence_io import (
    AnswerWriter,
    BatchIn,
    BatchLineIn,
    BatchLineOut,
    BatchSummary,
    EquivalenceAnswer,
    FieldProblem,
    LineProblem,
    QueryOut,
)
from ecolabel_registry.api.problems import PROBLEMS, TYPE_BASE
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.domain.messages import (
    date_message,
    economy_code_message,
    hs_code_message,
    instant_message,
)
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.domain.validation import (
    iso_day,
    rfc3339_instant,
)
from ecolabel_registry.services.equivalence import (
    MAX_BATCH_LINES,
    Line,
)
from ecolabel_registry.services.snapshots import AsRecorded

_fast_batch = msgspec.json.Decoder(BatchIn)
_batch_shape = msgspec.json.Decoder(dict[str, msgspec.Raw])  # `lines` kept as bytes
MAX_BATCH_VALUES = 20 * MAX_BATCH_LINES
"""The most JSON values a batch may hold: a full batch of 10,000 lines holds ~80,000."""
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")


def lines_at_most(body: bytes) -> int:
    """The most lines a batch body can hold, counted without reading it: each line is an
    object, inside the body's own (at least 1, at most MAX_BATCH_LINES)."""
    return max(1, min(body.count(b"{") - 1, MAX_BATCH_LINES))


def parse_lines(body: bytes, day: dt.date) -> Checked:
    """A batch body's lines: each line's question, or its own error (InvalidInput when the
    body as a whole is no batch). Lines without a date are asked about `day`."""
    # Each line is an object: more braces than lines allowed may be too many lines, which the
    # line-by-line path counts before building anything.
    few = body.count(b"{") <= MAX_BATCH_LINES + 1
    checked = _fast_lines(body, day) if few else None
    if checked is None:
        checked = _lines_one_by_one(body, day)
    return checked


Checked = tuple[
    int, list[str | None], list[Line], list[BatchLineOut | None] | None, list[dt.datetime | None]
]
"""A batch's line count, the refs and questions of its valid lines, per line its own error
(None for a line that goes to the service; no error list when every line is valid), and the
instant each valid line is asked as recorded at (None: as the registry is)."""


def _fast_lines(body: bytes, day: dt.date) -> Checked | None:
    """Every line decoded into `BatchLineIn` at once by msgspec; None when anything is off
    (bad JSON, a line that does not fit the type, a NUL escape, which no line may hold), for
    `_lines_one_by_one` to decode the lines one by one and word each line's mistakes."""
    if b"\\u0000" in body:
        return None
    try:
        batch = _fast_batch.decode(body)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if batch.as_recorded is not None or any(line.as_recorded for line in batch.lines):
        return None  # the instants are checked line by line
    refs = [line.ref for line in batch.lines]
    lines: list[Line] = [
        (line.scheme, line.certificate, line.target, line.on or day, line.hs_code)
        for line in batch.lines
    ]
    return len(lines), refs, lines, None, [None] * len(lines)


def _lines_one_by_one(body: bytes, day: dt.date) -> Checked:
    """The lines of a batch decoded one by one into `BatchLineIn`: a line that does not fit
    gets its own error, worded by `_mistakes`."""
    raw_lines, batch_text = _parse_batch(body)
    batch_instant = instant_of(batch_text, ("body", "as_recorded"))
    lines: list[Line] = []
    refs: list[str | None] = []
    line_errors: list[BatchLineOut | None] = []
    instants: list[dt.datetime | None] = []
    for raw in raw_lines:
        line = decode_line(raw)
        if isinstance(line, LineProblem):
            line_errors.append(BatchLineOut(_ref(raw), None, line))
            continue
        instant = rfc3339_instant(line.as_recorded) if line.as_recorded else batch_instant
        refs.append(line.ref)
        # `on` defaults to the day of the instant asked as recorded at, else today.
        default = day if instant is None else instant.date()
        lines.append((line.scheme, line.certificate, line.target, line.on or default, line.hs_code))
        instants.append(instant)
        line_errors.append(None)
    return len(raw_lines), refs, lines, line_errors, instants


def decode_line(raw: Any) -> BatchLineIn | LineProblem:
    """One line decoded into `BatchLineIn`, or the problem naming each of its mistakes."""
    try:
        line = msgspec.convert(raw, BatchLineIn)
    except msgspec.ValidationError as exc:
        mistakes = _mistakes(raw)
        return _field_problem(mistakes or [("line", str(exc))])
    if any("\x00" in value for value in (line.scheme, line.certificate, line.target)) or any(
        value is not None and "\x00" in value for value in (line.hs_code, line.ref)
    ):
        return _field_problem(_mistakes(raw))
    if line.as_recorded is not None and rfc3339_instant(line.as_recorded) is None:
        return _field_problem(_mistakes(raw))
    return line


def _field_rules() -> tuple[tuple[str, bool, int], ...]:
    """Each field of `BatchLineIn` in its order: its name, whether it is required, and the
    most characters its text may have (a date's: YYYY-MM-DD)."""
    info = msgspec.inspect.type_info(BatchLineIn)
    assert isinstance(info, msgspec.inspect.StructType)
    rules = []
    for field in info.fields:
        kind = field.type
        if isinstance(kind, msgspec.inspect.Metadata):
            kind = kind.type
        if isinstance(kind, msgspec.inspect.UnionType):
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        limit = kind.max_length if isinstance(kind, msgspec.inspect.StrType) else None
        rules.append((field.encode_name, field.required, limit or len("YYYY-MM-DD")))
    return tuple(rules)


_FIELD_RULES = _field_rules()
_LINE_FIELDS = frozenset(name for name, _required, _limit in _FIELD_RULES)

# The service checks a target's and an HS code's form (with these words) on every path; a
# line whose value is not even a string of the right length is worded the same here.
_LINE_VALUE_MESSAGES = {
    "target": economy_code_message,
    "hs_code": hs_code_message,
    "on": date_message,
}


def _mistakes(raw: Any) -> list[tuple[str, str]]:
    """Why a line does not fit `BatchLineIn`, field by field, in words for people."""
    if not isinstance(raw, dict):
        return [("line", "must be an object")]
    errors = [(name, "unknown field") for name in sorted(set(raw) - _LINE_FIELDS)]
    day_text: str | None = None
    instant_text: str | None = None
    for name, required, limit in _FIELD_RULES:
        value = raw.get(name)
        if name == "ref":
            if value is not None and not (
                isinstance(value, str) and len(value) <= limit and "\x00" not in value
            ):
                errors.append(("ref", f"must be a string of at most {limit} characters"))
        elif value is None:
            if required:
                errors.append((name, "required"))
        elif not isinstance(value, str) or not value or len(value) > limit:
            # A target, HS code or date is worded as the single question and the plan word it.
            wording = _LINE_VALUE_MESSAGES.get(name)
            message = f"must be a non-empty string of at most {limit} characters"
            errors.append((name, message if wording is None else wording(value)))
        elif "\x00" in value:
            errors.append((name, "must not contain NUL (\\u0000) characters"))
        elif name == "on":
            day_text = value
        elif name == "as_recorded":
            instant_text = value
    if day_text is not None and iso_day(day_text) is None:
        errors.append(("on", date_message(day_text)))
    if instant_text is not None and rfc3339_instant(instant_text) is None:
        errors.append(("as_recorded", instant_message(instant_text)))
    return errors


def _structure(json_bytes: bytes) -> bytes:
    """The brackets, braces and commas of a JSON text, outside its strings."""
    return _STRING.sub(b"", json_bytes).translate(None, _NOT_STRUCTURE)


def _count_values(body: bytes) -> None:
    """InvalidInput when the body holds more values than a batch can, counted on its bytes.

    Building a body's values costs far more memory than its text (a 3-byte `{},` is a
    64-byte dict): a body of many small values is refused before any of them is built.
    """
    structure = _structure(body)
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{") + 1
    if values <= MAX_BATCH_VALUES:
        return
    count = _line_count(body)
    if count is not None and count > MAX_BATCH_LINES:
        raise InvalidInput.single(
            ("body", "lines"), f"{count} lines; at most {MAX_BATCH_LINES} lines a request"
        )
    raise InvalidInput.single(
        ("body",),
        f"more than {MAX_BATCH_VALUES} JSON values; a batch holds at most {MAX_BATCH_LINES} "
        'lines of a few text fields each, as in {"lines": [{"scheme": "eu-ecolabel", '
        '"certificate": "DEMO/FR/044/017", "target": "KR"}]}',
    )


def _line_count(body: bytes) -> int | None:
    """The number of items of `lines`, counted without building them (None: not a batch)."""
    try:
        lines = _batch_shape.decode(body).get("lines")
    except msgspec.DecodeError:
        return None
    if lines is None:
        return None
    raw = bytes(lines)
    if raw.strip()[1:-1].strip() == b"":
        return 0
    # Nested arrays and objects are taken out from the inside (first the commas inside them,
    # then the empty pair), with replaces that copy the text and build nothing else; what is
    # left are the commas between the lines.
    inner = _structure(raw)[1:-1]
    for _ in range(64):  # a line is an object of scalars; this much nesting is not a batch
        if b"[" not in inner and b"{" not in inner:
            return inner.count(b",") + 1
        inner = inner.replace(b",}", b"}").replace(b",]", b"]")
        inner = inner.replace(b"{}", b"").replace(b"[]", b"")
    return None


def _parse_batch(body: bytes) -> tuple[list[Any], str | None]:
    _count_values(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput.single(("body",), f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise InvalidInput.single(("body", "lines"), 'send {"lines": [...]}')
    extra = set(data) - {"lines", "as_recorded"}
    if extra:
        raise InvalidInput.single(("body", sorted(extra)[0]), "unknown field")
    lines: list[Any] = data["lines"]
    if len(lines) > MAX_BATCH_LINES:
        raise InvalidInput.single(
            ("body", "lines"), f"{len(lines)} lines; at most {MAX_BATCH_LINES} lines a request"
        )
    instant = data.get("as_recorded")
    if instant is not None and not isinstance(instant, str):
        raise InvalidInput.single(("body", "as_recorded"), instant_message(instant))
    return lines, instant


def _ref(raw: Any) -> str | None:
    if isinstance(raw, dict):
        ref = raw.get("ref")
        if isinstance(ref, str):
            return ref[:200]
        if isinstance(ref, int) and not isinstance(ref, bool):
            return str(ref)
    return None


def _field_problem(errors: list[tuple[str, str]]) -> LineProblem:
    return LineProblem(
        TYPE_BASE + "validation-error",
        "The line is not valid",
        422,
        "; ".join(f"{f}: {m}" for f, m in errors),
        [FieldProblem([f], f, m, "value_error") for f, m in errors],
    )


def line_problem(error: DomainError) -> LineProblem:
    status, slug, title = 400, "bad-request", "Bad request"
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            status, slug, title = PROBLEMS[cls]
            break
    errors = None
    if isinstance(error, InvalidInput):
        errors = [
            FieldProblem(list(e.loc), ".".join(map(str, e.loc)), e.message, e.type)
            for e in error.errors
        ]
    return LineProblem(TYPE_BASE + slug, title, status, error.detail, errors)


BLOCK = 250
"""Lines written out together (see `write_lines`)."""


class LineOut(Protocol):
    """A written line's struct made of its ref, its question (given only to a line without an
    answer whose question was well formed), its answer and its own error."""

    def __call__(
        self,
        ref: str | None,
        question: QueryOut | None,
        answer: EquivalenceAnswer | None,
        error: LineProblem | None,
        /,
    ) -> msgspec.Struct: ...


def batch_line(
    ref: str | None,
    _question: QueryOut | None,
    answer: EquivalenceAnswer | None,
    error: LineProblem | None,
    /,
) -> BatchLineOut:
    """A line of the batch's answer (the question is the answer's own, or not repeated)."""
    return BatchLineOut(ref, answer, error)


@dataclass(frozen=True, slots=True)
class Lines:
    """A batch's lines as parsed (`parse_lines`, without the instants): the count, the refs
    and questions of the valid lines, and per line its own error (None: no line has one)."""

    count: int
    refs: list[str | None]
    lines: list[Line]
    line_errors: list[BatchLineOut | None] | None


@dataclass(frozen=True, slots=True)
class WrittenLines:
    """Lines as JSON: `json` the array of their structs, `summary` their counts."""

    json: bytes
    summary: BatchSummary


_encoder = msgspec.json.Encoder()


def write_lines(
    asked: Lines,
    outcomes: Iterable[Answer | DomainError],
    revision: int,
    line_out: LineOut = batch_line,
    *,
    repeated: frozenset[Line] = frozenset(),
    as_recorded: Sequence[AsRecorded | None] = (),
) -> WrittenLines:
    """The lines `asked` with the outcomes of the valid ones, in order: an answer computed at
    `revision` (or as recorded, per line of `as_recorded`), or the line's own error; a line
    that was not well formed keeps its parsing error. `line_out` makes each line's struct.

    The lines are written out in blocks as they are answered, so that their answers are freed
    block by block when `outcomes` is an iterator (10,000 answers held together cost more in
    garbage collection than their writing). msgspec writes compact JSON: the blocks joined
    are exactly the bytes of the whole array written at once. A line of `repeated` (asked
    more than once) has its answer written once, and shared.
    """
    count, line_errors = asked.count, asked.line_errors
    answered = zip(asked.refs, asked.lines, outcomes, strict=True)
    line_no = -1
    shared: dict[Line, EquivalenceAnswer] = {}
    writer = AnswerWriter()
    dumps = _encoder.encode
    blocks: list[bytes] = []
    block: list[msgspec.Struct] = []
    recognized = not_recognized = errors = 0
    for line_error in repeat(None, count) if line_errors is None else line_errors:
        if len(block) == BLOCK:
            blocks.append(dumps(block)[1:-1])
            block = []
        if line_error is not None:
            block.append(line_out(line_error.ref, None, None, line_error.error))
            errors += 1
            continue
        ref, line, outcome = next(answered)
        line_no += 1
        if isinstance(outcome, Answer):
            if outcome.recognized:
                recognized += 1
            else:
                not_recognized += 1
            if repeated and line in repeated:
                data = shared.get(line)
                if data is None:
                    data = shared[line] = writer.answer(outcome, *line, revision=revision)
            elif as_recorded and (when := as_recorded[line_no]) is not None:
                data = writer.answer(
                    outcome, *line, revision=when.revision, as_recorded=when.instant
                )
            else:
                data = writer.answer(outcome, *line, revision=revision)
            block.append(line_out(ref, None, data, None))
        else:
            errors += 1
            block.append(line_out(ref, QueryOut(*line), None, line_problem(outcome)))
    if block:
        blocks.append(dumps(block)[1:-1])
    summary = BatchSummary(count, recognized, not_recognized, errors)
    return WrittenLines(b"[" + b",".join(blocks) + b"]", summary)
