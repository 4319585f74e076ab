"""The equivalence answer on the wire: pydantic models for the spec, plain dicts for speed."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec
from pydantic import BaseModel, Field

from ecolabel_registry.domain.model import Condition
from ecolabel_registry.domain.resolver import Answer, PlanOption, Reason, Route, RouteStep

LevelName = Literal["native", "full", "conditional", "assessment_results"]


class ConditionOut(BaseModel):
    text: str
    criteria: list[str]


class RouteStepOut(BaseModel):
    agreement_id: str
    scope_entry_id: str
    recognizing_scheme: str
    recognized_scheme: str
    level: LevelName


class RouteOut(BaseModel):
    basis: Literal["native", "agreement"]
    agreement_id: str | None
    recognizing_scheme: str
    scope_entry_id: str | None
    equivalent_category: str | None
    level: LevelName
    conditions: list[ConditionOut]
    valid_until: dt.date | None
    path: list[RouteStepOut] = Field(
        description="Every agreement of a route, in order; empty for native."
    )


class ReasonOut(BaseModel):
    code: str
    message: str
    agreement_id: str | None
    scheme: str | None


class QueryOut(BaseModel):
    scheme: str
    certificate: str
    target: str
    on: dt.date
    hs_code: str | None


class EquivalenceAnswer(BaseModel):
    """Whether a certificate is recognized in an economy on a date, and why."""

    query: QueryOut
    recognized: bool
    level: LevelName | None
    routes: list[RouteOut]
    conditions: list[ConditionOut]
    reasons: list[ReasonOut]
    valid_until: dt.date | None = Field(
        description="The last date on which the same answer holds unless a fact is changed."
    )
    explanation: str


class BatchLineIn(BaseModel):
    ref: str | None = Field(
        default=None, max_length=200, description="The caller's own line reference."
    )
    scheme: str = Field(max_length=64)
    certificate: str = Field(max_length=100)
    target: str = Field(max_length=10)
    on: dt.date | None = Field(default=None, description="Defaults to today.")
    hs_code: str | None = Field(default=None, max_length=10)


class BatchIn(BaseModel):
    lines: list[BatchLineIn] = Field(max_length=10_000)


class LineProblem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None


class BatchLineOut(BaseModel):
    ref: str | None
    answer: EquivalenceAnswer | None
    error: LineProblem | None


class BatchSummary(BaseModel):
    lines: int
    recognized: int
    not_recognized: int
    errors: int


class BatchOut(BaseModel):
    results: list[BatchLineOut]
    summary: BatchSummary


class MarketOut(BaseModel):
    economy: str
    recognized: bool
    level: LevelName
    route: RouteOut
    valid_until: dt.date | None


class MarketsOut(BaseModel):
    scheme: str
    certificate: str
    on: dt.date
    markets: list[MarketOut]


class PlanOptionOut(BaseModel):
    scheme: str
    category: str
    recognized_in: list[str]
    levels: dict[str, LevelName | None]
    score: int


class PlanOut(BaseModel):
    hs_code: str
    targets: list[str]
    on: dt.date
    options: list[PlanOptionOut]


def condition_dict(c: Condition) -> dict[str, Any]:
    return {"text": c.text, "criteria": list(c.criteria)}


def step_dict(s: RouteStep) -> dict[str, Any]:
    return {
        "agreement_id": s.agreement_id,
        "scope_entry_id": s.scope_entry_id,
        "recognizing_scheme": s.recognizing_scheme_id,
        "recognized_scheme": s.recognized_scheme_id,
        "level": s.level.value,
    }


def route_dict(r: Route) -> dict[str, Any]:
    return {
        "basis": r.basis,
        "agreement_id": r.agreement_id,
        "recognizing_scheme": r.recognizing_scheme_id,
        "scope_entry_id": r.scope_entry_id,
        "equivalent_category": r.equivalent_category_code,
        "level": r.level.value,
        "conditions": [condition_dict(c) for c in r.conditions],
        "valid_until": None if r.valid_until is None else r.valid_until.isoformat(),
        "path": [step_dict(s) for s in r.path],
    }


def reason_dict(r: Reason) -> dict[str, Any]:
    return {
        "code": r.code.value,
        "message": r.message,
        "agreement_id": r.agreement_id,
        "scheme": r.scheme_id,
    }


def answer_dict(
    answer: Answer, scheme: str, certificate: str, target: str, on: dt.date, hs_code: str | None
) -> dict[str, Any]:
    """The answer of api.md as plain JSON-ready data."""
    return {
        "query": {
            "scheme": scheme,
            "certificate": certificate,
            "target": target,
            "on": on.isoformat(),
            "hs_code": hs_code,
        },
        "recognized": answer.recognized,
        "level": None if answer.level is None else answer.level.value,
        "routes": [route_dict(r) for r in answer.routes],
        "conditions": [condition_dict(c) for c in answer.conditions],
        "reasons": [reason_dict(r) for r in answer.reasons],
        "valid_until": None if answer.valid_until is None else answer.valid_until.isoformat(),
        "explanation": answer.explanation,
    }


def plan_option_dict(o: PlanOption) -> dict[str, Any]:
    return {
        "scheme": o.scheme_id,
        "category": o.category_code,
        "recognized_in": list(o.recognized_in),
        "levels": {k: None if v is None else v.value for k, v in o.levels.items()},
        "score": o.score,
    }


class _QueryWire(msgspec.Struct):
    scheme: str
    certificate: str
    target: str
    on: dt.date
    hs_code: str | None


class _ReasonWire(msgspec.Struct):
    code: str
    message: str
    agreement_id: str | None
    scheme: str | None


class AnswerWire(msgspec.Struct):
    """`EquivalenceAnswer` as msgspec writes it: the same keys in the same order."""

    query: _QueryWire
    recognized: bool
    level: str | None
    routes: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    reasons: list[_ReasonWire]
    valid_until: dt.date | None
    explanation: str


class LineWire(msgspec.Struct):
    """`BatchLineOut` as msgspec writes it."""

    ref: str | None
    answer: AnswerWire | None
    error: dict[str, Any] | None


class AnswerWriter:
    """`answer_dict` for the many answers of a batch, with less work per answer.

    Answers come out as msgspec structs, which msgspec writes as the JSON of `answer_dict`,
    key for key and byte for byte (dates as YYYY-MM-DD, a `StrEnum` as its value), at about
    half the cost of building and dumping the dicts. Conditions are objects of the cached
    facts that many answers share: each one's dict is made once and shared (by identity; the
    objects are held here, so an id is never reused while the writer lives).
    """

    __slots__ = ("_conditions",)

    def __init__(self) -> None:
        self._conditions: dict[int, tuple[Condition, dict[str, Any]]] = {}

    def _condition(self, c: Condition) -> dict[str, Any]:
        known = self._conditions.get(id(c))
        if known is None:
            known = self._conditions[id(c)] = (c, condition_dict(c))
        return known[1]

    def _route(self, r: Route) -> dict[str, Any]:
        condition = self._condition
        return {
            "basis": r.basis,
            "agreement_id": r.agreement_id,
            "recognizing_scheme": r.recognizing_scheme_id,
            "scope_entry_id": r.scope_entry_id,
            "equivalent_category": r.equivalent_category_code,
            "level": r.level,
            "conditions": [condition(c) for c in r.conditions],
            "valid_until": r.valid_until,
            "path": [
                {
                    "agreement_id": s.agreement_id,
                    "scope_entry_id": s.scope_entry_id,
                    "recognizing_scheme": s.recognizing_scheme_id,
                    "recognized_scheme": s.recognized_scheme_id,
                    "level": s.level,
                }
                for s in r.path
            ],
        }

    def answer(
        self,
        answer: Answer,
        scheme: str,
        certificate: str,
        target: str,
        on: dt.date,
        hs_code: str | None,
    ) -> AnswerWire:
        """What `answer_dict` returns for the same arguments (as JSON)."""
        routes, conditions = answer.routes, answer.conditions
        return AnswerWire(
            _QueryWire(scheme, certificate, target, on, hs_code),
            answer.recognized,
            answer.level,
            [self._route(r) for r in routes] if routes else [],
            [self._condition(c) for c in conditions] if conditions else [],
            [_ReasonWire(r.code, r.message, r.agreement_id, r.scheme_id) for r in answer.reasons],
            answer.valid_until,
            answer.explanation,
        )
