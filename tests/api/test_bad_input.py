"""Bad input on every write: a 4xx problem+json naming the field, and nothing written.

The catalogue is a table of (operation, field, bad value, field named in the answer). Each
write starts from a valid body, one field is replaced by a bad value, and the answer must be
a problem whose `errors` names that field, with every table of the database unchanged.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.tables import Base
from tests.api.data import (
    agreement_body,
    body_body,
    category_body,
    certificate_body,
    created,
    scheme_body,
    setup_registry,
)

PROBLEM = "application/problem+json"
CERT = "/v1/schemes/korea-eco-label/certificates/KR-0001"
MISSING = object()  # the field is left out of the body


@dataclass(frozen=True)
class Write:
    """A write operation and a valid body for it; `{agreement}`/`{entry}` are filled in."""

    method: str
    url: str
    body: dict[str, Any]
    if_match: bool = False


WRITES: dict[str, Write] = {
    "put group": Write(
        "PUT",
        "/v1/economies/TESTGRP",
        {"name": "Test group", "members": [{"member": "DE", "valid_from": "2020-01-01"}]},
    ),
    "create scheme": Write("POST", "/v1/schemes", scheme_body(id="new-label")),
    "update scheme": Write(
        "PATCH", "/v1/schemes/korea-eco-label", {"name": "Renamed"}, if_match=True
    ),
    "create category": Write(
        "POST", "/v1/schemes/korea-eco-label/categories", category_body(code="paper")
    ),
    "update category": Write(
        "PATCH",
        "/v1/schemes/korea-eco-label/categories/paints",
        {"name": "Paints"},
        if_match=True,
    ),
    "create body": Write("POST", "/v1/certification-bodies", body_body(id="new-body")),
    "update body": Write(
        "PATCH", "/v1/certification-bodies/kr-test-body", {"name": "Renamed"}, if_match=True
    ),
    "create certificate": Write(
        "POST", "/v1/schemes/korea-eco-label/certificates", certificate_body(number="KR-0002")
    ),
    "update certificate": Write("PATCH", CERT, {"product_name": "Renamed"}, if_match=True),
    "certificate status event": Write(
        "POST",
        CERT + "/status-events",
        {"status": "suspended", "effective_date": "2025-01-01", "reason": "audit finding"},
    ),
    "create agreement": Write("POST", "/v1/agreements", agreement_body()),
    "update agreement": Write(
        "PATCH", "/v1/agreements/{agreement}", {"title": "Renamed"}, if_match=True
    ),
    "agreement status event": Write(
        "POST",
        "/v1/agreements/{agreement}/status-events",
        {"status": "suspended", "effective_date": "2025-01-01", "reason": "review"},
    ),
    "party status event": Write(
        "POST",
        "/v1/agreements/{agreement}/parties/japan-eco-mark/status-events",
        {"status": "suspended", "effective_date": "2025-01-01", "reason": "review"},
    ),
    "add scope entry": Write(
        "POST",
        "/v1/agreements/{agreement}/scope-entries",
        {
            "recognized_scheme_id": "japan-eco-mark",
            "category_code": "paints",
            "level": "full",
            "valid_from": "2024-01-01",
        },
    ),
    "end scope entry": Write(
        "PATCH",
        "/v1/agreements/{agreement}/scope-entries/{entry}",
        {"valid_to": "2025-12-31"},
        if_match=True,
    ),
}

DEEP = json.loads("[" * 50 + "]" * 50)  # deep, yet decodable: the field's type is wrong


# (operation, path of the field in the body, bad value, field named by the answer)
CASES: list[tuple[str, str, Any, str]] = [
    # put group
    ("put group", "name", 42, "name"),
    ("put group", "name", "x" * 301, "name"),
    ("put group", "name", "", "name"),
    ("put group", "members", "DE", "members"),
    ("put group", "members", [{"member": "DE"}] * 1001, "members"),
    ("put group", "members.0.member", "XX", "members.0.member"),
    ("put group", "members.0.member", "de", "members.0.member"),
    ("put group", "members.0.valid_from", "2024-02-30", "members.0.valid_from"),
    ("put group", "members.0.valid_from", True, "members.0.valid_from"),
    ("put group", "members.0.valid_to", "2019-12-31", "members.0.valid_to"),
    ("put group", "members.0.extra", 1, "members.0.extra"),
    # create scheme
    ("create scheme", "id", "Not A Slug", "id"),
    ("create scheme", "id", 7, "id"),
    ("create scheme", "id", MISSING, "id"),
    ("create scheme", "name", ["Korea"], "name"),
    ("create scheme", "name", "x" * 301, "name"),
    ("create scheme", "name", "a\u0000b", "name"),
    ("create scheme", "type", "iso9001", "type"),
    ("create scheme", "home_economies", [], "home_economies"),
    ("create scheme", "home_economies", "KR", "home_economies"),
    ("create scheme", "home_economies", ["XX"], "home_economies.0"),
    ("create scheme", "home_economies", ["KR", "KR"], "home_economies"),
    ("create scheme", "home_economies", ["KR"] * 301, "home_economies"),
    ("create scheme", "certificate_coverage", "most", "certificate_coverage"),
    ("create scheme", "website", "ftp://example.org", "website"),
    ("create scheme", "description", "x" * 10_001, "description"),
    ("create scheme", "description", DEEP, "description"),
    ("create scheme", "unknown_field", "x", "unknown_field"),
    # update scheme
    ("update scheme", "name", None, "name"),
    ("update scheme", "name", 3.5, "name"),
    ("update scheme", "home_economies", ["ZZ"], "home_economies.0"),
    ("update scheme", "type", None, "type"),
    ("update scheme", "website", "not a url", "website"),
    # create category
    ("create category", "code", "no spaces allowed", "code"),
    ("create category", "valid_from", "2024-13-01", "valid_from"),
    ("create category", "valid_from", "10000-01-01", "valid_from"),
    ("create category", "valid_from", 1.5, "valid_from"),
    ("create category", "valid_to", "2019-12-31", "valid_to"),
    ("create category", "hs_codes", [], "hs_codes"),
    ("create category", "hs_codes", ["32A8"], "hs_codes.0"),
    ("create category", "hs_codes", ["3"], "hs_codes.0"),
    ("create category", "hs_codes", ["3208", "3208"], "hs_codes.1"),
    ("create category", "hs_codes", ["3208"] * 501, "hs_codes"),
    ("create category", "criteria", ["Not OK"], "criteria.0"),
    ("create category", "criteria_version", "", "criteria_version"),
    # update category
    ("update category", "valid_to", "2019-12-31", "valid_to"),
    ("update category", "valid_from", "2024-02-30", "valid_from"),
    ("update category", "hs_codes", ["abc"], "hs_codes.0"),
    ("update category", "hs_codes", None, "hs_codes"),
    # create body
    ("create body", "id", "-bad-", "id"),
    ("create body", "economy", "XX", "economy"),
    ("create body", "economy", 49, "economy"),
    ("create body", "accreditation_ref", "x" * 301, "accreditation_ref"),
    ("create body", "authorizations", {"scheme_id": "korea-eco-label"}, "authorizations"),
    ("create body", "authorizations.0.scheme_id", "no-such-scheme", "authorizations.0.scheme_id"),
    ("create body", "authorizations.0.valid_to", "2019-01-01", "authorizations.0.valid_to"),
    ("create body", "authorizations.0.valid_from", "2020-02-31", "authorizations.0.valid_from"),
    # update body
    ("update body", "economy", "ZZ", "economy"),
    ("update body", "name", None, "name"),
    (
        "update body",
        "authorizations",
        [{"scheme_id": "nope-scheme"}],
        "authorizations.0.valid_from",
    ),
    # create certificate
    ("create certificate", "number", " leading-space", "number"),
    ("create certificate", "number", "x" * 101, "number"),
    ("create certificate", "number", 1234, "number"),
    ("create certificate", "category_code", "no-such-category", "category_code"),
    ("create certificate", "holder_economy", "XX", "holder_economy"),
    ("create certificate", "holder_name", "x" * 301, "holder_name"),
    ("create certificate", "gtins", ["4006381333932"], "gtins.0"),
    ("create certificate", "gtins", "4006381333931", "gtins"),
    ("create certificate", "hs_codes", ["4401"], "hs_codes.0"),
    ("create certificate", "hs_codes", ["32081"] * 101, "hs_codes"),
    ("create certificate", "certification_body_id", "no-such-body", "certification_body_id"),
    ("create certificate", "valid_from", "2023-00-10", "valid_from"),
    ("create certificate", "valid_to", "2022-12-31", "valid_to"),
    ("create certificate", "valid_to", MISSING, "valid_to"),
    ("create certificate", "valid_to", {"year": 2027}, "valid_to"),
    # update certificate
    ("update certificate", "valid_to", "2022-01-01", "valid_to"),
    ("update certificate", "holder_economy", "XX", "holder_economy"),
    ("update certificate", "category_code", "no-such-category", "category_code"),
    ("update certificate", "product_name", None, "product_name"),
    # certificate status event
    ("certificate status event", "status", "paused", "status"),
    ("certificate status event", "effective_date", "2025-02-29", "effective_date"),
    ("certificate status event", "effective_date", MISSING, "effective_date"),
    ("certificate status event", "effective_date", 0, "effective_date"),
    ("agreement status event", "effective_date", 1735689600, "effective_date"),
    ("certificate status event", "reason", "", "reason"),
    ("certificate status event", "reason", "x" * 2001, "reason"),
    ("certificate status event", "reason", 404, "reason"),
    # create agreement
    ("create agreement", "title", "", "title"),
    ("create agreement", "title", "x" * 501, "title"),
    ("create agreement", "direction", "sideways", "direction"),
    ("create agreement", "chaining", True, "chaining"),
    ("create agreement", "effective_from", "2023-07-32", "effective_from"),
    ("create agreement", "effective_to", "2020-01-01", "effective_to"),
    ("create agreement", "parties", ["korea-eco-label"], "parties"),
    ("create agreement", "parties", ["korea-eco-label", "no-such-scheme"], "parties.1"),
    ("create agreement", "parties", "korea-eco-label", "parties"),
    (
        "create agreement",
        "scope_entries.0.category_code",
        "no-such-category",
        "scope_entries.0.category_code",
    ),
    (
        "create agreement",
        "scope_entries.0.recognized_scheme_id",
        "blue-angel",
        "scope_entries.0.recognized_scheme_id",
    ),
    ("create agreement", "scope_entries.0.level", "native", "scope_entries.0.level"),
    (
        "create agreement",
        "scope_entries.0.hs_prefixes",
        ["3208X"],
        "scope_entries.0.hs_prefixes.0",
    ),
    (
        "create agreement",
        "scope_entries.0.valid_to",
        "2023-01-01",
        "scope_entries.0.valid_to",
    ),
    # update agreement
    ("update agreement", "effective_to", "2020-01-01", "effective_to"),
    ("update agreement", "title", None, "title"),
    ("update agreement", "chaining", "sometimes", "chaining"),
    ("update agreement", "url", "javascript:alert(1)", "url"),
    # agreement status event
    ("agreement status event", "status", "active", "status"),
    ("agreement status event", "effective_date", "yesterday", "effective_date"),
    ("agreement status event", "reason", None, "reason"),
    # party status event
    ("party status event", "status", "terminated", "status"),
    ("party status event", "effective_date", [2025, 1, 1], "effective_date"),
    # add scope entry
    ("add scope entry", "recognized_scheme_id", "no-such-scheme", "recognized_scheme_id"),
    ("add scope entry", "category_code", "no-such-category", "category_code"),
    ("add scope entry", "level", "partial", "level"),
    ("add scope entry", "valid_to", "2023-12-31", "valid_to"),
    ("add scope entry", "conditions", [{"text": ""}], "conditions.0.text"),
    ("add scope entry", "hs_prefixes", ["3208"] * 501, "hs_prefixes"),
    # end scope entry
    ("end scope entry", "valid_to", "2020-01-01", "valid_to"),
    ("end scope entry", "valid_to", "2025-06-31", "valid_to"),
    ("end scope entry", "valid_to", MISSING, "valid_to"),
    ("end scope entry", "valid_to", None, "valid_to"),
]


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the field at `path` (dotted, list indexes as numbers) replaced."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def database_state(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    session.expire_all()
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table)).all()
        state[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return state


@dataclass
class World:
    client: TestClient
    operator: dict[str, str]
    agreement: str
    entry: str

    def url(self, write: Write) -> str:
        return write.url.format(agreement=self.agreement, entry=self.entry)

    def headers(self, write: Write, url: str) -> dict[str, str]:
        headers = dict(self.operator)
        if write.if_match:
            current = self.client.get(url)
            assert current.status_code == 200, current.text
            headers["If-Match"] = current.headers["ETag"]
        return headers


@pytest.fixture
def world(client: TestClient, operator: dict[str, str]) -> World:
    """Two schemes with a category each, a body, a certificate and an agreement."""
    setup_registry(client, operator)
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    return World(client, operator, agreement["id"], agreement["scope_entries"][0]["id"])


def assert_names_field(response: Any, field: str) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    named = [e["field"] for e in problem.get("errors") or []]
    assert field in named, f"{field!r} not in {named}: {problem['detail']}"
    return problem


def test_every_valid_base_body_is_accepted(world: World) -> None:
    """The catalogue's bodies are valid: each failure below is the bad field's doing."""
    for name, write in WRITES.items():
        url = world.url(write)
        response = world.client.request(
            write.method, url, json=write.body, headers=world.headers(write, url)
        )
        assert response.status_code in (200, 201), f"{name}: {response.text}"


@pytest.mark.parametrize(
    ("operation", "path", "value", "field"),
    [pytest.param(*case, id=f"{case[0]}-{case[1]}-{i}") for i, case in enumerate(CASES)],
)
def test_bad_field_is_named_and_nothing_is_written(
    world: World, session: Session, operation: str, path: str, value: Any, field: str
) -> None:
    write = WRITES[operation]
    url = world.url(write)
    headers = world.headers(write, url)
    before = database_state(session)
    body = with_field(write.body, path, value)
    response = world.client.request(write.method, url, json=body, headers=headers)
    assert_names_field(response, field)
    assert database_state(session) == before


# Whole-body faults: every write gets the same treatment.

BODY_FAULTS: list[tuple[str, bytes, str, str]] = [
    # (fault, raw body, content type, field named)
    ("wrong content type", b'{"name": "x"}', "text/plain", "Content-Type"),
    ("form instead of json", b"name=x", "application/x-www-form-urlencoded", "Content-Type"),
    ("invalid utf-8", b'{"name": "K\xff\xfeorea"}', "application/json", "body"),
    ("truncated json", b'{"name": "Korea', "application/json", "body"),
    ("json array", b"[]", "application/json", "body"),
    ("json string", b'"hello"', "application/json", "body"),
    ("deeply nested json", b"[" * 100_000 + b"]" * 100_000, "application/json", "body"),
    (
        "deeply nested json in a field",
        b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "application/json",
        "body",
    ),
    ("oversize body", b" " * (1024 * 1024 + 1), "application/json", "body"),
]


@pytest.mark.parametrize("operation", list(WRITES))
@pytest.mark.parametrize(
    ("content", "content_type", "field"),
    [pytest.param(c, t, f, id=name) for name, c, t, f in BODY_FAULTS],
)
def test_unreadable_body_is_named_and_nothing_is_written(
    world: World, session: Session, operation: str, content: bytes, content_type: str, field: str
) -> None:
    write = WRITES[operation]
    url = world.url(write)
    headers = {**world.headers(write, url), "Content-Type": content_type}
    before = database_state(session)
    response = world.client.request(write.method, url, content=content, headers=headers)
    assert_names_field(response, field)
    assert database_state(session) == before


def test_batch_that_is_not_a_list_of_lines_names_the_field(client: TestClient) -> None:
    response = client.post("/v1/equivalence/batch", json={"lines": "KR"})
    assert_names_field(response, "lines")
    response = client.post("/v1/equivalence/batch", json={"lines": [], "extra": 1})
    assert_names_field(response, "extra")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/schemes/a%00b", "path"),
        ("/v1/certificates?holder=a%00b", "holder"),
        ("/v1/agreements?scheme=x%00", "scheme"),
        ("/v1/equivalence?scheme=eu-ecolabel&certificate=A%00&target=KR", "certificate"),
    ],
)
def test_nul_in_the_url_is_a_named_client_error(client: TestClient, url: str, field: str) -> None:
    assert_names_field(client.get(url), field)
