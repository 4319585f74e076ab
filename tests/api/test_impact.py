"""Impact: how many certificates' answers a suspension or an end would change, and where."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.data import agreement_body, certificate_body, created, problem, setup_registry

KR_CERT = "/v1/schemes/korea-eco-label/certificates"
ON = "2025-01-01"


def arrange(client: TestClient, operator: dict[str, str]) -> dict[str, Any]:
    """KR-0001..3 active (recognized in JP by a mutual agreement), KR-0004 suspended and
    KR-0005 expired by ON; the agreement."""
    setup_registry(client, operator)
    for n in (2, 3, 4):
        created(client.post(KR_CERT, json=certificate_body(number=f"KR-000{n}"), headers=operator))
    created(
        client.post(
            KR_CERT,
            json=certificate_body(number="KR-0005", valid_to="2024-06-30"),
            headers=operator,
        )
    )
    response = client.post(
        f"{KR_CERT}/KR-0004/status-events",
        json={"status": "suspended", "effective_date": "2024-03-01", "reason": "audit"},
        headers=operator,
    )
    assert response.status_code == 201, response.text
    return created(client.post("/v1/agreements", json=agreement_body(), headers=operator))


def impact(client: TestClient, path: str, on: str = ON) -> dict[str, Any]:
    response = client.get(path, params={"on": on})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def recognized_in_japan(client: TestClient, number: str) -> bool:
    response = client.get(
        "/v1/equivalence",
        params={"scheme": "korea-eco-label", "certificate": number, "target": "JP", "on": ON},
    )
    assert response.status_code == 200, response.text
    value: bool = response.json()["recognized"]
    return value


def test_suspending_the_agreement_would_cost_the_active_certificates_recognition_in_japan(
    client: TestClient, operator: dict[str, str]
) -> None:
    agreement = arrange(client, operator)
    numbers = [f"KR-000{n}" for n in range(1, 6)]
    before = {n: recognized_in_japan(client, n) for n in numbers}
    found = impact(client, f"/v1/agreements/{agreement['id']}/impact")
    assert found == {
        "on": ON,
        "certificates": 3,
        "economies": [{"economy": "JP", "certificates": 3, "no_longer_recognized": 3}],
        "groups": 1,
        "complete": True,
    }
    # Recording the suspension changes exactly what the impact said.
    response = client.post(
        f"/v1/agreements/{agreement['id']}/status-events",
        json={"status": "suspended", "effective_date": ON, "reason": "review"},
        headers=operator,
    )
    assert response.status_code == 201, response.text
    after = {n: recognized_in_japan(client, n) for n in numbers}
    lost = [n for n in numbers if before[n] and not after[n]]
    assert len(lost) == found["economies"][0]["no_longer_recognized"]
    assert impact(client, f"/v1/agreements/{agreement['id']}/impact")["certificates"] == 0


def test_a_party_and_a_scope_entry_have_their_own_impact(
    client: TestClient, operator: dict[str, str]
) -> None:
    agreement = arrange(client, operator)
    aid, entry = agreement["id"], agreement["scope_entries"][0]["id"]
    party = impact(client, f"/v1/agreements/{aid}/parties/japan-eco-mark/impact")
    assert (party["certificates"], party["economies"][0]["economy"]) == (3, "JP")
    ended = impact(client, f"/v1/agreements/{aid}/scope-entries/{entry}/impact")
    assert ended["certificates"] == 3
    # Before the agreement took effect, nothing it does can change.
    assert impact(client, f"/v1/agreements/{aid}/impact", on="2023-01-01")["certificates"] == 0


def test_unknown_agreements_parties_and_entries_are_404(
    client: TestClient, operator: dict[str, str]
) -> None:
    agreement = arrange(client, operator)
    aid = agreement["id"]
    problem(client.get("/v1/agreements/no-such/impact"), 404)
    problem(client.get(f"/v1/agreements/{aid}/parties/no-such/impact"), 404)
    problem(client.get(f"/v1/agreements/{aid}/scope-entries/no-such/impact"), 404)
    assert client.get(f"/v1/agreements/{aid}/impact", params={"on": "soon"}).status_code == 422
