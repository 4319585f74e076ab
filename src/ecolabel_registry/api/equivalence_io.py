"""The equivalence contract on the wire: one msgspec definition of each body.

The batch line, the question's answer, the batch's results, the markets and the plan are
each one `msgspec.Struct` here. Every path decodes and writes through them (the single
question, its quick route, the batch, the markets, the plan), and the OpenAPI document
describes them from the same definitions (`json_schema`, msgspec's JSON Schema), so there is
no second model to keep in step. Struct fields are declared in the order of the JSON keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

from ecolabel_registry.domain.model import Condition, Level
from ecolabel_registry.domain.resolver import Answer, PlanOption, Route
from ecolabel_registry.services.equivalence import MAX_BATCH_LINES

AS_RECORDED = (
    "An RFC 3339 instant with its offset: the answer the registry would have given then "
    "(its facts and certificates as recorded at that instant); `on` defaults to its UTC date."
)


class BatchLineIn(msgspec.Struct, forbid_unknown_fields=True):
    """One question of a batch. Fields in the order their mistakes are listed."""

    scheme: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=10)]
    hs_code: Annotated[str, msgspec.Meta(min_length=1, max_length=10)] | None = None
    on: Annotated[dt.date | None, msgspec.Meta(description="Defaults to today.")] = None
    ref: Annotated[
        Annotated[str, msgspec.Meta(max_length=200)] | None,
        msgspec.Meta(description="The caller's own line reference."),
    ] = None
    as_recorded: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None,
        msgspec.Meta(description=AS_RECORDED),
    ] = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    lines: Annotated[list[BatchLineIn], msgspec.Meta(max_length=MAX_BATCH_LINES)]
    as_recorded: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None,
        msgspec.Meta(description=AS_RECORDED + " For every line that names none."),
    ] = None


class ConditionOut(msgspec.Struct):
    text: str
    criteria: list[str]


class RouteStepOut(msgspec.Struct):
    agreement_id: str
    scope_entry_id: str
    recognizing_scheme: str
    recognized_scheme: str
    level: Level


class RouteOut(msgspec.Struct):
    basis: Literal["native", "agreement"]
    agreement_id: str | None
    recognizing_scheme: str
    scope_entry_id: str | None
    equivalent_category: str | None
    level: Level
    conditions: list[ConditionOut]
    valid_until: dt.date | None
    path: Annotated[
        list[RouteStepOut],
        msgspec.Meta(description="Every agreement of a route, in order; empty for native."),
    ]


class ReasonOut(msgspec.Struct):
    code: str
    message: str
    agreement_id: str | None
    scheme: str | None


class QueryOut(msgspec.Struct):
    scheme: str
    certificate: str
    target: str
    on: dt.date
    hs_code: str | None


class EquivalenceAnswer(msgspec.Struct, omit_defaults=True):
    """Whether a certificate is recognized in an economy on a date, and why."""

    query: QueryOut
    recognized: bool
    level: Level | None
    routes: list[RouteOut]
    conditions: list[ConditionOut]
    reasons: list[ReasonOut]
    valid_until: Annotated[
        dt.date | None,
        msgspec.Meta(
            description="The last date on which the same answer holds unless a fact is changed."
        ),
    ]
    explanation: str
    registry_revision: Annotated[
        int, msgspec.Meta(description="The registry revision the answer was computed from.")
    ]
    as_recorded: Annotated[
        dt.datetime | None,
        msgspec.Meta(description="The instant asked as recorded at (only when asked)."),
    ] = None


class FieldProblem(msgspec.Struct):
    loc: list[str | int]
    field: str
    message: str
    type: str


class LineProblem(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None


class BatchLineOut(msgspec.Struct):
    ref: str | None
    answer: EquivalenceAnswer | None
    error: LineProblem | None


class BatchSummary(msgspec.Struct):
    lines: int
    recognized: int
    not_recognized: int
    errors: int


class BatchOut(msgspec.Struct):
    results: list[BatchLineOut]
    summary: BatchSummary


class MarketOut(msgspec.Struct):
    economy: str
    recognized: bool
    level: Level
    route: RouteOut
    valid_until: dt.date | None


class MarketsOut(msgspec.Struct, omit_defaults=True):
    scheme: str
    certificate: str
    on: dt.date
    markets: list[MarketOut]
    registry_revision: int
    as_recorded: dt.datetime | None = None


class PlanOptionOut(msgspec.Struct):
    scheme: str
    category: str
    recognized_in: list[str]
    levels: dict[str, Level | None]
    score: int


class PlanOut(msgspec.Struct, omit_defaults=True):
    hs_code: str
    targets: list[str]
    on: dt.date
    options: list[PlanOptionOut]
    registry_revision: int
    as_recorded: dt.datetime | None = None


def json_schema(kind: type[msgspec.Struct]) -> dict[str, Any]:
    """A body's JSON Schema as msgspec generates it, its definitions written in place (the
    OpenAPI document keeps one schema an operation, with no component to refer to)."""
    schema = msgspec.json.schema(kind)
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            title = node.get("title")
            if isinstance(title, str) and "[" in title:  # a generic struct: its own name
                node = {**node, "title": title.partition("[")[0]}
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def body_doc(kind: type[msgspec.Struct]) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry documenting a 200 whose body is `kind`."""
    return {200: {"content": {"application/json": {"schema": json_schema(kind)}}}}


class AnswerWriter:
    """The answers of one request as `EquivalenceAnswer`s, written by msgspec.

    Conditions are objects of the cached facts that many answers share: each one's struct is
    made once and shared (by identity; the objects are held here, so an id is never reused
    while the writer lives).
    """

    __slots__ = ("_conditions",)

    def __init__(self) -> None:
        self._conditions: dict[int, tuple[Condition, ConditionOut]] = {}

    def _condition(self, c: Condition) -> ConditionOut:
        known = self._conditions.get(id(c))
        if known is None:
            known = self._conditions[id(c)] = (c, ConditionOut(c.text, list(c.criteria)))
        return known[1]

    def route(self, r: Route) -> RouteOut:
        condition = self._condition
        return RouteOut(
            r.basis,
            r.agreement_id,
            r.recognizing_scheme_id,
            r.scope_entry_id,
            r.equivalent_category_code,
            r.level,
            [condition(c) for c in r.conditions],
            r.valid_until,
            [
                RouteStepOut(
                    s.agreement_id,
                    s.scope_entry_id,
                    s.recognizing_scheme_id,
                    s.recognized_scheme_id,
                    s.level,
                )
                for s in r.path
            ],
        )

    def answer(
        self,
        answer: Answer,
        scheme: str,
        certificate: str,
        target: str,
        on: dt.date,
        hs_code: str | None,
        *,
        revision: int,
        as_recorded: dt.datetime | None = None,
    ) -> EquivalenceAnswer:
        """The answer of api.md to the question asked (at `revision`, as recorded at
        `as_recorded` when asked so)."""
        routes, conditions = answer.routes, answer.conditions
        return EquivalenceAnswer(
            QueryOut(scheme, certificate, target, on, hs_code),
            answer.recognized,
            answer.level,
            [self.route(r) for r in routes] if routes else [],
            [self._condition(c) for c in conditions] if conditions else [],
            [ReasonOut(r.code, r.message, r.agreement_id, r.scheme_id) for r in answer.reasons],
            answer.valid_until,
            answer.explanation,
            revision,
            as_recorded,
        )


def plan_option(o: PlanOption) -> PlanOptionOut:
    return PlanOptionOut(
        o.scheme_id, o.category_code, list(o.recognized_in), dict(o.levels), o.score
    )
