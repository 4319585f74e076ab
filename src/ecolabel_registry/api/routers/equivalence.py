"""The equivalence resolver over HTTP: single questions, batches, markets and plans."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ecolabel_registry.api.deps import RegistryDep, require_reader, today
from ecolabel_registry.api.equivalence_io import (
    BatchIn,
    BatchOut,
    EquivalenceAnswer,
    MarketsOut,
    PlanOut,
    answer_dict,
    plan_option_dict,
    route_dict,
)
from ecolabel_registry.api.problems import PROBLEMS, TYPE_BASE, responses
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN, HS_CODE_PATTERN
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.services.equivalence import (
    MAX_BATCH_LINES,
    EquivalenceService,
    Question,
    ResolverCache,
)

router = APIRouter(tags=["equivalence"])
JSON = "application/json"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def equivalence_service(request: Request, registry: RegistryDep) -> EquivalenceService:
    cache: ResolverCache = request.app.state.resolver_cache
    return EquivalenceService(SqlFacts(registry.session), cache)


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
    day = on or today()
    # One plain-SQL statement, no session, no threadpool hop. Rebuilding the cached facts
    # after a write takes seconds: that runs in the threadpool, so other requests keep being
    # answered meanwhile.
    cache: ResolverCache = request.app.state.resolver_cache
    facts = HotFacts(request.app.state.hot_reads)
    service = EquivalenceService(facts, cache)
    revision, found = await facts.certificate_and_revision_async(scheme, certificate)
    snapshot = cache.current(revision)
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.at, facts, revision)
    answer = service.answer(snapshot, scheme, certificate, found, target, day, hs_code)
    return _json(answer_dict(answer, scheme, certificate, target, day, hs_code))


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
    lines = _parse_batch(body)
    day = today()
    questions: list[Question] = []
    results: list[dict[str, Any] | None] = []
    line_errors: dict[int, dict[str, Any]] = {}
    for i, raw in enumerate(lines):
        question, problem = _question(raw, day)
        if question is None:
            line_errors[i] = {"ref": _ref(raw), "answer": None, "error": problem}
        else:
            questions.append(question)
    answered = iter(service.batch(questions))
    summary = {"lines": len(lines), "recognized": 0, "not_recognized": 0, "errors": 0}
    for i in range(len(lines)):
        if i in line_errors:
            results.append(line_errors[i])
            summary["errors"] += 1
            continue
        result = next(answered)
        q = result.question
        if result.answer is not None:
            summary["recognized" if result.answer.recognized else "not_recognized"] += 1
            results.append(
                {
                    "ref": result.ref,
                    "answer": answer_dict(
                        result.answer, q.scheme, q.certificate, q.target, q.on, q.hs_code
                    ),
                    "error": None,
                }
            )
        else:
            assert result.error is not None
            summary["errors"] += 1
            results.append(
                {"ref": result.ref, "answer": None, "error": _line_problem(result.error)}
            )
    return orjson.dumps({"results": results, "summary": summary})


def _parse_batch(body: bytes) -> list[Any]:
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
            errors.append((name, f"must be a non-empty string of at most {limit} characters"))
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
            errors.append(("on", "must be a date as YYYY-MM-DD"))
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
            pattern=r"^[A-Z][A-Z0-9]{1,9}(,[A-Z][A-Z0-9]{1,9}){0,49}$",
            description="Comma-separated target economies, e.g. KR,JP,DE (at most 50).",
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
