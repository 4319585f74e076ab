"""Status-event and scope-entry lists come a page at a time; a new event reads no history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from tests.api.data import agreement_body, created, fields, setup_registry

KR = "korea-eco-label"
JP = "japan-eco-mark"
CERT = f"/v1/schemes/{KR}/certificates/KR-0001"


def pages(client: TestClient, url: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    out: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = client.get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        out.append(body["items"])
        if body["next_cursor"] is None:
            return out
        params = {"limit": limit, "cursor": body["next_cursor"]}


def event(status: str, day: dt.date) -> dict[str, str]:
    return {"status": status, "effective_date": day.isoformat(), "reason": f"{status} test"}


def alternate(client: TestClient, url: str, operator: dict[str, str], n: int) -> None:
    """`n` events on `url`, suspended and reinstated in turn, a day apart from 2024-01-01."""
    statuses = ("suspended", "active")
    for i in range(n):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        created(client.post(url, json=event(statuses[i % 2], day), headers=operator))


def test_a_certificate_history_comes_in_pages_in_recording_order(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    alternate(client, f"{CERT}/status-events", operator, 55)
    first = client.get(f"{CERT}/status-events").json()
    assert len(first["items"]) == 50  # the default page
    assert first["next_cursor"] is not None
    paged = pages(client, f"{CERT}/status-events", 7)
    assert [len(p) for p in paged] == [7] * 8
    whole = [e for p in paged for e in p]
    assert whole == client.get(f"{CERT}/status-events", params={"limit": 1000}).json()["items"]
    assert [e["effective_date"] for e in whole] == sorted(e["effective_date"] for e in whole)
    assert whole[0]["status"] == "active"
    assert whole[0]["effective_date"] == "2023-01-01"


def test_a_status_event_list_refuses_a_cursor_it_did_not_give_and_a_bad_limit(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"{CERT}/status-events"
    assert fields(client.get(url, params={"cursor": "abc"})) == ["cursor"]
    assert fields(client.get(url, params={"limit": 0})) == ["limit"]
    assert fields(client.get(url, params={"limit": 1001})) == ["limit"]
    assert client.get(f"/v1/schemes/{KR}/certificates/KR-9999/status-events").status_code == 404
    missing = client.get("/v1/schemes/no-such/certificates/KR-0001/status-events")
    assert missing.status_code == 404
    assert "no-such" in missing.json()["detail"]


def test_a_status_event_is_audited_as_the_event_not_as_two_copies_of_the_history(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    alternate(client, f"{CERT}/status-events", operator, 3)
    response = client.get(
        "/v1/audit-events",
        params={"entity_type": "certificate", "entity_id": f"{KR}/KR-0001"},
        headers=operator,
    )
    last = response.json()["items"][-1]
    assert last["operation"] == "certificate.status_event"
    assert last["before"] is None
    assert last["after"]["status"] == "suspended"
    assert last["after"]["effective_date"] == "2024-01-03"
    assert "status_events" not in last["after"]


def test_agreement_and_party_histories_come_in_pages(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    base = f"/v1/agreements/{agreement['id']}"
    alternate(client, f"{base}/parties/{JP}/status-events", operator, 5)
    party = pages(client, f"{base}/parties/{JP}/status-events", 2)
    assert [len(p) for p in party] == [2, 2, 1]
    assert [e["status"] for p in party for e in p] == ["suspended", "active"] * 2 + ["suspended"]
    assert pages(client, f"{base}/parties/{KR}/status-events", 2) == [[]]
    for status, day in (("suspended", "2024-01-01"), ("in_force", "2024-02-01")):
        created(
            client.post(
                f"{base}/status-events",
                json={"status": status, "effective_date": day, "reason": "test"},
                headers=operator,
            )
        )
    history = pages(client, f"{base}/status-events", 2)
    assert [[e["status"] for e in p] for p in history] == [["in_force", "suspended"], ["in_force"]]
    assert client.get(f"{base}/parties/no-such/status-events").status_code == 404
    unknown = "/v1/agreements/00000000-0000-0000-0000-000000000000/status-events"
    assert client.get(unknown).status_code == 404


def test_scope_entries_come_in_pages_in_the_order_of_their_start(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    url = f"/v1/agreements/{agreement['id']}/scope-entries"
    for day in ("2025-01-01", "2024-01-01", "2025-01-01", "2023-08-01", "2024-01-01"):
        entry = {
            "recognized_scheme_id": JP,
            "category_code": "paints",
            "level": "full",
            "valid_from": day,
        }
        created(client.post(url, json=entry, headers=operator))
    whole = client.get(url, params={"limit": 1000}).json()["items"]
    assert len(whole) == 6
    assert [e["valid_from"] for e in whole] == sorted(e["valid_from"] for e in whole)
    for limit in (1, 2, 4):
        assert [e for p in pages(client, url, limit) for e in p] == whole
    assert fields(client.get(url, params={"cursor": "not-an-entry"})) == ["cursor"]
    other = "00000000-0000-0000-0000-000000000000"
    assert fields(client.get(url, params={"cursor": other})) == ["cursor"]
    unknown = f"/v1/agreements/{other}/scope-entries"
    assert client.get(unknown).status_code == 404
    assert client.get(unknown, params={"cursor": other}).status_code == 404
