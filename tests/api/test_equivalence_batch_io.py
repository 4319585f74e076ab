"""The batch's fast paths write exactly what the plain per-line path writes, byte for byte."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from ecolabel_registry.api.batch_lines import (
    _fast_lines,
    _lines_one_by_one,
    line_problem,
)
from ecolabel_registry.api.deps import today
from ecolabel_registry.api.equivalence_io import (
    AnswerWriter,
    BatchLineOut,
    BatchOut,
    BatchSummary,
)
from ecolabel_registry.domain.resolver import Answer
from ecolabel_registry.persistence.hot import HotFacts
from ecolabel_registry.services import equivalence as equivalence_service
from ecolabel_registry.services.equivalence import EquivalenceService, Question
from tests.api.test_equivalence import Q, world  # noqa: F401 (a fixture)

GOOD = {**Q, "target": "JP", "on": "2025-03-01", "hs_code": "320810"}
LINES: list[Any] = [
    {"ref": "a", **GOOD},
    {"ref": "a2", **GOOD},  # the same question again
    {"ref": 7, **GOOD},
    {**GOOD},
    {"ref": "n", **Q, "target": "JP", "on": "2025-03-01"},
    {"ref": "kr", **Q, "target": "KR", "on": "2025-03-01"},
    {"ref": "cn", **Q, "target": "CN", "on": "2025-03-01"},
    {"ref": "old", **Q, "target": "JP", "on": "2001-01-01"},
    {"ref": "today", **Q, "target": "JP"},
    {"ref": "hs-out", **Q, "target": "JP", "on": "2025-03-01", "hs_code": "9403"},
    {"ref": "hs-bad", **Q, "target": "JP", "hs_code": "32a"},
    {"ref": "xx", **Q, "target": "XX"},
    {"ref": "nope", **Q, "certificate": "NOPE", "target": "JP"},
    {"ref": "no-scheme", **Q, "scheme": "no-such-scheme", "target": "JP"},
    {"ref": "missing", "scheme": "korea-eco-label", "target": "JP"},
    {"ref": "date", **Q, "target": "KR", "on": "not a date"},
    {"ref": "date2", **Q, "target": "KR", "on": "2025-02-30"},
    {"ref": "date3", **Q, "target": "KR", "on": 20250301},
    {"ref": "extra", **GOOD, "zz": 1, "aa": 2},
    {"ref": "nul\x00", **GOOD},
    {"ref": "x" * 201, **GOOD},
    {"ref": True, **GOOD},
    {**GOOD, "scheme": "s\x00"},
    {**GOOD, "certificate": ""},
    {**GOOD, "certificate": "x" * 101},
    {**GOOD, "target": None},
    {**GOOD, "hs_code": None, "on": None, "ref": None},
    {},
    [],
    "line",
    5,
    None,
]


def reference_body(service: EquivalenceService, lines: list[Any], day: dt.date) -> bytes:
    """The batch's body as the plain path writes it: the lines decoded one by one, `batch`,
    a writer an answer."""
    _count, refs, valid, line_errors, _instants = _lines_one_by_one(
        orjson.dumps({"lines": lines}), day
    )
    assert line_errors is not None
    questions = [Question(ref, *line) for ref, line in zip(refs, valid, strict=True)]
    answered = iter(service.batch(questions))
    results: list[BatchLineOut] = []
    summary = BatchSummary(len(lines), 0, 0, 0)
    for line_error in line_errors:
        if line_error is not None:
            results.append(line_error)
            summary.errors += 1
            continue
        result = next(answered)
        q = result.question
        if result.answer is not None:
            if result.answer.recognized:
                summary.recognized += 1
            else:
                summary.not_recognized += 1
            data = AnswerWriter().answer(
                result.answer,
                q.scheme,
                q.certificate,
                q.target,
                q.on,
                q.hs_code,
                revision=service.current_snapshot().revision,
            )
            results.append(BatchLineOut(result.ref, data, None))
        else:
            assert result.error is not None
            summary.errors += 1
            results.append(BatchLineOut(result.ref, None, line_problem(result.error)))
    return msgspec.json.encode(BatchOut(results, summary))


def post(client: TestClient, lines: list[Any]) -> bytes:
    response = client.post(
        "/v1/equivalence/batch",
        content=orjson.dumps({"lines": lines}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    return response.content


def service_of(app: FastAPI) -> EquivalenceService:
    return EquivalenceService(HotFacts(app.state.batch_reads), app.state.resolver_cache)


@pytest.mark.usefixtures("world")
def test_the_batch_body_is_byte_for_byte_the_plain_one(client: TestClient, app: FastAPI) -> None:
    body = post(client, LINES)
    assert body == reference_body(service_of(app), LINES, today())
    assert orjson.loads(body)["summary"]["errors"] > 10


@pytest.mark.usefixtures("world")
def test_an_empty_batch_and_a_batch_of_errors_only(client: TestClient, app: FastAPI) -> None:
    assert post(client, []) == reference_body(service_of(app), [], today())
    assert post(client, [5, {}]) == reference_body(service_of(app), [5, {}], today())


@pytest.mark.usefixtures("world")
def test_certificates_read_on_a_second_thread_give_the_same_body(
    client: TestClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [*LINES, {**GOOD, "certificate": "NOPE-2"}, {**GOOD, "ref": "last"}]
    expected = post(client, lines)
    monkeypatch.setattr(equivalence_service, "FIRST_READ", 1)
    assert post(client, lines) == expected
    monkeypatch.setattr(equivalence_service, "READ_CHUNK", 1)  # a chunk a certificate
    assert post(client, lines) == expected


@pytest.mark.usefixtures("world")
def test_an_error_reading_a_later_chunk_fails_the_batch(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = HotFacts(app.state.batch_reads)
    reads, calls = source.fetch_terms, [0]

    def failing(keys: list[tuple[str, str]]) -> Any:  # the first read and the first chunk
        calls[0] += 1
        if calls[0] > 2:
            raise RuntimeError("connection lost")
        return reads(keys)

    monkeypatch.setattr(source, "fetch_terms", failing)
    service = EquivalenceService(source, app.state.resolver_cache)
    monkeypatch.setattr(equivalence_service, "FIRST_READ", 1)
    monkeypatch.setattr(equivalence_service, "READ_CHUNK", 1)
    day = dt.date(2025, 3, 1)
    lines = [("korea-eco-label", n, "JP", day, None) for n in ("NOPE-1", "NOPE-2", "NOPE-3")]
    lines.insert(0, (Q["scheme"], Q["certificate"], "JP", day, None))
    with pytest.raises(RuntimeError, match="connection lost"):
        list(service.answer_lines(lines))


@pytest.mark.usefixtures("world")
def test_a_long_batch_writes_its_blocks_as_one_document(client: TestClient, app: FastAPI) -> None:
    lines = [{**line, "ref": f"L{i}"} if isinstance(line, dict) else line for i, line in
             enumerate(LINES * 30)]  # fmt: skip
    assert post(client, lines) == reference_body(service_of(app), lines, today())


def alone(raw: Any, day: dt.date) -> tuple[Any, Any]:
    """A line sent alone, as the decoded path and the line-by-line path take it."""
    body = orjson.dumps({"lines": [raw]})
    return _fast_lines(body, day), _lines_one_by_one(body, day)


@pytest.mark.parametrize("raw", LINES)
def test_the_decoded_path_and_the_line_by_line_path_agree_on_each_line(raw: Any) -> None:
    day = dt.date(2025, 6, 1)
    fast, (count, refs, questions, errors, instants) = alone(raw, day)
    if fast is not None:  # accepted at once: the line-by-line path accepts the same question
        assert errors == [None]
        assert fast == (count, refs, questions, None, instants)


@pytest.mark.usefixtures("world")
def test_the_single_question_writes_the_answer_the_batch_writes(
    client: TestClient, app: FastAPI
) -> None:
    service = service_of(app)
    writer = AnswerWriter()
    for target, hs_code in (("JP", "320810"), ("KR", None), ("CN", None), ("JP", "9403")):
        on = dt.date(2025, 3, 1)
        args = (Q["scheme"], Q["certificate"], target, on, hs_code)
        answer = next(service.answer_lines([args]))
        assert isinstance(answer, Answer)
        query = {**Q, "target": target, "on": on.isoformat()}
        if hs_code is not None:
            query["hs_code"] = hs_code
        single = client.get("/v1/equivalence", params=query)
        assert single.status_code == 200
        revision = single.json()["registry_revision"]
        assert (
            msgspec.json.encode(writer.answer(answer, *args, revision=revision)) == single.content
        )


VALID = [line for line in LINES if alone(line, today())[1][3] == [None]]


@pytest.mark.usefixtures("world")
def test_a_batch_of_valid_lines_takes_the_decoded_path_and_writes_the_same_body(
    client: TestClient, app: FastAPI
) -> None:
    lines = [*VALID, {**GOOD, "ref": "é😀" * 50, "certificate": "NOPE-é"}]
    assert _fast_lines(orjson.dumps({"lines": lines}), today()) is not None
    assert post(client, lines) == reference_body(service_of(app), lines, today())


@pytest.mark.parametrize("bad", [line for line in LINES if line not in VALID])
def test_one_bad_line_sends_the_whole_batch_to_the_line_by_line_check(bad: Any) -> None:
    body = orjson.dumps({"lines": [*VALID, bad, *VALID]})
    assert _fast_lines(body, today()) is None
    _count, _refs, _lines, errors, _instants = _lines_one_by_one(body, today())
    assert errors is not None
    assert sum(e is not None for e in errors) == 1


def test_a_body_the_decoded_path_refuses_is_checked_line_by_line() -> None:
    day = dt.date(2025, 6, 1)
    for body in (
        b'{"lines": [], "more": 1}',
        b'{"lines": {}}',
        b'{"lines": [{"scheme": "a", "certificate": "b", "target": "JP", "on": "2025-06-01"}',
        b'{"lines": [{"scheme": "a", "certificate": "b\\u0000", "target": "JP"}]}',
        orjson.dumps({"lines": [{"scheme": "a", "certificate": "b", "target": "JP"}] * 10_001}),
    ):
        assert _fast_lines(body, day) is None


_LIMITS = {"ref": 200, "scheme": 64, "certificate": 100, "target": 10, "hs_code": 10}


def _edge_values(limit: int) -> list[Any]:
    return ["", "x" * limit, "é" * limit, "😀" * limit, "x" * (limit + 1), None, 1, []]


_EDGES: list[tuple[str, Any]] = [
    (name, value) for name, limit in _LIMITS.items() for value in _edge_values(limit)
] + [
    ("on", value)
    for value in ("2024-02-29", "2025-02-29", "20250301", "2025-W01-1", "0000-01-01", None, 1)
]


@pytest.mark.parametrize(("name", "value"), _EDGES)
def test_the_decoded_path_agrees_at_the_edges_of_each_field(name: str, value: Any) -> None:
    day = dt.date(2025, 6, 1)
    body = orjson.dumps({"lines": [{**GOOD, "ref": "r", name: value}]})
    fast = _fast_lines(body, day)
    count, refs, questions, errors, instants = _lines_one_by_one(body, day)
    assert errors is not None
    if errors[0] is None:
        assert fast == (count, refs, questions, None, instants)
    else:
        assert fast is None


_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "x" * 64, "x" * 65, "x" * 100, "x" * 101, "x" * 201, "a\x00b"]),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.none(),
)
_DAY = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.sampled_from(["2025-02-30", "20250301", "2025-3-1", " 2025-03-01", "2025-03-01T00:00"]),
    _TEXT,
)
_FIELD = st.sampled_from(["ref", "scheme", "certificate", "target", "on", "hs_code", "zz"])


@st.composite
def _line(draw: st.DrawFn) -> Any:
    line: dict[str, Any] = {"scheme": "s", "certificate": "c", "target": "JP"}
    for name in draw(st.lists(_FIELD, max_size=4)):
        line[name] = draw(_DAY if name == "on" else _TEXT)
    for name in draw(st.lists(_FIELD, max_size=2)):
        line.pop(name, None)
    return line if draw(st.integers(0, 20)) else draw(st.sampled_from([[], "x", 5, None]))


@settings(max_examples=400, deadline=None)
@given(st.lists(_line(), max_size=6))
def test_what_the_decoded_path_accepts_the_line_by_line_check_accepts_alike(
    lines: list[Any],
) -> None:
    day = dt.date(2025, 6, 1)
    body = orjson.dumps({"lines": lines})
    fast = _fast_lines(body, day)
    count, refs, questions, errors, instants = _lines_one_by_one(body, day)
    if fast is not None:
        assert errors is not None
        assert not any(errors)
        assert fast == (count, refs, questions, None, instants)
    elif errors is not None and not any(errors):
        # Refused although every line is valid: only for a NUL, which no valid line has.
        raise AssertionError(f"valid lines refused by the decoded path: {lines!r}")


def test_msgspec_writes_every_character_as_orjson_does() -> None:
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert msgspec.json.encode([text, None, dt.date(2025, 3, 1)]) == orjson.dumps(
        [text, None, dt.date(2025, 3, 1)]
    )
