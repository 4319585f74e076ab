"""The benchmarks' yardstick: a constant answer through a response model (`/bench/trivial`).

Mounted only when `ECOLABEL_BENCH_ENDPOINTS=true`; never part of the OpenAPI document.
docs/quality.md measures the hot endpoints against this one, on the same server and load.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(include_in_schema=False)


class TrivialStep(BaseModel):
    agreement_id: str
    recognizing_scheme: str
    recognized_scheme: str
    level: str


class TrivialAnswer(BaseModel):
    scheme: str
    certificate: str
    target: str
    on: str
    recognized: bool
    level: str
    path: list[TrivialStep]
    explanation: str


_ANSWER = TrivialAnswer(
    scheme="bench-scheme-0001",
    certificate="BENCH-0001-0000001",
    target="KR",
    on="2025-03-01",
    recognized=True,
    level="full",
    path=[
        TrivialStep(
            agreement_id="00000000-0000-0000-0000-000000000001",
            recognizing_scheme="bench-scheme-0002",
            recognized_scheme="bench-scheme-0001",
            level="full",
        )
    ],
    explanation=(
        "A constant answer of about the size of an equivalence answer, for the benchmarks: "
        "it measures what FastAPI, Pydantic and the server cost without any registry work, "
        "so that the registry's own endpoints can be compared with it on the same server."
    ),
)


@router.get("/bench/trivial", response_model=TrivialAnswer)
async def bench_trivial() -> TrivialAnswer:
    """A constant answer, validated and serialized through its response model."""
    return _ANSWER
