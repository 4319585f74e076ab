"""What one client may take: decision lines a key records in an hour, batch lines answered at
once by a process (api/admission.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.api.admission import LineSlots
from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.tables import DecisionRow
from ecolabel_registry.services.signing import SigningKeyFile
from ecolabel_registry.settings import Settings
from tests.api.data import created, problem, setup_recognition, setup_registry
from tests.conftest import make_key

Q = {"scheme": "korea-eco-label", "certificate": "KR-0001", "target": "JP", "on": "2025-03-01"}
QUOTA = 5


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    keys = SigningKeyFile(tmp_path / "keys" / "signing-keys.json")
    keys.create()
    return Settings(
        database_url="sqlite://",
        check_migrations=False,
        signing_key_file=keys.path,
        decision_lines_per_key_per_hour=QUOTA,
        max_lines_at_once=4,
        lines_wait_seconds=0.2,
    )


@pytest.fixture
def world(client: TestClient, operator: dict[str, str]) -> None:
    setup_recognition(client, operator)


def decisions(session: Session) -> int:
    session.expire_all()
    return int(session.execute(select(func.count()).select_from(DecisionRow)).scalar_one())


def lines(n: int) -> dict[str, Any]:
    return {"lines": [{"ref": f"L{i}", **Q} for i in range(n)]}


def test_a_key_past_its_hourly_decision_lines_gets_429_and_nothing_is_recorded(
    client: TestClient, world: None, operator: dict[str, str], session: Session
) -> None:
    created(client.post("/v1/decisions", json=lines(3), headers=operator))
    created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    assert decisions(session) == 2
    # 4 of the 5 lines are used: 2 more do not fit, and count nothing.
    refused = client.post("/v1/decisions", json=lines(2), headers=operator)
    body = problem(refused, 429)
    assert body["type"].endswith("/quota-exceeded")
    assert "5 decision lines an hour" in body["detail"]
    assert "1 left now" in body["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert decisions(session) == 2
    # The line left is still there to use; then even one question is refused.
    created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    assert problem(client.post("/v1/decisions", json={"question": Q}, headers=operator), 429)
    assert decisions(session) == 3
    # Another key has its own quota; reading decisions and asking questions is not counted.
    other = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    created(client.post("/v1/decisions", json=lines(5), headers=other))
    assert client.get("/v1/equivalence", params=Q).status_code == 200
    assert client.post("/v1/equivalence/batch", json=lines(3)).status_code == 200


def test_without_a_quota_a_key_records_as_many_lines_as_it_asks(
    settings: Settings, session_factory: sessionmaker[Session], session: Session
) -> None:
    unlimited = settings.model_copy(update={"decision_lines_per_key_per_hour": 0})
    operator = make_key(session, Role.OPERATOR, name="no quota")
    app = create_app(unlimited, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        setup_registry(client, operator)
        for _ in range(3):
            created(client.post("/v1/decisions", json=lines(4), headers=operator))
    assert decisions(session) == 3


def test_a_batch_waits_for_lines_taken_by_others_then_answers_503_having_done_nothing(
    client: TestClient, world: None, operator: dict[str, str], session: Session
) -> None:
    slots: LineSlots = client.app.state.line_slots  # type: ignore[attr-defined]
    portal = client.portal
    assert portal is not None
    # Another request holds every line of the process (it is being answered).
    held = portal.call(_hold, slots, 4)
    try:
        busy = client.post("/v1/equivalence/batch", json=lines(2))
        body = problem(busy, 503)
        assert "batch lines are being answered already" in body["detail"]
        assert busy.headers["retry-after"] == "5"
        # A decision of more lines than a question's few bytes waits the same way.
        refused = client.post("/v1/decisions", json=lines(60), headers=operator)
        assert problem(refused, 503)
        assert decisions(session) == 0
        # A single question is never made to wait for lines.
        assert client.get("/v1/equivalence", params=Q).status_code == 200
        assert created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    finally:
        portal.call(_release, slots, held)
    assert slots.free == slots.capacity == 4
    assert client.post("/v1/equivalence/batch", json=lines(2)).status_code == 200
    # A batch of more lines than the process answers at once runs alone.
    assert client.post("/v1/equivalence/batch", json=lines(9)).status_code == 200
    assert slots.free == 4


async def _hold(slots: LineSlots, lines: int) -> Any:
    context = slots.taken(lines)
    await context.__aenter__()
    return context


async def _release(slots: LineSlots, context: Any) -> None:
    await context.__aexit__(None, None, None)
