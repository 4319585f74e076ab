"""The equivalence resolver over HTTP: single questions, batches, markets and plans."""

from __future__ import annotations

import datetime as dt
import re
from itertools import repeat
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from ecolabel_registry.api.deps import require_reader, today
from ecolabel_registry.api.equivalence_io import (
    AnswerWire,
    AnswerWriter,
    BatchIn,
    BatchOut,
    EquivalenceAnswer,
    LineWire,
    MarketsOut,
    PlanOut,
    answer_dict,
    plan_option_dict,
    route_dict,
)
from ecolabel_registry.api.problems import PROBLEMS, TYPE_BASE, responses
from ecolabel_registry.api.query import query_names
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.domain.messages import date_message, economy_code_message, hs_code_message
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN, HS_CODE_PATTERN
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.services.equivalence import (
    MAX_BATCH_LINES,
    MAX_PLAN_TARGETS,
    EquivalenceService,
    Line,
    Question,
    ResolverCache,
    repeated_lines,
)

router = APIRouter(tags=["equivalence"])
JSON = "application/json"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BLOCK = 250  # batch lines written out together


class _FastLine(msgspec.Struct, forbid_unknown_fields=True):
    """A batch line as `_question` accepts it: the types and lengths of `BatchLineIn`."""

    scheme: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    ref: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    on: dt.date | None = None
    hs_code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)] | None = None


class _FastBatch(msgspec.Struct, forbid_unknown_fields=True):
    lines: Annotated[list[_FastLine], msgspec.Meta(max_length=MAX_BATCH_LINES)]


_fast_batch = msgspec.json.Decoder(_FastBatch)


class _BatchShape(msgspec.Struct):
    lines: msgspec.Raw  # kept as bytes: nothing in it is built


_batch_shape = msgspec.json.Decoder(_BatchShape)
MAX_BATCH_VALUES = 20 * MAX_BATCH_LINES
"""The most JSON values a batch may hold: a full batch of 10,000 lines holds ~80,000."""
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")
_encoder = msgspec.json.Encoder()


def equivalence_service(request: Request) -> EquivalenceService:
    cache: ResolverCache = request.app.state.resolver_cache
    return EquivalenceService(HotFacts(request.app.state.batch_reads), cache)


EquivalenceDep = Annotated[EquivalenceService, Depends(equivalence_service)]


async def require_reader_fast(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """`require_reader` without a threadpool hop when reads are public (the usual case)."""
    if request.app.state.settings.public_reads:
        return
    await run_in_threadpool(require_reader, request, authorization)


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


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its nested definitions written in place."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type=JSON)


@router.get("/v1/equivalence", response_model=EquivalenceAnswer, responses=responses(404, 422))
async def get_equivalence(
    request: Request,
    scheme: Scheme,
    certificate: Number,
    target: Target,
    on: On = None,
    hs_code: HsCode = None,
) -> Response:
    """Is the certificate recognized in `target` on `on` (for `hs_code`)? Routes and reasons."""
    return await _equivalence(request, scheme, certificate, target, on, hs_code)


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
    facts = HotFacts(request.app.state.hot_reads)
    service = EquivalenceService(facts, cache)
    revision, found = await facts.terms_and_revision_async(scheme, certificate)
    snapshot = cache.current(revision)
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.at, facts, revision)
    answer = service.answer(snapshot, scheme, certificate, found, target, day, hs_code)
    return _json(answer_dict(answer, scheme, certificate, target, day, hs_code))


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
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECLARED = "ecolabel.declared_route"
"""Set in a request's scope when it goes on to the declared `get_equivalence` route."""

Query5 = tuple[str, str, str, dt.date | None, str | None]


def checked_query(items: list[tuple[str, str]]) -> Query5 | None:
    """The parameters of `get_equivalence` when FastAPI would accept `items` as they are,
    with the values it would pass; None on any doubt (a repeated or unknown name, a length,
    a pattern, a date not written YYYY-MM-DD), for FastAPI to decide and word the error."""
    values = dict(items)
    if len(values) != len(items) or not values.keys() <= _QUERY_NAMES:
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
        if not _ISO_DAY.fullmatch(text):
            return None
        try:
            on = dt.date.fromisoformat(text)
        except ValueError:
            return None
    return scheme, number, target, on, hs_code


