"""A question asked after a fact write's 2xx sees that write, in every serving process.

Two real servers (two processes, each with its own resolver snapshot) on one database made
for the test: every kind of write to the facts the resolver caches (schemes, categories,
agreements with their status, parties and scope entries, group memberships) goes to the
first, and the question right after its 2xx goes to both. Each process brings its snapshot
up to date with the change log (ADR 0006); an answer from a snapshot that missed the write
fails the test.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.api.data import agreement_body, category_body, certificate_body, scheme_body
from tests.reliability.serving import cli, postgres_database, serve

ON = "2025-03-01"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A database of the engine under test, migrated, for this test only."""
    if os.environ.get("ECOLABEL_TEST_ENGINE", "sqlite") == "postgresql":
        with postgres_database() as url:
            cli(url, "migrate")
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
        cli(url, "migrate")
        yield url


@dataclass
class Registry:
    """The writing server's client, and the clients of both servers for questions."""

    writer: httpx.Client
    askers: tuple[httpx.Client, ...]
    key: str

    def write(
        self, method: str, path: str, body: Any, version: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        if version is not None:
            headers["If-Match"] = version
        response = self.writer.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response

    def ask(self, number: str, target: str, scheme: str = "rw-a", **extra: str) -> list[Any]:
        """The answer of every server, asked one after the other (all must agree)."""
        query = {"scheme": scheme, "certificate": number, "target": target, "on": ON, **extra}
        answers = []
        for client in self.askers:
            response = client.get("/v1/equivalence", params=query)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        assert all(a == answers[0] for a in answers), answers
        return answers


def codes(answer: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in answer["reasons"]]


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Iterator[Registry]:
    key = cli(database_url, "keys", "create", "--role", "operator", "--name", "rw")
    key = key.strip().splitlines()[-1]
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(serve(database_url, tmp_path / "first.log"))
        second = stack.enter_context(serve(database_url, tmp_path / "second.log"))
        clients = [
            stack.enter_context(httpx.Client(base_url=server.base_url, timeout=30))
            for server in (first, second)
        ]
        yield Registry(clients[0], (clients[1], clients[0]), key)


def arrange(r: Registry) -> None:
    r.write("PUT", "/v1/economies/RWG", {"name": "Test group", "members": [
        {"member": "DE", "valid_from": "2000-01-01"}
    ]})  # fmt: skip
    for scheme_id, home in (("rw-a", "KR"), ("rw-b", "JP"), ("rw-g", "RWG")):
        r.write(
            "POST", "/v1/schemes", scheme_body(id=scheme_id, name=scheme_id, home_economies=[home])
        )
        r.write("POST", f"/v1/schemes/{scheme_id}/categories", category_body())
    for scheme_id, number in (("rw-a", "A-1"), ("rw-g", "G-1")):
        r.write(
            "POST",
            f"/v1/schemes/{scheme_id}/certificates",
            certificate_body(number=number, certification_body_id=None),
        )


def test_every_fact_write_is_seen_by_the_next_question_in_every_process(
    registry: Registry,
) -> None:
    r = registry
    arrange(r)
    assert r.ask("A-1", "KR")[0]["level"] == "native"
    assert r.ask("A-1", "JP")[0]["recognized"] is False

    # A scheme changed: its new name is in the explanation.
    r.write("PATCH", "/v1/schemes/rw-a", {"name": "Label A, renamed"}, '"1"')
    assert "Label A, renamed" in r.ask("A-1", "KR")[0]["explanation"]

    # A category added, then a certificate of it asked about.
    r.write("POST", "/v1/schemes/rw-a/categories", category_body(code="boards", hs_codes=["4418"]))
    r.write(
        "POST",
        "/v1/schemes/rw-a/certificates",
        certificate_body(
            number="A-2", category_code="boards", hs_codes=["4418"], certification_body_id=None
        ),
    )
    assert r.ask("A-2", "KR")[0]["level"] == "native"

    # A category changed: its criteria expired before the question's date, then reopened.
    r.write("PATCH", "/v1/schemes/rw-a/categories/paints", {"valid_to": "2024-12-31"}, '"1"')
    assert codes(r.ask("A-1", "KR")[0]) == ["CRITERIA_EXPIRED"]
    r.write("PATCH", "/v1/schemes/rw-a/categories/paints", {"valid_to": None}, '"2"')
    assert r.ask("A-1", "KR")[0]["level"] == "native"

    # An agreement recorded, then changed.
    body = agreement_body(
        title="RW agreement",
        parties=["rw-a", "rw-b"],
        scope_entries=[
            {"recognized_scheme_id": "rw-a", "level": "full", "valid_from": "2023-07-01"}
        ],
    )
    agreement = r.write("POST", "/v1/agreements", body).json()
    path = f"/v1/agreements/{agreement['id']}"
    assert r.ask("A-1", "JP")[0]["level"] == "full"
    r.write("PATCH", path, {"title": "RW agreement, renamed"}, '"1"')
    assert "RW agreement, renamed" in r.ask("A-1", "JP")[0]["explanation"]

    # Its scope entry ended, then a narrower one added.
    entry = agreement["scope_entries"][0]["id"]
    r.write("PATCH", f"{path}/scope-entries/{entry}", {"valid_to": "2024-12-31"}, '"1"')
    assert codes(r.ask("A-1", "JP")[0]) == ["CATEGORY_NOT_IN_SCOPE"]
    r.write(
        "POST",
        f"{path}/scope-entries",
        {
            "recognized_scheme_id": "rw-a",
            "level": "conditional",
            "valid_from": "2025-01-01",
            "hs_prefixes": ["3208"],
            "conditions": [{"text": "a factory audit"}],
        },
    )
    assert r.ask("A-1", "JP", hs_code="320810")[0]["level"] == "conditional"

    # The agreement suspended, then in force again.
    event = {"status": "suspended", "effective_date": "2025-01-15", "reason": "review"}
    r.write("POST", f"{path}/status-events", event)
    assert codes(r.ask("A-1", "JP")[0]) == ["AGREEMENT_SUSPENDED"]
    event = {"status": "in_force", "effective_date": "2025-02-01", "reason": "review closed"}
    r.write("POST", f"{path}/status-events", event)
    assert r.ask("A-1", "JP", hs_code="320810")[0]["level"] == "conditional"

    # One party suspended.
    event = {"status": "suspended", "effective_date": "2025-02-15", "reason": "lapsed"}
    r.write("POST", f"{path}/parties/rw-b/status-events", event)
    assert codes(r.ask("A-1", "JP")[0]) == ["PARTY_SUSPENDED"]

    # Memberships: a member joins the group a scheme is homed in, another leaves.
    assert r.ask("G-1", "DE", scheme="rw-g")[0]["level"] == "native"
    assert r.ask("G-1", "FR", scheme="rw-g")[0]["recognized"] is False
    members = [
        {"member": "DE", "valid_from": "2000-01-01"},
        {"member": "FR", "valid_from": "2020-01-01"},
    ]
    r.write("PUT", "/v1/economies/RWG", {"name": "Test group", "members": members}, '"1"')
    assert r.ask("G-1", "FR", scheme="rw-g")[0]["level"] == "native"
    members[0]["valid_to"] = "2024-12-31"
    r.write("PUT", "/v1/economies/RWG", {"name": "Test group", "members": members}, '"2"')
    assert r.ask("G-1", "DE", scheme="rw-g")[0]["recognized"] is False
    assert r.ask("G-1", "FR", scheme="rw-g")[0]["level"] == "native"
