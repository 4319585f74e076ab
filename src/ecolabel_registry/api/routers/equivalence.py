"""The equivalence resolver over HTTP: single questions, batches, markets and plans."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Coroutine, Iterator
from itertools import repeat
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ecolabel_registry.api.deps import EquivalenceDep, equivalence_service, instant_of, today
from ecolabel_registry.api.equivalence_io import (
    AS_RECORDED,
    AnswerWriter,
    BatchIn,
    BatchLineIn,
    BatchLineOut,
    BatchOut,
    BatchSummary,
    EquivalenceAnswer,
    FieldProblem,
    LineProblem,
    MarketOut,
    MarketsOut,
    PlanOut,
    body_doc,
    json_schema,
    plan_option,
)
from ecolabel_registry.api.problems import PROBLEMS, TYPE_BASE, responses
from ecolabel_registry.api.query import query_names
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.domain.messages import (
    date_message,
    economy_code_message,
    hs_code_message,
    instant_message,
)
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.domain.validation import (
    ECONOMY_CODE_PATTERN,
    HS_CODE_PATTERN,
    iso_day,
    rfc3339_instant,
)
from ecolabel_registry.services.equivalence import (
    MAX_BATCH_LINES,
    MAX_PLAN_TARGETS,
    AsRecorded,
    EquivalenceService,
    Line,
    ResolverCache,
    repeated_lines,
)

router = APIRouter(tags=["equivalence"])
JSON = "application/json"
_BLOCK = 250  # batch lines written out together
MAX_BATCH_INSTANTS = 100
"""Different `as_recorded` instants one batch may ask at (each may need a resolver of its
own facts: a batch of 10,000 different ones would build thousands)."""


_fast_batch = msgspec.json.Decoder(BatchIn)
_batch_shape = msgspec.json.Decoder(dict[str, msgspec.Raw])  # `lines` kept as bytes
MAX_BATCH_VALUES = 20 * MAX_BATCH_LINES
"""The most JSON values a batch may hold: a full batch of 10,000 lines holds ~80,000."""
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")
_encoder = msgspec.json.Encoder()


Scheme = Annotated[
    str, Query(min_length=1, max_length=64, description="The certificate's scheme id.")
]
Number = Annotated[str, Query(min_length=1, max_length=100, description="The certificate number.")]
Target = Annotated[
    str,
    Query(
        pattern=ECONOMY_CODE_PATTERN, description="The economy (ISO alpha-2 or group) asked about."
    ),
]
On = Annotated[dt.date | None, Query(description="The date asked about; today when absent.")]
HsCode = Annotated[
    str | None, Query(pattern=HS_CODE_PATTERN, description="The declared HS code (2 to 10 digits).")
]
AsRecordedQuery = Annotated[str | None, Query(max_length=64, description=AS_RECORDED)]


def _json(data: msgspec.Struct) -> Response:
    return Response(_encoder.encode(data), media_type=JSON)


async def get_equivalence(
    request: Request,
    scheme: Scheme,
    certificate: Number,
    target: Target,
    on: On = None,
    hs_code: HsCode = None,
    as_recorded: AsRecordedQuery = None,
) -> Response:
    """Is the certificate recognized in `target` on `on` (for `hs_code`)? Routes and reasons.

    With `as_recorded`: the answer the registry would have given at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    if instant is not None:
        service: EquivalenceService = equivalence_service(request)
        data = await run_in_threadpool(
            _as_recorded, service, instant, scheme, certificate, target, on, hs_code
        )
        return _json(data)
    return await _equivalence(request, scheme, certificate, target, on, hs_code)


def _as_recorded(
    service: EquivalenceService,
    instant: dt.datetime,
    scheme: str,
    certificate: str,
    target: str,
    on: dt.date | None,
    hs_code: str | None,
) -> EquivalenceAnswer:
    asked = service.as_recorded(instant, ("query", "as_recorded"))
    day = on or asked.day
    answer = service.answer_as_recorded(asked, scheme, certificate, target, day, hs_code)
    return AnswerWriter().answer(
        answer,
        scheme,
        certificate,
        target,
        day,
        hs_code,
        revision=asked.revision,
        as_recorded=instant,
    )


