"""GET /v1/certificates answers the same through the quick route as through the declared one;
hostile searches get what they got before; a page is written as the models would write it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecolabel_registry.api.routers import certificates as module
from ecolabel_registry.api.routers.certificates import Search, checked_search
from ecolabel_registry.api.schemas.certificates import CertificateRead, certificate_page_json
from ecolabel_registry.api.schemas.common import PageOut
from ecolabel_registry.domain.model import Certificate, StatusEvent
from ecolabel_registry.persistence.hot import HotReads
from ecolabel_registry.persistence.hot import certificates as hot_certificates
from ecolabel_registry.persistence.hot import dialect as hot_dialect
from ecolabel_registry.services.ports.registry import Page
from tests.api.data import certificate_body, created, quick_and_declared
from tests.api.test_certificate_search import KR
from tests.api.test_certificate_search import registry as three_certificates

QUERIES: list[list[tuple[str, str]]] = [
    [("q", "acme")],
    [("q", "acme"), ("limit", "1")],
    [("q", "kr-"), ("limit", "2"), ("cursor", "1")],
    [("q", "HANBIT coat"), ("scheme", "korea-eco-label")],
    [("q", "acme"), ("holder", "paints")],
    [("q", "acme"), ("holder", "a%")],
    [("holder", "50%_!\\")],
    [("q", "kettle"), ("gtin", "96385074")],
    [("gtin", "04006381333931")],
    [("hs_code", "3208")],
    [("hs_code", "32"), ("q", "kr")],
    [("q", "家电")],
    [("q", "4006381333931")],
    [("q", "kt-200 acme")],
    [("scheme", "korea-eco-label")],
    [],
    # Refused, or answered differently, by the declared handler.
    [("q", "acme"), ("scheme", "no-such-scheme")],
    [("q", "acme"), ("scheme", "no-such-scheme"), ("cursor", "x")],
    [("q", "acme"), ("cursor", "x")],
    [("q", "acme"), ("cursor", "")],
    [("q", "acme"), ("cursor", "9" * 19)],
    [("q", "a" * 200)],
    [("q", "a" * 201)],
    [("q", " ".join("abcdefgh"))],  # 8 words of one letter each
    [("q", " ".join("abcdefghi"))],  # 9: refused
    [("q", "generated")],  # a long word in many certificates (in every one, generated)
    [("q", "   ")],
    [("q", "&")],
    [("q", "")],
    [("q", "acme"), ("q", "kettle")],  # repeated
    [("q", "acme"), ("other", "1")],  # unknown
    [("q", "acme"), ("limit", "0")],
    [("q", "acme"), ("limit", "1001")],
    [("q", "acme"), ("limit", "1000")],
    [("q", "acme"), ("limit", "020")],
    [("q", "acme"), ("limit", "+2")],
    [("q", "acme"), ("limit", " 2")],
    [("q", "acme"), ("limit", "2.0")],
    [("q", "acme"), ("limit", "")],
    [("holder", "")],
    [("holder", "x" * 301)],
    [("scheme", "x" * 65)],
    [("gtin", "1234567")],
    [("gtin", "96385074\n")],
    [("gtin", "")],
    [("hs_code", "3")],
    [("hs_code", "32a")],
]


def both(client: TestClient, query: list[tuple[str, str]]) -> tuple[Any, Any]:
    """The answers with the quick check on, then off (every query to the declared handler)."""
    return quick_and_declared(
        client, module, "checked_search", "/v1/certificates?" + urlencode(query)
    )


def same(quick: Any, declared: Any) -> None:
    assert quick.status_code == declared.status_code
    assert quick.headers["content-type"] == declared.headers["content-type"]
    if quick.status_code == 200:
        assert quick.content == declared.content
        return
    body, expected = quick.json(), declared.json()
    body.pop("request_id", None)
    expected.pop("request_id", None)
    assert body == expected


@pytest.fixture
def searchable(client: TestClient, operator: dict[str, str]) -> None:
    three_certificates(client, operator)


@pytest.mark.usefixtures("searchable")
@pytest.mark.parametrize("query", QUERIES)
def test_the_quick_route_answers_as_the_declared_one(
    client: TestClient, query: list[tuple[str, str]]
) -> None:
    same(*both(client, query))


@pytest.mark.usefixtures("searchable")
def test_hostile_searches_get_what_they_got(client: TestClient) -> None:
    def status(query: list[tuple[str, str]]) -> int:
        return client.get("/v1/certificates?" + urlencode(query)).status_code

    assert status([("q", "a" * 200)]) == 200
    assert status([("q", " ".join("abcdefgh"))]) == 200
    assert status([("q", "generated"), ("limit", "1000")]) == 200
    for refused in (
        [("q", "a" * 201)],
        [("q", " ".join("abcdefghi"))],
        [("q", "acme"), ("other", "1")],
        [("q", "acme"), ("limit", "1001")],
        [("q", "")],
    ):
        assert status(refused) == 422, refused
    # A repeated parameter: FastAPI takes the last value, as it always did.
    repeated = client.get("/v1/certificates?q=acme&q=kettle").json()
    assert [c["number"] for c in repeated["items"]] == ["KR-0002"]


@pytest.mark.usefixtures("searchable")
def test_the_quick_route_answers_valid_searches_itself(client: TestClient) -> None:
    query = [("q", "acme"), ("limit", "1")]
    assert checked_search(query) == Search(limit=1, q="acme")
    quick, declared = both(client, query)
    assert [c["number"] for c in quick.json()["items"]] == ["KR-0002"]
    same(quick, declared)


def test_the_quick_route_takes_the_names_the_declared_route_declares(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/v1/certificates"]["get"]
    declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert declared == set(module._BOUNDS)
    assert checked_search([("q", "acme"), ("category", "paints")]) is None


def test_a_search_with_private_reads_goes_to_the_declared_handler(
    client: TestClient, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"public_reads": False})
    assert client.get("/v1/certificates?q=acme").status_code == 401


_VALUE = st.one_of(
    st.sampled_from(["", "acme", "1", "20", "1000", "1001", "0", "020", "+1", " 1", "1.0"]),
    st.sampled_from(["96385074", "04006381333931", "3208", "32a", "x" * 65, "x" * 201]),
    st.sampled_from(["96385074\n", "٣٢٠٨", "12345678901234567"]),
    st.text(max_size=8),
)
_NAMES = ["limit", "cursor", "gtin", "holder", "hs_code", "scheme", "q", "x"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(items=st.lists(st.tuples(st.sampled_from(_NAMES), _VALUE), max_size=6))
@example(items=[("cursor", "\x00")])  # refused before any route: never the quick check's
def test_what_the_quick_check_accepts_fastapi_accepts_alike(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, items: list[tuple[str, str]]
) -> None:
    """The declared handler, with its search replaced by a note of what it was asked."""
    received: list[Search] = []

    async def noted(request: Any, asked: Search) -> Response:
        received.append(asked)
        return Response(b"{}", media_type="application/json")

    monkeypatch.setattr(module, "_search", noted)
    monkeypatch.setattr(module, "checked_search", lambda items: None)  # noqa: ARG005
    checked = checked_search(items)
    response = client.get("/v1/certificates?" + urlencode(items))
    if checked is not None:
        assert response.status_code == 200, response.text
        assert received == [checked]


def _certificate(**fields: Any) -> Certificate:
    base: dict[str, Any] = {
        "scheme_id": "korea-eco-label",
        "number": "KR-0001",
        "category_code": "paints",
        "holder_name": "Hanbit Coatings",
        "holder_economy": "KR",
        "product_name": "Water-based enamel",
        "valid_from": dt.date(2023, 1, 1),
        "valid_to": dt.date(2027, 12, 31),
    }
    return Certificate(**{**base, **fields})


def _event(status: str, day: dt.date, micro: int = 0, **fields: Any) -> StatusEvent:
    recorded = dt.datetime(2024, 5, 6, 7, 8, 9, micro, tzinfo=dt.UTC)
    return StatusEvent(status, day, 'reason "quoted" \\ \x01 ü 家', "7", recorded, **fields)


def test_the_page_writer_writes_what_the_models_write() -> None:
    certificates = [
        _certificate(),
        _certificate(
            number="KR-0002/β",
            holder_name="绿色家电有限公司 \u2028 \U0001f600",
            brand="Acme",
            model="KT-200",
            gtins=("00000096385074", "04006381333931"),
            hs_codes=("3208", "320810"),
            certification_body_id="kr-test-body",
            status_events=(
                _event("active", dt.date(2023, 1, 1)),
                _event("suspended", dt.date(2024, 1, 1), 120),
                _event("active", dt.date(2030, 1, 1), 500_000),
            ),
            version=3,
        ),
        _certificate(status_events=(_event("withdrawn", dt.date(2099, 1, 1), 999_999),)),
    ]
    day = dt.date(2025, 6, 1)
    for page in (Page(certificates, "17"), Page(certificates[:1], None), Page([], None)):
        expected = PageOut[CertificateRead].of(page, lambda c: CertificateRead.of(c, day))
        assert certificate_page_json(page, day) == expected.model_dump_json().encode()


def statements_run_apart(reads: HotReads, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements `reads` runs again apart from the event loop, as they are run."""
    apart: list[str] = []
    fetch_apart = reads._fetch_apart

    def counted(statement: str, params: Any) -> list[tuple[Any, ...]]:
        apart.append(statement)
        return fetch_apart(statement, params)

    monkeypatch.setattr(reads, "_fetch_apart", counted)
    return apart


