"""The equivalence resolver over HTTP: single questions, batches, markets and plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Iterator
from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ecolabel_registry.api.admission import LineSlots
from ecolabel_registry.api.batch_lines import Lines, lines_at_most, parse_lines, write_lines
from ecolabel_registry.api.deps import (
    EquivalenceDep,
    current_terms,
    equivalence_service,
    instant_of,
    today,
)
from ecolabel_registry.api.equivalence_io import (
    AS_RECORDED,
    AnswerWriter,
    BatchIn,
    BatchOut,
    EquivalenceAnswer,
    MarketOut,
    MarketsOut,
    PlanOut,
    body_doc,
    json_schema,
    plan_option,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.query import QuickRoute, declared_bounds, declared_route, declared_values
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.domain.validation import (
    ECONOMY_CODE_PATTERN,
    HS_CODE_PATTERN,
    iso_day,
    rfc3339_instant,
)
from ecolabel_registry.services.equivalence import (
    MAX_PLAN_TARGETS,
    EquivalenceService,
    Line,
    repeated_lines,
)
from ecolabel_registry.services.snapshots import (
    AsRecorded,
    PastSnapshots,
    Snapshot,
    out_of_history,
)

router = APIRouter(tags=["equivalence"])
JSON = "application/json"
MAX_BATCH_INSTANTS = 100
"""Different `as_recorded` instants one batch may ask at (each may need a resolver of its
own facts: a batch of 10,000 different ones would build thousands)."""


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
    return await _equivalence(request, scheme, certificate, target, on, hs_code, instant)


async def _equivalence(
    request: Request,
    scheme: str,
    certificate: str,
    target: str,
    on: dt.date | None,
    hs_code: str | None,
    instant: dt.datetime | None = None,
) -> Response:
    """The answer now (`current_terms`), or as recorded at `instant`: one plain-SQL
    statement (the revisions, and the certificate's terms as of them), no session, no
    threadpool hop while the snapshot of the facts they name is kept (building one runs in
    the threadpool, so other requests keep being answered meanwhile)."""
    state = request.app.state
    facts = state.hot_facts
    service = EquivalenceService(facts, state.resolver_cache)
    snapshot: Snapshot | None
    if instant is None:
        day = on or today()
        revision, snapshot, found = await current_terms(request, scheme, certificate)
    else:
        now = dt.datetime.now(dt.UTC)
        recorded = None
        if instant <= now:
            recorded = await facts.recorded_terms_async(instant, scheme, certificate)
        if recorded is None:
            loc = ("query", "as_recorded")
            raise await run_in_threadpool(out_of_history, facts, instant, now, loc)
        revision, facts_revision, found = recorded
        asked = AsRecorded(instant, revision, facts_revision)
        day = on or asked.day
        past: PastSnapshots = state.past_snapshots
        snapshot = past.kept(facts_revision)
        if snapshot is None:
            snapshot = await run_in_threadpool(past.at, facts, facts_revision)
    answer = service.answer(snapshot, scheme, certificate, found, target, day, hs_code)
    written = AnswerWriter().answer(
        answer, scheme, certificate, target, day, hs_code, revision=revision, as_recorded=instant
    )
    return _json(written)


Query6 = tuple[str, str, str, dt.date | None, str | None, dt.datetime | None]


class QuickEquivalenceRoute(QuickRoute[Query6]):
    """`GET /v1/equivalence`'s route: the quick way for a plain question (`QuickRoute`)."""

    def check(self, items: list[tuple[str, str]]) -> Query6 | None:
        return checked_query(items)

    def answer(self, request: Request, asked: Query6) -> Awaitable[Response]:
        return _equivalence(request, *asked)


router.add_api_route(
    "/v1/equivalence",
    get_equivalence,
    methods=["GET"],
    responses={**responses(404, 422), **body_doc(EquivalenceAnswer)},
    route_class_override=QuickEquivalenceRoute,
)


_BOUNDS = declared_bounds(declared_route(router, get_equivalence))


def checked_query(items: list[tuple[str, str]]) -> Query6 | None:
    """The parameters of `get_equivalence` when FastAPI would accept `items` as they are,
    with the values it would pass; None on any doubt (a repeated name, one it does not
    declare itself, a value out of its declared bounds, a date not written YYYY-MM-DD), for
    FastAPI to decide and word the error."""
    values = declared_values(items, _BOUNDS)
    if values is None:
        return None
    scheme, number, target = values.get("scheme"), values.get("certificate"), values.get("target")
    if scheme is None or number is None or target is None:
        return None
    day, recorded = values.get("on"), values.get("as_recorded")
    on = None if day is None else iso_day(day)
    instant = None if recorded is None else rfc3339_instant(recorded)
    if (on is None) != (day is None) or (instant is None) != (recorded is None):
        return None
    hs_code = values.get("hs_code")
    return scheme, number, target, on, hs_code, instant


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/equivalence/batch",
    responses={**responses(422, 503), **body_doc(BatchOut)},
    openapi_extra={
        "requestBody": {"required": True, "content": {JSON: {"schema": json_schema(BatchIn)}}}
    },
)
async def post_equivalence_batch(
    request: Request, body: Annotated[bytes, Depends(_raw_body)]
) -> Response:
    """Up to 10,000 questions in one request; each line gets its own answer or its own error.

    A process answers a bounded number of lines at once (`ECOLABEL_MAX_LINES_AT_ONCE`): a
    batch past it waits its turn, then answers 503 with Retry-After."""
    service = equivalence_service(request)
    slots: LineSlots = request.app.state.line_slots
    # Its lines are counted (not read) to take their place; then one threadpool hop for the
    # whole batch: parsing, reading and answering 10,000 lines would otherwise hold the event
    # loop (and every other request) for their duration.
    async with slots.taken(lines_at_most(body)):
        data: bytes = await run_in_threadpool(_answer_batch, service, body)
    return Response(data, media_type=JSON)


def _answer_batch(service: EquivalenceService, body: bytes) -> bytes:
    count, refs, lines, line_errors, instants = parse_lines(body, today())
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
    written = write_lines(
        Lines(count, refs, lines, line_errors),
        results,
        revision,
        repeated=repeated,
        as_recorded=asked,
    )
    return b"".join(
        (b'{"results":', written.json, b',"summary":', _encoder.encode(written.summary), b"}")
    )


def _asked(
    service: EquivalenceService, as_recorded: str | None, on: dt.date | None
) -> tuple[dt.datetime | None, AsRecorded | None, dt.date]:
    """The `as_recorded` instant (None: now), the registry as recorded then, and the day
    asked about: `on`, else today or the instant's day."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    asked = None if instant is None else service.as_recorded(instant, ("query", "as_recorded"))
    return instant, asked, on or (today() if asked is None else asked.day)


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
    instant, asked, day = _asked(service, as_recorded, on)
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
    instant, asked, day = _asked(service, as_recorded, on)
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