async def _equivalence(
    request: Request,
    scheme: str,
    certificate: str,
    target: str,
    on: dt.date | None,
    hs_code: str | None,
) -> Response:
    day = on or today()
    # One plain-SQL statement, no session, no threadpool hop. Bringing the cached facts up to
    # date after a write (milliseconds from the change log, seconds for a full reload) runs
    # in the threadpool, so other requests keep being answered meanwhile.
    cache: ResolverCache = request.app.state.resolver_cache
    facts = request.app.state.hot_facts
    service = EquivalenceService(facts, cache)
    revision, found = await facts.terms_and_revision_async(scheme, certificate)
    snapshot = cache.current(revision)
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.at, facts, revision)
    answer = service.answer(snapshot, scheme, certificate, found, target, day, hs_code)
    return _json(
        AnswerWriter().answer(answer, scheme, certificate, target, day, hs_code, revision=revision)
    )


class QuickEquivalenceRoute(APIRoute):
    """`GET /v1/equivalence`'s route: a query the declared parameters accept as it is, with
    reads open to all, is answered without FastAPI's parameter machinery (a third of a
    question's time in the framework). Anything else goes to the declared handler, which
    checks, authorizes and words its errors as always."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.app.state.settings.public_reads:
                checked = checked_query(request.query_params.multi_items())
                if checked is not None:
                    return await _equivalence(request, *checked)
            return await declared(request)

        return handler


router.add_api_route(
    "/v1/equivalence",
    get_equivalence,
    methods=["GET"],
    responses={**responses(404, 422), **body_doc(EquivalenceAnswer)},
    route_class_override=QuickEquivalenceRoute,
)


def _declared_query_names() -> frozenset[str]:
    """The query parameters `get_equivalence` declares, as the unknown-parameter check finds
    them: the quick route takes no name the declared route would refuse."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is get_equivalence:
            return frozenset(query_names(route))
    raise LookupError("GET /v1/equivalence is not declared")  # pragma: no cover


_QUERY_NAMES = _declared_query_names()
_ECONOMY = re.compile(ECONOMY_CODE_PATTERN)
_HS = re.compile(HS_CODE_PATTERN)

Query5 = tuple[str, str, str, dt.date | None, str | None]


def checked_query(items: list[tuple[str, str]]) -> Query5 | None:
    """The parameters of `get_equivalence` when FastAPI would accept `items` as they are,
    with the values it would pass; None on any doubt (a repeated or unknown name, a length,
    a pattern, a date not written YYYY-MM-DD), for FastAPI to decide and word the error."""
    values = dict(items)
    if len(values) != len(items) or not values.keys() <= _QUERY_NAMES:
        return None
    if "as_recorded" in values:  # the declared handler answers as recorded
        return None
    scheme, number, target = values.get("scheme"), values.get("certificate"), values.get("target")
    if (
        scheme is None
        or not 0 < len(scheme) <= 64
        or number is None
        or not 0 < len(number) <= 100
        or target is None
        or not _ECONOMY.fullmatch(target)
    ):
        return None
    hs_code = values.get("hs_code")
    if hs_code is not None and not _HS.fullmatch(hs_code):
        return None
    on: dt.date | None = None
    text = values.get("on")
    if text is not None:
        on = iso_day(text)
        if on is None:
            return None
    return scheme, number, target, on, hs_code


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/equivalence/batch",
    responses={**responses(422), **body_doc(BatchOut)},
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": json_schema(BatchIn)}}}
    },
)
async def post_equivalence_batch(
    request: Request, body: Annotated[bytes, Depends(_raw_body)]
) -> Response:
    """Up to 10,000 questions in one request; each line gets its own answer or its own error."""
    service = equivalence_service(request)
    # One threadpool hop for the whole batch: parsing, reading and answering 10,000 lines
    # would otherwise hold the event loop (and every other request) for their duration.
    data: bytes = await run_in_threadpool(_answer_batch, service, body)
    return Response(data, media_type=JSON)


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


