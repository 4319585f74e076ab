"""A query parameter an operation does not take is a 422 naming it, never silently ignored.

`?date=` instead of `?on=` must not answer for today, and `/v1/certificates?product=` must not
list every certificate. The walk over the app's routes covers a route added later without
anyone listing it here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.api.data import agreement_body, created, scheme_body, setup_registry
from tests.api.test_equivalence import Q, world  # noqa: F401 (a fixture)

PROBLEM = "application/problem+json"
ASKED = {**Q, "target": "JP", "on": "2025-03-01"}


def unknown(response: Any, name: str) -> str:
    """The message of the 422 naming `name` as an unknown query parameter."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    named = [e for e in problem["errors"] if e["field"] == name]
    assert len(named) == 1, problem
    assert named[0]["loc"] == ["query", name]
    assert named[0]["type"] == "unknown_parameter"
    assert name in problem["detail"]
    message: str = named[0]["message"]
    assert message.startswith("unknown query parameter")
    return message


@pytest.mark.usefixtures("world")
def test_a_date_given_as_date_is_refused_with_the_name_meant(client: TestClient) -> None:
    response = client.get("/v1/equivalence", params={**ASKED, "date": "2027-06-01"})
    message = unknown(response, "date")
    assert "did you mean `on`?" in message
    for name in ("scheme", "certificate", "target", "on", "hs_code"):
        assert f"`{name}`" in message


@pytest.mark.usefixtures("world")
def test_the_quick_route_answers_no_query_with_an_unknown_name(client: TestClient) -> None:
    # Every value is one the quick route answers itself; the unknown name sends it on.
    assert client.get("/v1/equivalence", params=ASKED).status_code == 200
    for name, meant in (("date", "on"), ("hs", "hs_code"), ("targt", "target"), ("On", "on")):
        message = unknown(client.get("/v1/equivalence", params={**ASKED, name: "x"}), name)
        assert f"did you mean `{meant}`?" in message


@pytest.mark.usefixtures("world")
def test_every_unknown_name_is_named_and_a_far_one_gets_no_suggestion(client: TestClient) -> None:
    response = client.get("/v1/equivalence", params={**ASKED, "zzz": "1", "colour": "red"})
    assert [e["field"] for e in response.json()["errors"]] == ["zzz", "colour"]
    assert "did you mean" not in unknown(response, "zzz")


def test_a_certificate_search_with_an_unknown_filter_lists_nothing(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    assert client.get("/v1/certificates").json()["items"]
    message = unknown(client.get("/v1/certificates", params={"product": "zzz"}), "product")
    assert "`gtin`" in message
    assert "`holder`" in message


def test_agreements_suggest_the_filter_meant(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    assert client.get("/v1/agreements", params={"in_force_on": "2025-03-01"}).status_code == 200
    message = unknown(client.get("/v1/agreements", params={"in_force": "2025-03-01"}), "in_force")
    assert "did you mean `in_force_on`?" in message
    # The list also takes `on` (the date its economy filter is read on): `date` means that.
    message = unknown(client.get("/v1/agreements", params={"date": "2025-03-01"}), "date")
    assert "did you mean `on`?" in message


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "url",
    [
        "/healthz",
        "/v1/economies",
        "/v1/economies/KR",
        "/v1/schemes",
        "/v1/schemes/korea-eco-label",
        "/v1/schemes/korea-eco-label/categories",
        "/v1/certification-bodies",
        "/v1/schemes/korea-eco-label/certificates",
        "/v1/schemes/korea-eco-label/certificates/KR-0001",
        "/v1/schemes/korea-eco-label/certificates/KR-0001/status-events",
        "/v1/schemes/korea-eco-label/certificates/KR-0001/markets",
        "/v1/certificates",
        "/v1/agreements",
        "/v1/equivalence/plan?hs_code=3208&targets=JP",
    ],
)
def test_reads_of_every_router_refuse_an_unknown_parameter(client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 200, url
    separator = "&" if "?" in url else "?"
    unknown(client.get(f"{url}{separator}sort=name"), "sort")


def test_writes_refuse_an_unknown_parameter_and_write_nothing(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(
        "/v1/schemes?dry_run=1", json=scheme_body(id="new-label"), headers=operator
    )
    unknown(response, "dry_run")
    assert client.get("/v1/schemes/new-label").status_code == 404
    version = client.get("/v1/schemes/korea-eco-label").headers["etag"]
    response = client.patch(
        "/v1/schemes/korea-eco-label?notify=no",
        json={"name": "Renamed"},
        headers={**operator, "If-Match": version},
    )
    unknown(response, "notify")
    assert client.get("/v1/schemes/korea-eco-label").json()["name"] == "Korea Eco-label"
    response = client.post(
        "/v1/equivalence/batch?on=2025-03-01", json={"lines": [{**ASKED, "ref": "a"}]}
    )
    unknown(response, "on")
    response = client.post(
        "/v1/schemes/korea-eco-label/certificates/import?mode=replace",
        content=b"number\n",
        headers={**operator, "Content-Type": "text/csv"},
    )
    unknown(response, "mode")


def get_operations(app: FastAPI) -> list[str]:
    """The path of every GET operation of the app, from its routes."""
    paths: list[str] = []
    for context in iter_route_contexts(app.routes):
        if "GET" not in (context.methods or ()):
            continue
        if isinstance(context.original_route, APIRoute):
            paths.append(str(context.path))
        else:
            # Only the framework's documentation and the quick equivalence route (which
            # answers for the declared one, checked here) are not operations.
            assert context.path in {
                "/openapi.json",
                "/docs",
                "/docs/oauth2-redirect",
                "/redoc",
                "/v1/equivalence",
            }, context.path
    return paths


def test_every_get_operation_refuses_an_unknown_parameter(client: TestClient, app: FastAPI) -> None:
    paths = get_operations(app)
    assert "/v1/equivalence" in paths
    assert "/healthz" in paths
    assert len(paths) >= 20
    for path in paths:
        url = re.sub(r"\{[^}]+\}", "x", path)
        unknown(client.get(url, params={"zz_unknown": "1"}), "zz_unknown")


def test_every_declared_query_parameter_is_known(client: TestClient, app: FastAPI) -> None:
    """The names come from the routes' declarations: none the OpenAPI document lists is
    refused (whatever else the made-up value gets wrong)."""
    document = app.openapi()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                url = re.sub(r"\{[^}]+\}", "x", path)
                response = client.request(method.upper(), url, params={parameter["name"]: "1"})
                if response.status_code == 422:
                    types = {e["type"] for e in response.json().get("errors") or []}
                    assert "unknown_parameter" not in types, (path, parameter["name"])
                checked += 1
    assert checked >= 10