def test_a_search_stopped_on_the_event_loop_is_run_again_apart(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a statement longer than its time on the event loop is stopped there and run
    again in a thread; its rows are the same, and the connection is still the one held."""
    reads: HotReads = app.state.hot_reads
    if reads.asynchronous or reads.bind.dialect.name != "sqlite":
        pytest.skip("SQLite's held connection only")
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
        "SELECT count(*) FROM n"
    )
    apart = statements_run_apart(reads, monkeypatch)
    assert asyncio.run(reads.fetch_briefly(sql, (), 0.0)) == [(300000,)]
    assert apart == [sql]
    assert asyncio.run(reads.fetch_briefly("SELECT 1", (), 1.0)) == [(1,)]
    assert apart == [sql]


def test_searches_stopped_on_the_event_loop_find_the_same(
    client: TestClient, app: FastAPI, operator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    three_certificates(client, operator)
    for number in ("AB-2024/0077", "AB-2024/0078"):
        created(client.post(KR, json=certificate_body(number=number), headers=operator))
    queries = ["acme", "ab-2024/007", "家电", "4006381333931", "kr"]
    before = {q: client.get("/v1/certificates", params={"q": q}).content for q in queries}
    # Every statement stopped at its first look at the clock (SQLite), then run apart.
    reads: HotReads = app.state.hot_reads
    apart = statements_run_apart(reads, monkeypatch)
    monkeypatch.setattr(hot_certificates, "ON_LOOP_SECONDS", 0.0)
    monkeypatch.setattr(hot_dialect, "_PROGRESS_STEPS", 1)
    for q in queries:
        assert client.get("/v1/certificates", params={"q": q}).content == before[q], q
    sqlite = reads.bind.dialect.name == "sqlite"
    assert len(apart) == (len(queries) if sqlite else 0)