def _answer_batch(service: EquivalenceService, body: bytes) -> bytes:
    count, refs, lines, line_errors, instants = parse_lines(body, today())
    # The lines are written out in blocks as they are answered, so that their answers are
    # freed block by block (10,000 answers held together cost more in garbage collection
    # than their writing). msgspec writes compact JSON: the blocks joined are exactly the
    # bytes of the whole document written at once.
    snapshot = service.current_snapshot()
    revision = snapshot.revision
    asked: list[AsRecorded | None] = []
    if any(instant is not None for instant in instants):
        # Each line as recorded at its own instant (or the batch's): the instants' revisions
        # are looked up once each, and an instant out of the history is its lines' error.
        known: dict[dt.datetime, AsRecorded | DomainError] = {}
        for instant in instants:
            if instant is not None and instant not in known:
                if len(known) == MAX_BATCH_INSTANTS:
                    known[instant] = InvalidInput.single(
                        ("as_recorded",),
                        f"a batch asks as recorded at most {MAX_BATCH_INSTANTS} different "
                        "instants; send the other lines in another batch",
                    )
                    continue
                try:
                    known[instant] = service.as_recorded(instant, ("as_recorded",))
                except DomainError as error:
                    known[instant] = error
        outcomes: list[Answer | DomainError] = []
        for instant in instants:
            found = None if instant is None else known[instant]
            asked.append(found if isinstance(found, AsRecorded) else None)
        answers = service.answer_lines_as_recorded(lines, asked, snapshot)
        for i, instant in enumerate(instants):
            found = None if instant is None else known[instant]
            outcomes.append(found if isinstance(found, DomainError) else answers[i])
        repeated: frozenset[Line] = frozenset()
        results: Iterator[Answer | DomainError] = iter(outcomes)
    else:
        repeated = repeated_lines(lines)
        results = service.answer_lines(lines, repeated, snapshot)
    answered = zip(refs, lines, results, strict=True)
    line_no = -1
    shared: dict[Line, EquivalenceAnswer] = {}  # the answers of lines asked again
    writer = AnswerWriter()
    dumps = _encoder.encode
    blocks: list[bytes] = []
    block: list[BatchLineOut] = []
    recognized = not_recognized = errors = 0
    for line_error in repeat(None, count) if line_errors is None else line_errors:
        if len(block) == _BLOCK:
            blocks.append(dumps(block)[1:-1])
            block = []
        if line_error is not None:
            block.append(line_error)
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
            elif asked:
                when = asked[line_no]
                data = writer.answer(
                    outcome,
                    *line,
                    revision=revision if when is None else when.revision,
                    as_recorded=None if when is None else when.instant,
                )
            else:
                data = writer.answer(outcome, *line, revision=revision)
            block.append(BatchLineOut(ref, data, None))
        else:
            errors += 1
            block.append(BatchLineOut(ref, None, line_problem(outcome)))
    if block:
        blocks.append(dumps(block)[1:-1])
    summary = BatchSummary(count, recognized, not_recognized, errors)
    return b"".join((b'{"results":[', b",".join(blocks), b'],"summary":', dumps(summary), b"}"))


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


@router.get(
    "/v1/schemes/{scheme_id}/certificates/{number:path}/markets",
    responses={**responses(404, 422), **body_doc(MarketsOut)},
)
def get_certificate_markets(
    service: EquivalenceDep,
    scheme_id: Annotated[str, Path(max_length=64)],
    number: Annotated[str, Path(max_length=100)],
    on: On = None,
    as_recorded: AsRecordedQuery = None,
) -> Response:
    """Every economy and group where the certificate is recognized on `on`, with the best route.

    With `as_recorded`: the markets the registry would have listed at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    asked = None if instant is None else service.as_recorded(instant, ("query", "as_recorded"))
    day = on or (today() if asked is None else asked.day)
    writer = AnswerWriter()
    revision, found = service.markets(scheme_id, number, day, asked)
    markets = [
        MarketOut(
            code,
            answer.recognized,
            answer.routes[0].level,
            writer.route(answer.routes[0]),
            answer.valid_until,
        )
        for code, answer in found
    ]
    return _json(MarketsOut(scheme_id, number, day, markets, revision, instant))


@router.get("/v1/equivalence/plan", responses={**responses(422), **body_doc(PlanOut)})
def get_equivalence_plan(
    service: EquivalenceDep,
    hs_code: Annotated[str, Query(pattern=HS_CODE_PATTERN, description="The product's HS code.")],
    targets: Annotated[
        str,
        Query(
            min_length=1,
            description=(
                f"Comma-separated target economies, e.g. KR,JP,DE (at most {MAX_PLAN_TARGETS})."
            ),
            examples=["KR,JP,DE"],
        ),
    ],
    on: On = None,
    as_recorded: AsRecordedQuery = None,
) -> Response:
    """For an exporter not yet certified: which schemes would be recognized in most targets.

    With `as_recorded`: the plan the registry would have given at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    asked = None if instant is None else service.as_recorded(instant, ("query", "as_recorded"))
    day = on or (today() if asked is None else asked.day)
    wanted = list(dict.fromkeys(targets.split(",")))
    if asked is None:
        snapshot = service.current_snapshot()
        revision = snapshot.revision
    else:
        revision = asked.revision
    options = service.plan(hs_code, wanted, day, asked)
    return _json(
        PlanOut(hs_code, wanted, day, [plan_option(o) for o in options], revision, instant)
    )
