"""The audit trail: who changed what, when, before and after, with its change or not at all."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.services.keys import ApiKeyService, hash_key
from tests.api.data import created, scheme_body, setup_registry
from tests.conftest import make_key


def events(client: TestClient, operator: dict[str, str], **params: str) -> list[dict[str, object]]:
    response = client.get("/v1/audit-events", params=params, headers=operator)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_a_write_records_who_what_and_the_entity_before_and_after(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    client.patch(
        "/v1/schemes/korea-eco-label",
        json={"name": "Renamed"},
        headers={**operator, "If-Match": '"1"'},
    )
    create, update = events(client, operator, entity_type="scheme", entity_id="korea-eco-label")
    assert create["operation"] == "scheme.create"
    assert create["actor_name"] == "test operator"
    assert create["before"] is None
    assert update["operation"] == "scheme.update"
    assert isinstance(update["before"], dict)
    assert update["before"]["name"] == "Korea Eco-label"
    assert isinstance(update["after"], dict)
    assert update["after"]["name"] == "Renamed"
    assert update["actor_key_id"] == create["actor_key_id"]
    assert update["occurred_at"]


def test_a_refused_write_leaves_no_audit_event(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    stale = client.patch(
        "/v1/schemes/korea-eco-label",
        json={"name": "Lost"},
        headers={**operator, "If-Match": '"7"'},
    )
    assert stale.status_code == 412
    invalid = client.post(
        "/v1/schemes", json=scheme_body(id="other", home_economies=["XX"]), headers=operator
    )
    assert invalid.status_code == 422
    assert [e["operation"] for e in events(client, operator, entity_type="scheme")] == [
        "scheme.create"
    ]


def test_certificate_status_events_are_audited_with_the_issuing_body_key(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    body_key = make_key(session, Role.CERTIFICATION_BODY, name="KR body", body="kr-test-body")
    created(
        client.post(
            "/v1/schemes/korea-eco-label/certificates/KR-0001/status-events",
            json={"status": "suspended", "effective_date": "2025-01-01", "reason": "audit"},
            headers=body_key,
        )
    )
    last = events(client, operator, entity_type="certificate")[-1]
    assert last["operation"] == "certificate.status_event"
    assert last["actor_name"] == "KR body"
    assert last["entity_id"] == "korea-eco-label/KR-0001"


def test_audit_trail_is_paginated_and_only_for_operators(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    for i in range(3):
        created(client.post("/v1/schemes", json=scheme_body(id=f"s-{i}"), headers=operator))
    params: dict[str, str | int] = {"limit": 2, "entity_type": "scheme"}
    first = client.get("/v1/audit-events", params=params, headers=operator).json()
    second = client.get(
        "/v1/audit-events", params={**params, "cursor": first["next_cursor"]}, headers=operator
    ).json()
    ids = [e["entity_id"] for e in first["items"] + second["items"]]
    assert ids == ["s-0", "s-1", "s-2"]
    scheme_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("s-0",))
    assert client.get("/v1/audit-events", headers=scheme_operator).status_code == 403
    assert client.get("/v1/audit-events").status_code == 401


def test_audit_events_filter_by_time(client: TestClient, operator: dict[str, str]) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    assert events(client, operator, since="2000-01-01T00:00:00Z")
    assert events(client, operator, until="2000-01-01T00:00:00Z") == []
    assert events(client, operator, since="2999-01-01T00:00:00Z") == []


def test_api_keys_never_appear_in_the_audit_trail(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    secret = operator["Authorization"].removeprefix("Bearer ")
    response = client.get("/v1/audit-events", headers=operator)
    assert secret not in response.text


@pytest.mark.parametrize("hours", [2, -5])
def test_since_and_until_compare_instants_whatever_their_offset(
    client: TestClient, operator: dict[str, str], hours: int
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    [event] = events(client, operator, entity_type="scheme")
    at = dt.datetime.fromisoformat(str(event["occurred_at"]))
    assert at.utcoffset() == dt.timedelta(0)
    zone = dt.timezone(dt.timedelta(hours=hours))
    second = dt.timedelta(seconds=1)

    def listed(**bounds: dt.datetime) -> bool:
        params = {name: moment.isoformat() for name, moment in bounds.items()}
        return event in events(client, operator, entity_type="scheme", **params)

    assert listed(since=(at - second).astimezone(zone))
    assert listed(since=at.astimezone(zone)), "since is 'at or after'"
    assert not listed(since=(at + second).astimezone(zone))
    assert listed(until=(at + second).astimezone(zone))
    assert not listed(until=at.astimezone(zone)), "until is 'before'"
    assert not listed(until=(at - second).astimezone(zone))
    assert listed(since=at - second, until=at + second)
    # A time without an offset is UTC.
    assert listed(since=(at - second).replace(tzinfo=None))
    assert not listed(until=at.replace(tzinfo=None))


def test_creating_and_revoking_a_key_is_audited_without_the_secret(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    keys = ApiKeyService(SqlApiKeyRepository(session))
    key, secret = keys.create("Customs portal", Role.OPERATOR)
    keys.revoke(key.id)
    keys.revoke(key.id)  # already revoked: nothing changes, nothing is recorded
    session.commit()
    response = client.get("/v1/audit-events", params={"entity_type": "api_key"}, headers=operator)
    assert secret not in response.text
    assert hash_key(secret) not in response.text
    create, revoke = [e for e in response.json()["items"] if e["entity_id"] == key.id]
    assert create["operation"] == "api_key.create"
    assert create["actor_name"] == "command line"
    assert create["before"] is None
    assert create["after"]["name"] == "Customs portal"
    assert create["after"]["role"] == "operator"
    assert create["after"]["revoked_at"] is None
    assert revoke["operation"] == "api_key.revoke"
    assert revoke["before"]["revoked_at"] is None
    assert revoke["after"]["revoked_at"]
    # The fixture's own operator key was recorded when it was made, too.
    assert len(response.json()["items"]) == 3
