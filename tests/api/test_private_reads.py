"""With ECOLABEL_PUBLIC_READS=false every read needs a valid key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.settings import Settings
from tests.conftest import make_key


@pytest.fixture
def private_client(session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    settings = Settings(database_url="sqlite://", check_migrations=False, public_reads=False)
    with TestClient(create_app(settings, session_factory=session_factory)) as client:
        yield client


def test_reads_need_a_key_when_reads_are_private(
    private_client: TestClient, session: Session
) -> None:
    anonymous = private_client.get("/v1/economies/DE")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    key = make_key(session, Role.OPERATOR, name="reader")
    assert private_client.get("/v1/economies/DE", headers=key).status_code == 200
    assert (
        private_client.get("/v1/economies/DE", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


def test_health_stays_public_when_reads_are_private(private_client: TestClient) -> None:
    assert private_client.get("/healthz").status_code == 200
    assert private_client.get("/readyz").status_code == 200


DOC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


def test_the_api_description_stays_open_unless_the_operator_closes_it(
    private_client: TestClient, session_factory: sessionmaker[Session], session: Session
) -> None:
    for path in DOC_PATHS:
        assert private_client.get(path).status_code == 200, path
    settings = Settings(
        database_url="sqlite://", check_migrations=False, public_reads=False, api_docs=False
    )
    key = make_key(session, Role.OPERATOR, name="reader")
    with TestClient(create_app(settings, session_factory=session_factory)) as closed:
        for path in DOC_PATHS:
            for headers in ({}, key):
                response = closed.get(path, headers=headers)
                assert response.status_code == 404, path
                assert response.headers["content-type"] == "application/problem+json"
        assert closed.get("/v1/economies/DE", headers=key).status_code == 200
