"""Two editors never overwrite each other; two creators never make a duplicate (real commits)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.engine import make_engine
from ecolabel_registry.persistence.migrate import upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.settings import Settings
from tests.api.data import category_body, certificate_body, created, scheme_body
from tests.conftest import ENGINE, create_postgres_database, drop_postgres_database


@pytest.fixture
def committed_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own whose commits are real (nothing is rolled back)."""
    if ENGINE == "sqlite":
        url = f"sqlite:///{tmp_path / 'concurrency.sqlite3'}"
        yield url
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def live(committed_url: str) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    settings = Settings(database_url=committed_url)
    engine = make_engine(settings)
    with engine.begin() as conn:
        upgrade(conn)
    with Session(engine) as session:
        _, secret = ApiKeyService(SqlApiKeyRepository(session)).create("editor", Role.OPERATOR)
        session.commit()
    yield create_app(settings, engine=engine), {"Authorization": f"Bearer {secret}"}
    engine.dispose()


def race(app: FastAPI, *calls: Callable[[TestClient], httpx.Response]) -> list[httpx.Response]:
    """Run the calls at the same moment, each through its own client."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[TestClient], httpx.Response]) -> None:
        with TestClient(app) as client:
            barrier.wait()
            results[i] = call(client)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_editors_with_the_same_etag_one_wins_one_gets_412(
    live: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = live
    with TestClient(app) as client:
        created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    headers = {**operator, "If-Match": '"1"'}
    responses = race(
        app,
        lambda c: c.patch("/v1/schemes/korea-eco-label", json={"name": "Edit A"}, headers=headers),
        lambda c: c.patch("/v1/schemes/korea-eco-label", json={"name": "Edit B"}, headers=headers),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412]
    winner = next(r for r in responses if r.status_code == 200).json()["name"]
    with TestClient(app) as client:
        final = client.get("/v1/schemes/korea-eco-label")
    assert final.json()["name"] == winner
    assert final.headers["ETag"] == '"2"'


def test_concurrent_creates_of_one_certificate_give_one_201_and_one_409(
    live: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = live
    with TestClient(app) as client:
        created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
        created(
            client.post(
                "/v1/schemes/korea-eco-label/categories", json=category_body(), headers=operator
            )
        )
    body = certificate_body(certification_body_id=None)
    url = "/v1/schemes/korea-eco-label/certificates"
    responses = race(
        app,
        lambda c: c.post(url, json=body, headers=operator),
        lambda c: c.post(url, json={**body, "product_name": "Other"}, headers=operator),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    with TestClient(app) as client:
        listed = client.get(url).json()["items"]
        audit = client.get(
            "/v1/audit-events", params={"entity_type": "certificate"}, headers=operator
        ).json()["items"]
    assert [c["number"] for c in listed] == ["KR-0001"]
    assert len(audit) == 1
