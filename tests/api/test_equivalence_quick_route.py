"""GET /v1/equivalence answers the same through the quick route as through the declared one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecolabel_registry.api.routers import equivalence as module
from ecolabel_registry.api.routers.equivalence import checked_query
from tests.api.data import quick_and_declared
from tests.api.test_equivalence import Q, world  # noqa: F401 (a fixture)

GOOD = [*Q.items(), ("target", "JP"), ("on", "2025-03-01")]
QUERIES: list[list[tuple[str, str]]] = [
    GOOD,
    [*GOOD, ("hs_code", "320810")],
    [*Q.items(), ("target", "JP")],
    [*GOOD, ("hs_code", "9403")],
    [*Q.items(), ("target", "KR"), ("on", "2025-03-01")],
    [*Q.items(), ("target", "XX"), ("on", "2025-03-01")],
    [("scheme", "korea-eco-label"), ("certificate", "NOPE"), ("target", "JP")],
    [("scheme", "no-such-scheme"), ("certificate", "NOPE"), ("target", "JP")],
    [*Q.items(), ("target", "jp")],
    [*Q.items(), ("target", "JP\n")],
    [*Q.items(), ("target", "JP"), ("on", "2025-02-30")],
    [*Q.items(), ("target", "JP"), ("on", "20250301")],
    [*Q.items(), ("target", "JP"), ("on", "2025-03-01T00:00:00")],
    [*Q.items(), ("target", "JP"), ("on", "")],
    [*Q.items(), ("target", "JP"), ("hs_code", "")],
    [*Q.items(), ("target", "JP"), ("hs_code", "32a")],
    [*GOOD, ("scheme", "japan-eco-mark")],  # repeated
    [*GOOD, ("other", "1")],
    [*GOOD, ("date", "2027-06-01")],
    [*Q.items(), ("target", "JP"), ("date", "2027-06-01")],
    [("certificate", "KR-0001"), ("target", "JP")],
    [("scheme", ""), ("certificate", "KR-0001"), ("target", "JP")],
    [("scheme", "x" * 65), ("certificate", "KR-0001"), ("target", "JP")],
    [("scheme", "korea-eco-label"), ("certificate", "x" * 101), ("target", "JP")],
    [("scheme", "korea-eco-label"), ("certificate", "é" * 100), ("target", "JP")],
    [],
]


def both(client: TestClient, app: FastAPI, query: list[tuple[str, str]]) -> tuple[Any, Any]:
    """The answers with the quick check on, then off (every query to the declared handler)."""
    return quick_and_declared(
        client, module, "checked_query", "/v1/equivalence?" + urlencode(query)
    )


def same(quick: Any, declared: Any) -> None:
    assert quick.status_code == declared.status_code
    assert quick.headers["content-type"] == declared.headers["content-type"]
    body, expected = quick.json(), declared.json()
    if isinstance(body, dict) and "instance" in body:  # a problem: its request id differs
        body.pop("request_id", None)
        expected.pop("request_id", None)
    assert body == expected


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("query", QUERIES)
def test_the_quick_route_answers_as_the_declared_one(
    client: TestClient, app: FastAPI, query: list[tuple[str, str]]
) -> None:
    same(*both(client, app, query))


@pytest.mark.usefixtures("world")
def test_the_quick_route_answers_valid_questions_itself(client: TestClient, app: FastAPI) -> None:
    assert checked_query(GOOD) is not None
    quick, declared = both(client, app, GOOD)
    assert quick.json()["recognized"] is True
    same(quick, declared)


def test_the_quick_route_takes_the_names_the_declared_route_declares(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/v1/equivalence"]["get"]
    declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert declared == set(module._BOUNDS)
    assert checked_query([*GOOD, ("date", "2027-06-01")]) is None


def test_other_methods_and_paths_are_not_the_quick_routes(client: TestClient) -> None:
    assert client.post("/v1/equivalence?" + urlencode(GOOD)).status_code == 405
    assert client.head("/v1/equivalence?" + urlencode(GOOD)).status_code == 405


_VALUE = st.one_of(
    st.sampled_from(["", "JP", "KR", "jp", "EU", "korea-eco-label", "KR-0001", "2025-03-01"]),
    st.sampled_from(["2025-02-30", "320810", "32", "9403x", "x" * 65, "x" * 101, "JP\n"]),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["scheme", "certificate", "target", "on", "hs_code", "x"]), _VALUE
        ),
        max_size=7,
    )
)
def test_what_the_quick_check_accepts_fastapi_accepts_alike(items: list[tuple[str, str]]) -> None:
    received: list[Any] = []
    app = FastAPI()

    @app.get("/q")
    def check(
        scheme: module.Scheme,
        certificate: module.Number,
        target: module.Target,
        on: module.On = None,
        hs_code: module.HsCode = None,
        as_recorded: module.AsRecordedQuery = None,
    ) -> None:
        # `as_recorded` is never generated: None here, and None as the check's instant.
        received.append((scheme, certificate, target, on, hs_code, as_recorded))

    checked = checked_query(items)
    response = TestClient(app).get("/q?" + urlencode(items))
    if checked is not None:
        assert response.status_code == 200, response.text
        assert received == [checked]
