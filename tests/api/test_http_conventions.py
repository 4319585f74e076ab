"""HTTP conventions every endpoint shares: problem+json errors, limits, request ids, keys."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.services.keys import ApiKeyService
from tests.api.data import certificate_body, created, problem, scheme_body, setup_registry

LIMIT = 1024 * 1024  # the `settings` fixture's max_body_bytes
SCHEME_URL = "/v1/schemes/korea-eco-label"


def json_headers(operator: dict[str, str]) -> dict[str, str]:
    return {**operator, "Content-Type": "application/json"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """`problem`, with a type, a title and a detail that are all non-empty text."""
    data = problem(response, status)
    for key in ("type", "title", "detail"):
        assert isinstance(data[key], str), key
        assert data[key], key
    return data


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """`total` bytes of JSON whitespace, sent without a Content-Length."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


# Content type and body limits


def test_json_write_with_another_content_type_is_unsupported(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post(
        "/v1/schemes",
        content=json.dumps(scheme_body()).encode(),
        headers={**operator, "Content-Type": "text/plain"},
    )
    problem = assert_problem(response, 415)
    assert "application/json" in str(problem["detail"])
    assert client.get(SCHEME_URL).status_code == 404


def test_body_over_the_limit_with_content_length_is_too_large(
    client: TestClient, operator: dict[str, str]
) -> None:
    body = json.dumps(scheme_body()).encode() + b" " * LIMIT
    response = client.post("/v1/schemes", content=body, headers=json_headers(operator))
    assert_problem(response, 413)
    assert client.get(SCHEME_URL).status_code == 404


def test_chunked_body_over_the_limit_is_too_large(
    client: TestClient, operator: dict[str, str]
) -> None:
    def body() -> Iterator[bytes]:
        yield json.dumps(scheme_body()).encode()
        yield from chunks(LIMIT)

    response = client.post("/v1/schemes", content=body(), headers=json_headers(operator))
    assert_problem(response, 413)
    assert client.get(SCHEME_URL).status_code == 404


def test_chunked_body_within_the_limit_is_accepted(
    client: TestClient, operator: dict[str, str]
) -> None:
    def body() -> Iterator[bytes]:
        yield json.dumps(scheme_body()).encode()
        yield from chunks(LIMIT // 2)

    response = client.post("/v1/schemes", content=body(), headers=json_headers(operator))
    assert created(response)["id"] == "korea-eco-label"
    assert client.get(SCHEME_URL).status_code == 200


def test_malformed_json_is_a_validation_problem(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post(
        "/v1/schemes", content=b'{"id": "korea-eco-label",', headers=json_headers(operator)
    )
    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert client.get(SCHEME_URL).status_code == 404


def test_invalid_utf8_in_a_json_body_is_a_client_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    body = json.dumps(scheme_body()).encode().replace(b"Korea", b"K\xff\xferea")
    response = client.post("/v1/schemes", content=body, headers=json_headers(operator))
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)
    assert client.get(SCHEME_URL).status_code == 404


def test_deeply_nested_json_is_a_client_error(client: TestClient, operator: dict[str, str]) -> None:
    depth = 10_000
    response = client.post(
        "/v1/schemes", content=b"[" * depth + b"]" * depth, headers=json_headers(operator)
    )
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


def test_deeply_nested_json_inside_a_field_is_a_client_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    depth = 10_000
    body = b'{"id": "korea-eco-label", "name": ' + b"[" * depth + b"]" * depth + b"}"
    response = client.post("/v1/schemes", content=body, headers=json_headers(operator))
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)
    assert client.get(SCHEME_URL).status_code == 404


# Routing


def test_unknown_path_is_a_not_found_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/no-such-thing"), 404)


def test_wrong_method_is_a_method_not_allowed_problem(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.delete("/v1/schemes", headers=operator)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_health_and_readiness_answer(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


# Request ids


def test_request_id_is_echoed_back(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "trace-4711"})
    assert response.headers["X-Request-ID"] == "trace-4711"
    missing = client.get("/v1/no-such-thing", headers={"X-Request-ID": "trace-4712"})
    assert missing.headers["X-Request-ID"] == "trace-4712"


def test_request_id_is_generated_when_absent(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first
    assert second
    assert first != second


# Query and header validation


def test_bad_cursor_is_a_validation_problem(client: TestClient) -> None:
    response = client.get("/v1/certificates", params={"cursor": "not-a-cursor"})
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {
            "loc": ["query", "cursor"],
            "field": "cursor",
            "message": "not a cursor this list gave out",
            "type": "value_error",
        }
    ]


def test_overlong_cursor_is_a_validation_problem(client: TestClient) -> None:
    response = client.get("/v1/schemes", params={"cursor": "x" * 201})
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["cursor"]


def test_if_match_that_is_not_an_etag_is_a_validation_problem(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.patch(
        SCHEME_URL, json={"name": "Renamed"}, headers={**operator, "If-Match": "version one"}
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["If-Match"]
    assert client.get(SCHEME_URL).json()["name"] == "Korea Eco-label"


# Every problem has the same shape

Call = Callable[[TestClient, dict[str, str]], httpx.Response]

PROBLEM_CALLS: list[tuple[str, int, Call]] = [
    ("unknown path", 404, lambda c, _: c.get("/v1/no-such-thing")),
    ("unknown resource", 404, lambda c, _: c.get("/v1/schemes/no-such-label")),
    ("wrong method", 405, lambda c, op: c.put("/v1/schemes", json={}, headers=op)),
    (
        "wrong content type",
        415,
        lambda c, op: c.post(
            "/v1/schemes", content=b"{}", headers={**op, "Content-Type": "text/csv"}
        ),
    ),
    (
        "body too large",
        413,
        lambda c, op: c.post("/v1/schemes", content=b" " * (LIMIT + 1), headers=json_headers(op)),
    ),
    (
        "malformed json",
        422,
        lambda c, op: c.post("/v1/schemes", content=b"{", headers=json_headers(op)),
    ),
    ("invalid field", 422, lambda c, op: c.post("/v1/schemes", json={}, headers=op)),
    ("no key", 401, lambda c, _: c.post("/v1/schemes", json=scheme_body())),
    (
        "not a bearer key",
        401,
        lambda c, _: c.post(
            "/v1/schemes", json=scheme_body(), headers={"Authorization": "Basic dXNlcjpwdw=="}
        ),
    ),
    ("bad limit", 422, lambda c, _: c.get("/v1/schemes", params={"limit": 0})),
]


@pytest.mark.parametrize(
    ("status", "call"), [pytest.param(s, call, id=name) for name, s, call in PROBLEM_CALLS]
)
def test_every_problem_has_type_title_status_and_detail(
    client: TestClient, operator: dict[str, str], status: int, call: Call
) -> None:
    response = call(client, operator)
    problem = assert_problem(response, status)
    assert str(problem["type"]).startswith("https://")


# API keys


def new_key(session: Session, role: Role = Role.OPERATOR) -> tuple[str, str]:
    """A new key's id and secret."""
    key, secret = ApiKeyService(SqlApiKeyRepository(session)).create("conventions test", role)
    session.commit()
    return key.id, secret


def test_unknown_bearer_key_is_unauthenticated(client: TestClient) -> None:
    response = client.post(
        "/v1/schemes", json=scheme_body(), headers={"Authorization": "Bearer erk_not-a-real-key"}
    )
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(SCHEME_URL).status_code == 404


def test_revoked_key_is_unauthenticated(client: TestClient, session: Session) -> None:
    key_id, secret = new_key(session)
    headers = {"Authorization": f"Bearer {secret}"}
    created(client.post("/v1/schemes", json=scheme_body(), headers=headers))

    ApiKeyService(SqlApiKeyRepository(session)).revoke(key_id)
    session.commit()
    response = client.post("/v1/schemes", json=scheme_body(id="other-label"), headers=headers)
    assert_problem(response, 401)
    assert client.get("/v1/schemes/other-label").status_code == 404


def assert_secret_absent(response: httpx.Response, secret: str) -> None:
    assert secret not in response.text
    for name, value in response.headers.items():
        assert secret not in value, name


def test_responses_never_contain_the_key(client: TestClient, session: Session) -> None:
    key_id, secret = new_key(session)
    headers = {"Authorization": f"Bearer {secret}"}
    answers = [
        client.post("/v1/schemes", json=scheme_body(), headers=headers),
        client.post("/v1/schemes", json=scheme_body(), headers=headers),
        client.post("/v1/schemes", json=scheme_body(id="Bad Id"), headers=headers),
        client.patch(SCHEME_URL, json={"name": "Renamed"}, headers=headers),
        client.post(
            "/v1/schemes", json=scheme_body(), headers={"Authorization": f"Token {secret}"}
        ),
        client.get(SCHEME_URL, headers=headers),
    ]
    assert [a.status_code for a in answers] == [201, 409, 422, 428, 401, 200]
    ApiKeyService(SqlApiKeyRepository(session)).revoke(key_id)
    session.commit()
    revoked = client.post("/v1/schemes", json=scheme_body(id="other-label"), headers=headers)
    assert revoked.status_code == 401
    answers.append(revoked)
    for answer in answers:
        assert_secret_absent(answer, secret)


def test_scheme_operator_key_is_not_echoed_when_refused(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    _, secret = ApiKeyService(SqlApiKeyRepository(session)).create(
        "scheme operator", Role.SCHEME_OPERATOR, ("korea-eco-label",)
    )
    session.commit()
    response = client.post(
        "/v1/schemes",
        json=scheme_body(id="other-label"),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert_problem(response, 403)
    assert_secret_absent(response, secret)


# Hostile and unlucky clients: methods, preconditions, redirects

CERTIFICATES = "/v1/schemes/korea-eco-label/certificates"


def allowed(response: httpx.Response) -> set[str]:
    assert_problem(response, 405)
    return {m.strip() for m in response.headers["Allow"].split(",")}


def test_method_not_allowed_names_every_method_the_resource_has(
    client: TestClient, operator: dict[str, str]
) -> None:
    assert allowed(client.delete("/v1/schemes", headers=operator)) == {"GET", "POST"}
    assert allowed(client.delete(SCHEME_URL, headers=operator)) == {"GET", "PATCH"}
    events = f"{CERTIFICATES}/FR/044/017/status-events"
    assert allowed(client.put(events, json={}, headers=operator)) == {"GET", "POST"}
    assert allowed(client.delete(f"{CERTIFICATES}/FR/044/017/markets")) == {"GET"}


@pytest.mark.parametrize("suffix", ["markets", "status-events"])
def test_patch_on_a_certificate_sub_resource_is_not_an_update(
    client: TestClient, operator: dict[str, str], suffix: str
) -> None:
    setup_registry(client, operator)
    created(client.post(CERTIFICATES, json=certificate_body(number="FR/044/017"), headers=operator))
    response = client.patch(
        f"{CERTIFICATES}/FR/044/017/{suffix}",
        json={"product_name": "Changed through the wrong path"},
        headers={**operator, "If-Match": '"1"'},
    )
    assert "PATCH" not in allowed(response)
    got = client.get(f"{CERTIFICATES}/FR/044/017")
    assert got.json()["product_name"] == "Water-based enamel"
    assert got.headers["ETag"] == '"1"'


@pytest.mark.parametrize("number", ["FR/044/017/markets", "KR-7/status-events"])
def test_a_certificate_number_cannot_end_in_a_sub_resource_segment(
    client: TestClient, operator: dict[str, str], number: str
) -> None:
    setup_registry(client, operator)
    response = client.post(CERTIFICATES, json=certificate_body(number=number), headers=operator)
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["number"]
    assert "FR/044/017" in problem["errors"][0]["message"]
    # Numbers holding "/" or the words elsewhere stay legal.
    for fine in ("FR/044/017", "markets", "KR-7/markets-2024", "status-events/7"):
        created(client.post(CERTIFICATES, json=certificate_body(number=fine), headers=operator))
        got = client.get(f"{CERTIFICATES}/{fine}")
        assert got.status_code == 200, (fine, got.text)
        assert got.json()["number"] == fine


def test_a_weak_etag_in_if_match_never_matches(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.patch(
        SCHEME_URL, json={"name": "Renamed"}, headers={**operator, "If-Match": 'W/"1"'}
    )
    problem = assert_problem(response, 412)
    assert "weak" in problem["detail"]
    assert client.get(SCHEME_URL).json()["name"] == "Korea Eco-label"
    strong = client.patch(
        SCHEME_URL, json={"name": "Renamed"}, headers={**operator, "If-Match": '"1"'}
    )
    assert strong.status_code == 200, strong.text


@pytest.mark.parametrize("path", ["/v1/schemes/", f"{SCHEME_URL}/", "/healthz/"])
def test_a_trailing_slash_is_not_found_and_never_redirected_to_the_host_header(
    client: TestClient, operator: dict[str, str], path: str
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert_problem(response, 404)
    assert "location" not in response.headers
