"""Decisions on the record over HTTP, and the registry's public signing keys."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import msgspec
import orjson
from fastapi import APIRouter, Depends, Header, Path, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ecolabel_registry.api.admission import DecisionQuota, LineSlots
from ecolabel_registry.api.batch_lines import Lines, decode_line, lines_at_most, parse_lines
from ecolabel_registry.api.decisions_io import (
    DecisionOut,
    JwksOut,
    Renderer,
    ReplayOut,
    SingleQuestion,
    decision_url,
    questions,
    read_credential,
    recorded_lines,
    replay_report,
    response_json,
    subject_json,
)
from ecolabel_registry.api.deps import (
    ActorDep,
    current_terms,
    decision_service,
    decision_store,
    today,
)
from ecolabel_registry.api.equivalence_io import BatchLineIn, LineProblem, json_schema
from ecolabel_registry.api.problems import responses
from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import DomainError, FieldError, InvalidInput
from ecolabel_registry.services.ports.decisions import StoredDecision
from ecolabel_registry.services.signing import ReceiptSigner

router = APIRouter(tags=["decisions"])
well_known = APIRouter(tags=["decisions"])
JSON = "application/json"
MAX_QUESTION_BYTES = 4096
"""A question is five short fields; a larger `question` value is refused unread."""
IMMUTABLE = "public, max-age=86400, immutable"
JWKS_CACHE = "public, max-age=300"

_shape = msgspec.json.Decoder(dict[str, msgspec.Raw])


class DecisionQuestionIn(msgspec.Struct, forbid_unknown_fields=True):
    question: BatchLineIn


class DecisionLinesIn(msgspec.Struct, forbid_unknown_fields=True):
    lines: list[BatchLineIn]


def _request_schema() -> dict[str, Any]:
    return {"oneOf": [json_schema(DecisionQuestionIn), json_schema(DecisionLinesIn)]}


def _doc(kind: type[msgspec.Struct], status: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"content": {JSON: {"schema": json_schema(kind)}}}}


DECISION_AS_RECORDED = (
    "a decision records the answer the registry gives now; ask as recorded at an earlier "
    "instant with GET /v1/equivalence or the batch, or replay a decision recorded then"
)


def parse_decision(body: bytes) -> SingleQuestion | Lines:
    """`{"question": {...}}` (one question) or `{"lines": [...]}` (the batch's lines, each
    with its own errors); InvalidInput for anything else."""
    try:
        shape = _shape.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidInput.single(("body",), f"not valid JSON: {exc}") from None
    except RecursionError:  # values nested thousands deep, which no decision holds
        raise InvalidInput.single(("body",), "not valid JSON: nested too deep") from None
    if shape.keys() == {"lines"}:
        count, refs, lines, line_errors, instants = parse_lines(body, today())
        if count == 0:
            raise InvalidInput.single(("body", "lines"), "a decision records at least one line")
        if any(instant is not None for instant in instants):
            raise InvalidInput.single(("body", "as_recorded"), DECISION_AS_RECORDED)
        return Lines(count, refs, lines, line_errors)
    if shape.keys() != {"question"}:
        extra = sorted(shape.keys() - {"question", "lines"})
        raise InvalidInput.single(
            ("body", extra[0]) if extra else ("body",),
            'send {"question": {"scheme": ..., "certificate": ..., "target": ...}} '
            'or {"lines": [...]}',
        )
    raw = bytes(shape["question"])
    if len(raw) > MAX_QUESTION_BYTES:
        raise InvalidInput.single(
            ("body", "question"), f"a question takes at most {MAX_QUESTION_BYTES} bytes"
        )
    line = decode_line(orjson.loads(raw))
    if isinstance(line, LineProblem):
        if not line.errors:
            raise InvalidInput.single(("body", "question"), line.detail)
        raise InvalidInput(
            [FieldError(("body", "question", *e.loc), e.message) for e in line.errors]
        )
    if line.as_recorded is not None:
        raise InvalidInput.single(("body", "question", "as_recorded"), DECISION_AS_RECORDED)
    question = (line.scheme, line.certificate, line.target, line.on or today(), line.hs_code)
    return SingleQuestion(line.ref, question)


def _question_error(error: DomainError) -> DomainError:
    """A one-question decision's error, its fields named where the body has them."""
    if isinstance(error, InvalidInput):
        return InvalidInput(
            [FieldError(("body", "question", *e.loc), e.message) for e in error.errors]
        )
    return error


def _record_lines(request: Request, actor: Actor, asked: Lines) -> tuple[StoredDecision, bytes]:
    render = Renderer(request.app.state.settings.registry_url, asked)
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        service = decision_service(request, session, len(asked.lines))
        stored = service.record(actor, "lines", asked.count, asked.lines, render)
        session.commit()
    return stored, response_json(stored.id, render.subject_json, stored.receipt)


