"""Webhook subscriptions through HTTP: who may make them, where they may point, what they say."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from tests.api.data import created, fields, problem, setup_registry
from tests.conftest import make_key

SUBS = "/v1/subscriptions"
PUBLIC = "https://93.184.216.34/hooks/registry"  # a public address literal: no DNS needed


def subscribe(client: TestClient, key: dict[str, str], **body: Any) -> Any:
    return client.post(SUBS, json={"url": PUBLIC, **body}, headers=key)


def test_any_key_subscribes_and_gets_the_secret_once(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    body_key = make_key(session, Role.CERTIFICATION_BODY, name="body", body="kr-test-body")
    made = created(
        subscribe(client, body_key, filter={"scheme": "korea-eco-label", "economy": "KR"})
    )
    assert made["secret"].startswith("whsec_")
    assert made["enabled"] is True
    assert made["filter"] == {
        "scheme": "korea-eco-label",
        "certificate": None,
        "agreement": None,
        "economy": "KR",
    }
    read = client.get(f"{SUBS}/{made['id']}", headers=body_key)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert [s["id"] for s in client.get(SUBS, headers=body_key).json()["items"]] == [made["id"]]


def test_a_key_sees_and_changes_only_its_own_subscriptions(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    other = make_key(session, Role.OPERATOR, name="other")
    made = created(subscribe(client, operator))
    assert client.get(SUBS, headers=other).json()["items"] == []
    for method, path in (
        ("GET", f"{SUBS}/{made['id']}"),
        ("DELETE", f"{SUBS}/{made['id']}"),
        ("GET", f"{SUBS}/{made['id']}/deliveries"),
        ("POST", f"{SUBS}/{made['id']}/deliveries/1/redeliver"),
    ):
        problem(client.request(method, path, headers=other), 404)
    problem(client.patch(f"{SUBS}/{made['id']}", json={"enabled": False}, headers=other), 404)


def test_subscriptions_need_a_key(client: TestClient) -> None:
    problem(client.post(SUBS, json={"url": PUBLIC}), 401)
    problem(client.get(SUBS), 401)


def test_pause_resume_and_delete(client: TestClient, operator: dict[str, str]) -> None:
    made = created(subscribe(client, operator))
    paused = client.patch(f"{SUBS}/{made['id']}", json={"enabled": False}, headers=operator)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["enabled"], paused.json()["disabled_reason"]) == (
        False,
        "disabled by its key",
    )
    resumed = client.patch(f"{SUBS}/{made['id']}", json={"enabled": True}, headers=operator)
    assert (resumed.json()["enabled"], resumed.json()["disabled_reason"]) == (True, None)
    assert client.delete(f"{SUBS}/{made['id']}", headers=operator).status_code == 204
    problem(client.get(f"{SUBS}/{made['id']}", headers=operator), 404)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
        "https://0.0.0.0/hook",
    ],
)
def test_urls_to_private_or_loopback_addresses_are_refused(
    client: TestClient, operator: dict[str, str], url: str
) -> None:
    response = subscribe(client, operator, url=url)
    assert fields(response) == ["url"]
    assert "public addresses" in response.json()["errors"][0]["message"]


def test_plain_http_and_bad_urls_are_refused(client: TestClient, operator: dict[str, str]) -> None:
    for url in ("http://93.184.216.34/hook", "https://u:p@93.184.216.34/", "not a url"):
        assert fields(subscribe(client, operator, url=url)) == ["url"]


def test_a_filter_naming_nothing_is_refused(client: TestClient, operator: dict[str, str]) -> None:
    response = subscribe(client, operator, filter={"scheme": "no-such-scheme", "economy": "ZZ"})
    assert sorted(fields(response)) == ["filter.economy", "filter.scheme"]
    assert fields(subscribe(client, operator, filter={"colour": "red"})) == ["filter.colour"]


def test_no_deliveries_yet_and_redelivering_an_unknown_one_is_404(
    client: TestClient, operator: dict[str, str]
) -> None:
    made = created(subscribe(client, operator))
    listed = client.get(f"{SUBS}/{made['id']}/deliveries", headers=operator)
    assert listed.json() == {"items": [], "next_cursor": None}
    problem(client.post(f"{SUBS}/{made['id']}/deliveries/99/redeliver", headers=operator), 404)
