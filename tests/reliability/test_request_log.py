"""The request log: one JSON line a request, its id echoed, what failed said, no key logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from ecolabel_registry.api.deps import scheme_service
from ecolabel_registry.app import create_app
from ecolabel_registry.settings import Settings
from tests.api.data import scheme_body
from tests.reliability.serving import free_port

SECRET = "erk_this-key-must-never-appear-in-a-log-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}


def log_lines(captured: str) -> list[dict[str, Any]]:
    """Every line of the output must be one JSON object."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def request_line(lines: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    found = [line for line in lines if line.get("event") == "request"]
    found = [line for line in found if line.get("request_id") == request_id]
    assert len(found) == 1, lines
    return found[0]


@pytest.fixture
def unreachable_database(settings: Settings) -> Iterator[FastAPI]:
    """An app whose PostgreSQL does not answer (nothing listens on the port)."""
    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/registry",
        connect_args={"connect_timeout": 2},
    )
    yield create_app(settings, session_factory=sessionmaker(engine))
    engine.dispose()


def test_each_request_logs_one_line_with_its_echoed_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.get("/v1/schemes", headers={"X-Request-ID": "trace-ok", **AUTH})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-ok"
    line = request_line(log_lines(capsys.readouterr().err), "trace-ok")
    assert line["method"] == "GET"
    assert line["path"] == "/v1/schemes"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert "error" not in line


def test_database_outage_logs_what_failed_without_the_key(
    unreachable_database: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(unreachable_database, raise_server_exceptions=False) as client:
        capsys.readouterr()
        response = client.post(
            "/v1/schemes", json=scheme_body(), headers={"X-Request-ID": "trace-503", **AUTH}
        )
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert response.headers["X-Request-ID"] == "trace-503"
    output = capsys.readouterr().err
    line = request_line(log_lines(output), "trace-503")
    assert line["status"] == 503
    assert line["level"] == "warning"
    assert line["error_type"] == "OperationalError"
    assert "connection" in line["error"].lower()
    assert SECRET not in output
    assert "Bearer" not in output


def test_unexpected_error_logs_type_and_message_and_keeps_the_request_id(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("the scheme service fell over")

    app.dependency_overrides[scheme_service] = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        capsys.readouterr()
        response = client.get("/v1/schemes", headers={"X-Request-ID": "trace-500", **AUTH})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "fell over" not in response.text  # no internals in the answer
    assert response.headers["X-Request-ID"] == "trace-500"
    output = capsys.readouterr().err
    lines = log_lines(output)
    line = request_line(lines, "trace-500")
    assert line["status"] == 500
    assert line["level"] == "error"
    assert line["error_type"] == "RuntimeError"
    assert line["error"] == "the scheme service fell over"
    traces = [x for x in lines if x.get("event", "").startswith("unhandled error")]
    assert [t["request_id"] for t in traces] == ["trace-500"]
    assert "RuntimeError" in traces[0]["exception"]
    assert SECRET not in output


def test_raw_driver_connection_error_is_a_503_not_a_500(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hot paths on raw driver connections raise the driver's own OperationalError."""

    def gone() -> None:
        raise psycopg.OperationalError("the database system is shutting down")

    app.dependency_overrides[scheme_service] = gone
    with TestClient(app, raise_server_exceptions=False) as client:
        capsys.readouterr()
        response = client.get("/v1/schemes", headers={"X-Request-ID": "trace-raw"})
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    line = request_line(log_lines(capsys.readouterr().err), "trace-raw")
    assert line["error_type"] == "OperationalError"
    assert "shutting down" in line["error"]