async def _record_question(
    request: Request, actor: Actor, asked: SingleQuestion
) -> tuple[StoredDecision, bytes]:
    """A one-question decision on the event loop: its certificate read as the single
    question reads it, answered, signed, then stored (`DecisionStore`)."""
    render = Renderer(request.app.state.settings.registry_url, asked)
    service = decision_service(request, None)
    try:
        ring = service.ready()
        _, snapshot, terms = await current_terms(request, asked.line[0], asked.line[1])
        recorded = service.answer_question(snapshot, terms, asked.line)
        credential = service.credential(recorded, render)
        stored = service.signed(ring, actor, "question", 1, recorded, credential)
    except DomainError as exc:
        raise _question_error(exc) from None
    await decision_store(request).add(stored)
    return stored, response_json(stored.id, render.subject_json, stored.receipt)


async def _record(
    request: Request, actor: Actor, asked: SingleQuestion | Lines
) -> tuple[StoredDecision, bytes]:
    """The decision recorded, once its lines are counted against the key's quota."""
    quota: DecisionQuota = request.app.state.decision_quota
    if isinstance(asked, SingleQuestion):
        quota.take(actor.key_id, 1)
        return await _record_question(request, actor, asked)
    quota.take(actor.key_id, asked.count)
    return await run_in_threadpool(_record_lines, request, actor, asked)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/decisions",
    status_code=201,
    responses={**responses(401, 404, 413, 422, 429, 503), **_doc(DecisionOut, 201)},
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": _request_schema()}}}
    },
)
async def post_decision(
    request: Request, actor: ActorDep, body: Annotated[bytes, Depends(_raw_body)]
) -> Response:
    """Ask one question or up to 10,000 lines for the record: the answer(s) are stored under a
    random id and signed (the receipt, a W3C Verifiable Credential secured with JOSE).

    An API key may ask for the record `ECOLABEL_DECISION_LINES_PER_KEY_PER_HOUR` lines an
    hour (429 with Retry-After past it, nothing recorded); decisions of many lines share the
    batch's bound on lines answered at once (503 with Retry-After)."""
    if len(body) <= MAX_QUESTION_BYTES:  # parsed on the event loop: a question, or a few lines
        stored, data = await _record(request, actor, parse_decision(body))
    else:
        # The lines take their place (counted, not read) before they are parsed and answered.
        slots: LineSlots = request.app.state.line_slots
        async with slots.taken(lines_at_most(body)):
            asked = await run_in_threadpool(parse_decision, body)
            stored, data = await _record(request, actor, asked)
    url = decision_url(request.app.state.settings.registry_url, stored.id)
    return Response(data, status_code=201, media_type=JSON, headers={"Location": url})


DecisionId = Annotated[
    str,
    Path(
        max_length=300,
        description="The decision's id (24 URL-safe characters); any other text is a 404.",
    ),
]


def _stored(request: Request, decision_id: str) -> StoredDecision:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        return decision_service(request, session).get(decision_id)


@router.get(
    "/v1/decisions/{decision_id}", responses={**responses(404, 422), **_doc(DecisionOut, 200)}
)
async def get_decision(request: Request, decision_id: DecisionId) -> Response:
    """A decision and its receipt, as recorded. Ids are random; an id of any other form is
    unknown (404), like an id of no decision (422 past 300 characters)."""

    def read() -> bytes:
        stored = _stored(request, decision_id)
        return response_json(stored.id, subject_json(stored.payload), stored.receipt)

    data = await run_in_threadpool(read)
    return Response(data, media_type=JSON, headers={"Cache-Control": IMMUTABLE})


@router.get(
    "/v1/decisions/{decision_id}/replay",
    responses={**responses(404, 422), **_doc(ReplayOut, 200)},
)
async def get_decision_replay(request: Request, decision_id: DecisionId) -> Response:
    """The decision's question(s) asked again, on the recorded dates: whether every answer
    is the one recorded, and the lines that differ."""

    def replay() -> bytes:
        factory: sessionmaker[Session] = request.app.state.sessionmaker
        with factory() as session:
            stored = decision_service(request, session).get(decision_id)
            credential = read_credential(stored.payload)
            asked = questions(recorded_lines(credential.credential_subject))
            service = decision_service(request, session, len(asked))
            again = service.answer_for_record(asked, stored.recorded_at)
        return msgspec.json.encode(replay_report(credential, stored.registry_revision, again))

    return Response(await run_in_threadpool(replay), media_type=JSON)


@well_known.get(
    "/.well-known/jwks.json",
    response_class=Response,
    responses={
        200: {
            "description": "The keys",
            "content": {"application/jwk-set+json": {"schema": json_schema(JwksOut)}},
        },
        304: {"description": "Not modified"},
    },
)
def get_jwks(
    request: Request,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The registry's public signing keys (JWKS, RFC 7517), the retired ones included, so
    that every receipt it ever signed still verifies."""
    signer: ReceiptSigner = request.app.state.signer
    data = orjson.dumps(signer.jwks())
    tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"Cache-Control": JWKS_CACHE, "ETag": tag}
    if if_none_match is not None and tag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="application/jwk-set+json", headers=headers)