class _QuickEquivalence:
    """`GET /v1/equivalence` without FastAPI's parameter machinery (a third of a question's
    time in the framework), for a query the declared parameters accept as it is and reads
    open to all. Anything else goes on to the declared route, which checks, authorizes and
    words its errors as always."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        app = scope["app"]
        checked = None
        if app.state.settings.public_reads:
            checked = checked_query(request.query_params.multi_items())
        if checked is None:
            scope[_DECLARED] = True
            await app.router(scope, receive, send)
            return
        response = await _equivalence(request, *checked)
        await response(scope, receive, send)


class _QuickRoute(Route):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get(_DECLARED) or scope.get("method") != "GET":
            return Match.NONE, {}
        return super().matches(scope)


def install_quick_route(app: Starlette) -> None:
    """Put the quick `GET /v1/equivalence` before every other route (not in OpenAPI)."""
    route = _QuickRoute(
        "/v1/equivalence", _QuickEquivalence(), methods=["GET"], include_in_schema=False
    )
    app.router.routes.insert(0, route)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/equivalence/batch",
    response_model=BatchOut,
    responses=responses(422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": inline_schema(BatchIn)}},
        }
    },
)
async def post_equivalence_batch(
    request: Request, body: Annotated[bytes, Depends(_raw_body)]
) -> Response:
    """Up to 10,000 questions in one request; each line gets its own answer or its own error."""
    reads: HotReads = request.app.state.batch_reads
    service = EquivalenceService(HotFacts(reads), request.app.state.resolver_cache)
    # One threadpool hop for the whole batch: parsing, reading and answering 10,000 lines
    # would otherwise hold the event loop (and every other request) for their duration.
    data: bytes = await run_in_threadpool(_answer_batch, service, body)
    return Response(data, media_type=JSON)


def _answer_batch(service: EquivalenceService, body: bytes) -> bytes:
    day = today()
    # Each line is an object: more braces than lines allowed may be too many lines, which the
    # line-by-line path counts before building anything.
    few = body.count(b"{") <= MAX_BATCH_LINES + 1
    checked = _fast_lines(body, day) if few else None
    if checked is None:
        checked = _lines_one_by_one(body, day)
    count, refs, lines, line_errors = checked
    # The lines are written out in blocks as they are answered, so that their answers are
    # freed block by block (10,000 answers held together cost more in garbage collection
    # than their writing). msgspec writes compact JSON: the blocks joined are exactly the
    # bytes of the whole document written at once.
    repeated = repeated_lines(lines)
    answered = zip(refs, lines, service.answer_lines(lines, repeated), strict=True)
    shared: dict[Line, AnswerWire] = {}  # the answers of lines asked again
    writer = AnswerWriter()
    dumps = _encoder.encode
    blocks: list[bytes] = []
    block: list[LineWire | dict[str, Any]] = []
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
        if isinstance(outcome, Answer):
            if outcome.recognized:
                recognized += 1
            else:
                not_recognized += 1
            if repeated and line in repeated:
                data = shared.get(line)
                if data is None:
                    data = shared[line] = writer.answer(outcome, *line)
            else:
                data = writer.answer(outcome, *line)
            block.append(LineWire(ref, data, None))
        else:
            errors += 1
            block.append(LineWire(ref, None, _line_problem(outcome)))
    if block:
        blocks.append(dumps(block)[1:-1])
    summary = {
        "lines": count,
        "recognized": recognized,
        "not_recognized": not_recognized,
        "errors": errors,
    }
    return b"".join((b'{"results":[', b",".join(blocks), b'],"summary":', dumps(summary), b"}"))


Checked = tuple[int, list[str | None], list[Line], list[dict[str, Any] | None] | None]
"""A batch's line count, the refs and questions of its valid lines, and per line its own
error (None for a line that goes to the service); no error list when every line is valid."""


def _fast_lines(body: bytes, day: dt.date) -> Checked | None:
    """Every line decoded and checked at once by msgspec; None when anything is off.

    Accepts only documents whose every line `_question` accepts, with the same values (the
    same types, lengths and dates as YYYY-MM-DD); anything else (bad JSON, a bad line, an
    unknown field, a NUL escape that `_question` refuses) goes to `_lines_one_by_one`, which
    writes each line's own error.
    """
    if b"\\u0000" in body:
        return None
    try:
        batch = _fast_batch.decode(body)
    except msgspec.DecodeError:  # ValidationError included
        return None
    refs = [line.ref for line in batch.lines]
    lines: list[Line] = [
        (line.scheme, line.certificate, line.target, line.on or day, line.hs_code)
        for line in batch.lines
    ]
    return len(lines), refs, lines, None


def _lines_one_by_one(body: bytes, day: dt.date) -> Checked:
    """The lines of a batch checked one by one: each invalid line gets its own error."""
    raw_lines = _parse_batch(body)
    dates: dict[str, dt.date] = {}
    lines: list[Line] = []
    refs: list[str | None] = []
    line_errors: list[dict[str, Any] | None] = []
    for raw in raw_lines:
        checked = _checked_line(raw, day, dates)
        if checked is None:
            question, problem = _question(raw, day)
            if question is None:
                line_errors.append({"ref": _ref(raw), "answer": None, "error": problem})
                continue
            checked = (
                question.ref,
                (
                    question.scheme,
                    question.certificate,
                    question.target,
                    question.on,
                    question.hs_code,
                ),
            )
        refs.append(checked[0])
        lines.append(checked[1])
        line_errors.append(None)
    return len(raw_lines), refs, lines, line_errors


def _checked_line(
    raw: Any, day: dt.date, dates: dict[str, dt.date]
) -> tuple[str | None, Line] | None:
    """A well-formed line's ref and question, checked cheaply; None sends it to `_question`.

    Accepts only what `_question` accepts, with the same values: any doubt (a wrong type, a
    length or NUL, an unknown field, a date not yet seen) is left to `_question`, which then
    also writes the line's error.
    """
    if type(raw) is not dict or not raw.keys() <= _LINE_FIELDS:
        return None
    scheme = raw.get("scheme")
    number = raw.get("certificate")
    target = raw.get("target")
    if (
        type(scheme) is not str
        or not 0 < len(scheme) <= 64
        or type(number) is not str
        or not 0 < len(number) <= 100
        or type(target) is not str
        or not 0 < len(target) <= 10
    ):
        return None
    if "\x00" in scheme or "\x00" in number or "\x00" in target:
        return None
    hs_code = raw.get("hs_code")
    if hs_code is not None and (
        type(hs_code) is not str or not 0 < len(hs_code) <= 10 or "\x00" in hs_code
    ):
        return None
    ref = raw.get("ref")
    if ref is not None and (type(ref) is not str or len(ref) > 200 or "\x00" in ref):
        return None
    text = raw.get("on")
    if text is None:
        on = day
    else:
        if type(text) is not str:
            return None
        found = dates.get(text)
        if found is None:
            if not 0 < len(text) <= 10 or "\x00" in text or not _DATE.match(text):
                return None
            try:
                found = dt.date.fromisoformat(text)
            except ValueError:
                return None
            dates[text] = found
        on = found
    return ref, (scheme, number, target, on, hs_code)


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
        raw = bytes(_batch_shape.decode(body).lines)
    except msgspec.DecodeError:
        return None
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


def _parse_batch(body: bytes) -> list[Any]:
    _count_values(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput.single(("body",), f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise InvalidInput.single(("body", "lines"), 'send {"lines": [...]}')
    extra = set(data) - {"lines"}
    if extra:
        raise InvalidInput.single(("body", sorted(extra)[0]), "unknown field")
    lines: list[Any] = data["lines"]
    if len(lines) > MAX_BATCH_LINES:
        raise InvalidInput.single(
            ("body", "lines"), f"{len(lines)} lines; at most {MAX_BATCH_LINES} lines a request"
        )
    return lines


def _ref(raw: Any) -> str | None:
    if isinstance(raw, dict):
        ref = raw.get("ref")
        if isinstance(ref, str):
            return ref[:200]
        if isinstance(ref, int) and not isinstance(ref, bool):
            return str(ref)
    return None


_LINE_FIELDS = {"ref", "scheme", "certificate", "target", "on", "hs_code"}


# The service checks a target's and an HS code's form (with these words) on every path; a
# line whose value is not even a string of the right length is worded the same here.
_LINE_VALUE_MESSAGES = {
    "target": economy_code_message,
    "hs_code": hs_code_message,
    "on": date_message,
}


def _question(raw: Any, day: dt.date) -> tuple[Question | None, dict[str, Any] | None]:
    if not isinstance(raw, dict):
        return None, _field_problem([("line", "must be an object")])
    errors: list[tuple[str, str]] = []
    for name in sorted(set(raw) - _LINE_FIELDS):
        errors.append((name, "unknown field"))
    values: dict[str, str | None] = {}
    for name, limit, required in (
        ("scheme", 64, True),
        ("certificate", 100, True),
        ("target", 10, True),
        ("hs_code", 10, False),
        ("on", 10, False),
    ):
        value = raw.get(name)
        if value is None:
            if required:
                errors.append((name, "required"))
            values[name] = None
        elif not isinstance(value, str) or not value or len(value) > limit:
            # A target, HS code or date is worded as the single question and the plan word it.
            wording = _LINE_VALUE_MESSAGES.get(name)
            message = f"must be a non-empty string of at most {limit} characters"
            errors.append((name, message if wording is None else wording(value)))
        elif "\x00" in value:
            errors.append((name, "must not contain NUL (\\u0000) characters"))
        else:
            values[name] = value
    ref = raw.get("ref")
    if ref is not None and not (isinstance(ref, str) and len(ref) <= 200 and "\x00" not in ref):
        errors.append(("ref", "must be a string of at most 200 characters"))
    on = day
    if values.get("on") is not None:
        text = values["on"] or ""
        try:
            if not _DATE.match(text):
                raise ValueError
            on = dt.date.fromisoformat(text)
        except ValueError:
            errors.append(("on", date_message(text)))
    if errors:
        return None, _field_problem(errors)
    return (
        Question(
            ref=ref,
            scheme=values["scheme"] or "",
            certificate=values["certificate"] or "",
            target=values["target"] or "",
            on=on,
            hs_code=values["hs_code"],
        ),
        None,
    )


def _field_problem(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + "validation-error",
        "title": "The line is not valid",
        "status": 422,
        "detail": "; ".join(f"{f}: {m}" for f, m in errors),
        "errors": [
            {"loc": [f], "field": f, "message": m, "type": "value_error"} for f, m in errors
        ],
    }


def _line_problem(error: DomainError) -> dict[str, Any]:
    status, slug, title = 400, "bad-request", "Bad request"
    for cls in type(error).__mro__:
        if cls in PROBLEMS:
            status, slug, title = PROBLEMS[cls]
            break
    problem: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": error.detail,
        "errors": None,
    }
    if isinstance(error, InvalidInput):
        problem["errors"] = [
            {
                "loc": list(e.loc),
                "field": ".".join(map(str, e.loc)),
                "message": e.message,
                "type": e.type,
            }
            for e in error.errors
        ]
    return problem


@router.get(
    "/v1/schemes/{scheme_id}/certificates/{number:path}/markets",
    response_model=MarketsOut,
    responses=responses(404, 422),
)
def get_certificate_markets(
    service: EquivalenceDep,
    scheme_id: Annotated[str, Path(max_length=64)],
    number: Annotated[str, Path(max_length=100)],
    on: On = None,
) -> Response:
    """Every economy and group where the certificate is recognized on `on`, with the best route."""
    day = on or today()
    markets = []
    for code, answer in service.markets(scheme_id, number, day):
        best = answer.routes[0]
        markets.append(
            {
                "economy": code,
                "recognized": answer.recognized,
                "level": best.level.value,
                "route": route_dict(best),
                "valid_until": None
                if answer.valid_until is None
                else answer.valid_until.isoformat(),
            }
        )
    return _json(
        {"scheme": scheme_id, "certificate": number, "on": day.isoformat(), "markets": markets}
    )


@router.get("/v1/equivalence/plan", response_model=PlanOut, responses=responses(422))
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
) -> Response:
    """For an exporter not yet certified: which schemes would be recognized in most targets."""
    day = on or today()
    wanted = list(dict.fromkeys(targets.split(",")))
    options = service.plan(hs_code, wanted, day)
    return _json(
        {
            "hs_code": hs_code,
            "targets": wanted,
            "on": day.isoformat(),
            "options": [plan_option_dict(o) for o in options],
        }
    )
