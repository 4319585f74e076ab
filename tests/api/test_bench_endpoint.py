"""The benchmarks' trivial endpoint exists only when ECOLABEL_BENCH_ENDPOINTS is on."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.app import create_app
from ecolabel_registry.settings import Settings


def test_not_mounted_by_default(client: TestClient) -> None:
    assert client.get("/bench/trivial").status_code == 404
    assert "/bench/trivial" not in client.get("/openapi.json").json()["paths"]


def test_mounted_when_enabled_and_never_documented(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    enabled = settings.model_copy(update={"bench_endpoints": True})
    with TestClient(create_app(enabled, session_factory=session_factory)) as client:
        response = client.get("/bench/trivial")
        assert response.status_code == 200
        assert response.json()["recognized"] is True
        assert "/bench/trivial" not in client.get("/openapi.json").json()["paths"]
