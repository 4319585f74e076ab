"""Recognition agreements through HTTP: parties, filters, updates, status and scope history."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from tests.api.data import (
    agreement_body,
    category_body,
    created,
    fields,
    scheme_body,
    setup_registry,
)
from tests.conftest import make_key

KR = "korea-eco-label"
JP = "japan-eco-mark"
EU = "eu-ecolabel"


def add_eu_scheme(client: TestClient, operator: dict[str, str]) -> None:
    """The EU group (Germany and France members since 1995) and a scheme operative in it."""
    group = client.put(
        "/v1/economies/EU",
        json={
            "name": "European Union",
            "members": [
                {"member": "DE", "valid_from": "1995-01-01"},
                {"member": "FR", "valid_from": "1995-01-01"},
            ],
        },
        headers=operator,
    )
    assert group.status_code == 201, group.text
    created(
        client.post(
            "/v1/schemes",
            json=scheme_body(id=EU, name="EU Ecolabel", operator="EC", home_economies=["EU"]),
            headers=operator,
        )
    )
    created(client.post(f"/v1/schemes/{EU}/categories", json=category_body(), headers=operator))


def create_agreement(
    client: TestClient, operator: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    return created(
        client.post("/v1/agreements", json=agreement_body(**overrides), headers=operator)
    )


def listed_ids(client: TestClient, **params: str) -> set[str]:
    response = client.get("/v1/agreements", params=params)
    assert response.status_code == 200, response.text
    return {a["id"] for a in response.json()["items"]}


def status_event(status: str, effective_date: str, reason: str = "decided") -> dict[str, str]:
    return {"status": status, "effective_date": effective_date, "reason": reason}


def with_version(operator: dict[str, str], etag: str) -> dict[str, str]:
    return {**operator, "If-Match": etag}


# Creating


def test_mutual_bilateral_agreement_is_created_in_force_with_location_and_etag(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post("/v1/agreements", json=agreement_body(), headers=operator)
    body = created(response)
    assert response.headers["Location"] == f"/v1/agreements/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["kind"] == "bilateral"
    assert body["direction"] == "mutual"
    assert body["chaining"] == "not_allowed"
    assert [p["scheme_id"] for p in body["parties"]] == [JP, KR]
    assert all(p["status"] == "active" for p in body["parties"])
    assert [(e["status"], e["effective_date"]) for e in body["status_events"]] == [
        ("in_force", "2023-07-01")
    ]
    assert body["status"] == "in_force"
    assert body["scope_entries"][0]["category_code"] == "paints"
    assert body["scope_entries"][0]["level"] == "full"

    got = client.get(response.headers["Location"])
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == body


def test_unilateral_agreement_keeps_who_recognizes_whom(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    body = create_agreement(
        client,
        operator,
        direction="unilateral",
        recognizing_scheme_id=JP,
        recognized_scheme_id=KR,
        scope_entries=[
            {
                "recognized_scheme_id": KR,
                "category_code": "paints",
                "equivalent_category_code": "paints",
                "level": "conditional",
                "conditions": [{"text": "VOC test by a JIS laboratory", "criteria": ["voc-limit"]}],
                "valid_from": "2023-07-01",
            }
        ],
    )
    assert body["kind"] == "bilateral"
    assert body["direction"] == "unilateral"
    assert body["recognizing_scheme_id"] == JP
    assert body["recognized_scheme_id"] == KR
    entry = body["scope_entries"][0]
    assert entry["equivalent_category_code"] == "paints"
    assert entry["conditions"] == [
        {"text": "VOC test by a JIS laboratory", "criteria": ["voc-limit"]}
    ]
    assert client.get(f"/v1/agreements/{body['id']}").json()["recognizing_scheme_id"] == JP


def test_agreement_of_three_parties_is_multilateral(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    body = create_agreement(client, operator, parties=[KR, JP, EU])
    assert body["kind"] == "multilateral"
    assert sorted(p["scheme_id"] for p in body["parties"]) == sorted([KR, JP, EU])
    assert [e["status"] for e in body["status_events"]] == ["in_force"]


# Listing and filters


def test_scheme_filter_lists_only_agreements_the_scheme_is_a_party_to(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    kr_jp = create_agreement(client, operator)["id"]
    jp_eu = create_agreement(client, operator, parties=[JP, EU], scope_entries=[])["id"]
    assert listed_ids(client) == {kr_jp, jp_eu}
    assert listed_ids(client, scheme=KR) == {kr_jp}
    assert listed_ids(client, scheme=EU) == {jp_eu}
    assert listed_ids(client, scheme=JP) == {kr_jp, jp_eu}


def test_scheme_filter_naming_an_unknown_scheme_is_rejected(client: TestClient) -> None:
    response = client.get("/v1/agreements", params={"scheme": "no-such-label"})
    assert fields(response) == ["scheme"]


def test_economy_filter_finds_parties_operative_there_directly_or_through_a_group(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    kr_jp = create_agreement(client, operator)["id"]
    jp_eu = create_agreement(client, operator, parties=[JP, EU], scope_entries=[])["id"]
    assert listed_ids(client, economy="KR") == {kr_jp}
    assert listed_ids(client, economy="JP") == {kr_jp, jp_eu}
    assert listed_ids(client, economy="DE") == {jp_eu}
    assert listed_ids(client, economy="EU") == {jp_eu}
    assert listed_ids(client, economy="US") == set()


def test_economy_filter_follows_group_membership_on_the_in_force_date(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    client.put(
        "/v1/economies/EU",
        json={
            "name": "European Union",
            "members": [
                {"member": "DE", "valid_from": "1995-01-01"},
                {"member": "GB", "valid_from": "1995-01-01", "valid_to": "2020-12-31"},
            ],
        },
        headers=with_version(operator, '"1"'),
    ).raise_for_status()
    jp_eu = create_agreement(
        client, operator, parties=[JP, EU], effective_from="2019-01-01", scope_entries=[]
    )["id"]
    assert listed_ids(client, economy="GB", in_force_on="2020-12-31") == {jp_eu}
    assert listed_ids(client, economy="GB", in_force_on="2021-01-01") == set()
    assert listed_ids(client, economy="DE", in_force_on="2021-01-01") == {jp_eu}


def test_economy_filter_with_an_unknown_code_is_rejected(client: TestClient) -> None:
    response = client.get("/v1/agreements", params={"economy": "XX"})
    assert fields(response) == ["economy"]


def test_in_force_on_excludes_dates_outside_the_effective_window(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator, effective_to="2025-12-31")["id"]
    assert listed_ids(client, in_force_on="2023-06-30") == set()
    assert listed_ids(client, in_force_on="2023-07-01") == {agreement}
    assert listed_ids(client, in_force_on="2025-12-31") == {agreement}
    assert listed_ids(client, in_force_on="2026-01-01") == set()


def test_in_force_on_excludes_a_suspension_and_includes_the_agreement_once_back_in_force(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    events = f"/v1/agreements/{agreement}/status-events"
    created(client.post(events, json=status_event("suspended", "2024-01-01"), headers=operator))
    created(client.post(events, json=status_event("in_force", "2024-06-01"), headers=operator))
    assert listed_ids(client, in_force_on="2023-12-31") == {agreement}
    assert listed_ids(client, in_force_on="2024-01-01") == set()
    assert listed_ids(client, in_force_on="2024-05-31") == set()
    assert listed_ids(client, in_force_on="2024-06-01") == {agreement}


def test_the_later_recorded_of_two_same_day_status_events_wins(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    events = f"/v1/agreements/{agreement}/status-events"
    created(client.post(events, json=status_event("suspended", "2024-01-01"), headers=operator))
    assert listed_ids(client, in_force_on="2024-01-01") == set()
    created(
        client.post(
            events,
            json=status_event("in_force", "2024-01-01", "suspension withdrawn"),
            headers=operator,
        )
    )
    assert listed_ids(client, in_force_on="2024-01-01") == {agreement}
    assert client.get(f"/v1/agreements/{agreement}").json()["status"] == "in_force"


def test_in_force_on_excludes_the_agreement_after_its_termination(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    created(
        client.post(
            f"/v1/agreements/{agreement}/status-events",
            json=status_event("terminated", "2025-01-01"),
            headers=operator,
        )
    )
    assert listed_ids(client, in_force_on="2024-12-31") == {agreement}
    assert listed_ids(client, in_force_on="2025-01-01") == set()
    assert listed_ids(client, in_force_on="2030-01-01") == set()


def test_agreements_are_paginated(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    ids = {create_agreement(client, operator, reference=f"REF-{i}")["id"] for i in range(3)}
    first = client.get("/v1/agreements", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None
    second = client.get(
        "/v1/agreements", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert second["next_cursor"] is None
    assert {a["id"] for a in first["items"] + second["items"]} == ids


def test_a_cursor_the_list_never_gave_out_is_rejected(client: TestClient) -> None:
    response = client.get("/v1/agreements", params={"cursor": "not-a-cursor"})
    assert fields(response) == ["cursor"]


def test_unknown_agreement_is_not_found(client: TestClient) -> None:
    response = client.get("/v1/agreements/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


# Updating


def test_agreement_update_needs_if_match_and_refuses_a_stale_version(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"/v1/agreements/{create_agreement(client, operator)['id']}"
    change = {"title": "Renamed", "effective_to": "2028-06-30", "chaining": "allowed"}
    assert client.patch(url, json=change, headers=operator).status_code == 428

    ok = client.patch(url, json=change, headers=with_version(operator, '"1"'))
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert (ok.json()["title"], ok.json()["effective_to"], ok.json()["chaining"]) == (
        "Renamed",
        "2028-06-30",
        "allowed",
    )

    stale = client.patch(url, json={"title": "Lost update"}, headers=with_version(operator, '"1"'))
    assert stale.status_code == 412
    got = client.get(url)
    assert got.headers["ETag"] == '"2"'
    assert got.json()["title"] == "Renamed"
    assert got.json()["chaining"] == "allowed"


def test_agreement_end_date_can_be_cleared_but_the_title_cannot(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"/v1/agreements/{create_agreement(client, operator, effective_to='2026-12-31')['id']}"
    assert fields(
        client.patch(url, json={"title": None}, headers=with_version(operator, '"1"'))
    ) == ["title"]
    ok = client.patch(url, json={"effective_to": None}, headers=with_version(operator, '"1"'))
    assert ok.status_code == 200, ok.text
    assert ok.json()["effective_to"] is None


def test_agreement_end_date_before_its_start_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"/v1/agreements/{create_agreement(client, operator)['id']}"
    response = client.patch(
        url, json={"effective_to": "2023-06-30"}, headers=with_version(operator, '"1"')
    )
    assert fields(response) == ["effective_to"]
    got = client.get(url)
    assert got.headers["ETag"] == '"1"'
    assert got.json()["effective_to"] is None


# Agreement status


def test_suspended_agreement_comes_back_in_force_and_keeps_its_history(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    events = f"/v1/agreements/{agreement}/status-events"
    suspended = client.post(
        events, json=status_event("suspended", "2024-01-01", "audit dispute"), headers=operator
    )
    body = created(suspended)
    assert (body["status"], body["effective_date"], body["reason"]) == (
        "suspended",
        "2024-01-01",
        "audit dispute",
    )
    created(client.post(events, json=status_event("in_force", "2024-06-01"), headers=operator))

    history = client.get(events).json()["items"]
    assert [(e["status"], e["effective_date"]) for e in history] == [
        ("in_force", "2023-07-01"),
        ("suspended", "2024-01-01"),
        ("in_force", "2024-06-01"),
    ]
    got = client.get(f"/v1/agreements/{agreement}")
    assert got.json()["status"] == "in_force"
    assert got.headers["ETag"] == '"3"'


def test_termination_is_final(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    events = f"/v1/agreements/{agreement}/status-events"
    created(client.post(events, json=status_event("terminated", "2024-01-01"), headers=operator))
    again = client.post(events, json=status_event("in_force", "2024-02-01"), headers=operator)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert [e["status"] for e in client.get(events).json()["items"]] == ["in_force", "terminated"]
    assert client.get(f"/v1/agreements/{agreement}").json()["status"] == "terminated"


def test_agreement_status_event_with_a_party_status_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    events = f"/v1/agreements/{agreement}/status-events"
    response = client.post(events, json=status_event("withdrawn", "2024-01-01"), headers=operator)
    assert fields(response) == ["status"]
    assert len(client.get(events).json()["items"]) == 1


# Party status


def test_one_party_is_suspended_while_the_agreement_stays_in_force(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    agreement = create_agreement(client, operator, parties=[KR, JP, EU])["id"]
    party_events = f"/v1/agreements/{agreement}/parties/{JP}/status-events"
    event = created(
        client.post(party_events, json=status_event("suspended", "2024-01-01"), headers=operator)
    )
    assert event["status"] == "suspended"
    assert [e["status"] for e in client.get(party_events).json()["items"]] == ["suspended"]
    assert client.get(f"/v1/agreements/{agreement}/parties/{KR}/status-events").json() == {
        "items": [],
        "next_cursor": None,
    }

    got = client.get(f"/v1/agreements/{agreement}").json()
    assert got["status"] == "in_force"
    assert {p["scheme_id"]: p["status"] for p in got["parties"]} == {
        KR: "active",
        JP: "suspended",
        EU: "active",
    }


def test_withdrawal_of_a_party_is_final(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    agreement = create_agreement(client, operator, parties=[KR, JP, EU])["id"]
    party_events = f"/v1/agreements/{agreement}/parties/{EU}/status-events"
    created(
        client.post(party_events, json=status_event("withdrawn", "2024-01-01"), headers=operator)
    )
    again = client.post(party_events, json=status_event("active", "2024-03-01"), headers=operator)
    assert again.status_code == 409
    assert [e["status"] for e in client.get(party_events).json()["items"]] == ["withdrawn"]


def test_status_of_a_scheme_that_is_not_a_party_is_not_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    agreement = create_agreement(client, operator)["id"]
    url = f"/v1/agreements/{agreement}/parties/{EU}/status-events"
    posted = client.post(url, json=status_event("suspended", "2024-01-01"), headers=operator)
    assert posted.status_code == 404
    assert posted.headers["content-type"] == "application/problem+json"
    assert client.get(url).status_code == 404
    got = client.get(f"/v1/agreements/{agreement}")
    assert got.headers["ETag"] == '"1"'
    assert [p["scheme_id"] for p in got.json()["parties"]] == [JP, KR]


# Scope entries


def test_amendment_adds_a_scope_entry_and_ending_one_keeps_it_in_the_history(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)
    original = agreement["scope_entries"][0]["id"]
    entries = f"/v1/agreements/{agreement['id']}/scope-entries"

    response = client.post(
        entries,
        json={
            "recognized_scheme_id": JP,
            "recognizing_scheme_id": KR,
            "category_code": "paints",
            "hs_prefixes": ["3208"],
            "level": "assessment_results",
            "valid_from": "2024-01-01",
        },
        headers=operator,
    )
    amendment = created(response)
    assert response.headers["Location"] == f"{entries}/{amendment['id']}"
    assert amendment["hs_prefixes"] == ["3208"]
    assert amendment["valid_to"] is None

    original_url = f"{entries}/{original}"
    etag = client.get(original_url).headers["ETag"]
    end = {"valid_to": "2023-12-31"}
    assert client.patch(original_url, json=end, headers=operator).status_code == 428
    ended = client.patch(original_url, json=end, headers=with_version(operator, etag))
    assert ended.status_code == 200, ended.text
    assert ended.json()["valid_to"] == "2023-12-31"
    assert ended.headers["ETag"] != etag

    again = client.patch(
        original_url,
        json={"valid_to": "2024-12-31"},
        headers=with_version(operator, ended.headers["ETag"]),
    )
    assert again.status_code == 409
    assert client.get(original_url).json()["valid_to"] == "2023-12-31"

    history = {e["id"]: e for e in client.get(entries).json()["items"]}
    assert set(history) == {original, amendment["id"]}
    assert history[original]["valid_to"] == "2023-12-31"
    assert history[amendment["id"]]["valid_to"] is None


def test_ending_a_scope_entry_with_a_version_it_does_not_have_is_refused(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)
    url = f"/v1/agreements/{agreement['id']}/scope-entries/{agreement['scope_entries'][0]['id']}"
    assert client.get(url).headers["ETag"] == '"1"'
    stale = client.patch(
        url, json={"valid_to": "2024-12-31"}, headers=with_version(operator, '"7"')
    )
    assert stale.status_code == 412
    assert client.get(url).json()["valid_to"] is None


def test_ending_a_scope_entry_before_it_starts_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)
    url = f"/v1/agreements/{agreement['id']}/scope-entries/{agreement['scope_entries'][0]['id']}"
    etag = client.get(url).headers["ETag"]
    response = client.patch(
        url, json={"valid_to": "2023-06-30"}, headers=with_version(operator, etag)
    )
    assert fields(response) == ["valid_to"]
    assert client.get(url).json()["valid_to"] is None


def test_amendment_naming_a_category_the_scheme_lacks_is_rejected_and_not_recorded(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    entries = f"/v1/agreements/{agreement}/scope-entries"
    response = client.post(
        entries,
        json={
            "recognized_scheme_id": KR,
            "category_code": "office-paper",
            "level": "full",
            "valid_from": "2024-01-01",
        },
        headers=operator,
    )
    assert fields(response) == ["category_code"]
    assert "office-paper" in response.json()["errors"][0]["message"]
    assert len(client.get(entries).json()["items"]) == 1
    assert client.get(f"/v1/agreements/{agreement}").headers["ETag"] == '"1"'


def test_unknown_scope_entry_is_not_found(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)["id"]
    url = f"/v1/agreements/{agreement}/scope-entries/00000000-0000-0000-0000-000000000000"
    assert client.get(url).status_code == 404
    response = client.patch(
        url, json={"valid_to": "2024-12-31"}, headers=with_version(operator, '"1"')
    )
    assert response.status_code == 404


# Bad input


def entry(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recognized_scheme_id": KR,
        "category_code": "paints",
        "level": "full",
        "valid_from": "2023-07-01",
    }
    body.update(overrides)
    return body


BAD_AGREEMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("one party", {"parties": [KR]}, "parties"),
    ("party listed twice", {"parties": [KR, KR]}, "parties"),
    ("unknown party", {"parties": [KR, "no-such-label"]}, "parties.1"),
    (
        "unilateral without recognizing scheme",
        {"direction": "unilateral", "recognized_scheme_id": KR},
        "recognizing_scheme_id",
    ),
    (
        "unilateral without recognized scheme",
        {"direction": "unilateral", "recognizing_scheme_id": JP, "scope_entries": []},
        "recognized_scheme_id",
    ),
    (
        "unilateral naming a non-party",
        {"direction": "unilateral", "recognizing_scheme_id": EU, "recognized_scheme_id": KR},
        "recognizing_scheme_id",
    ),
    ("mutual naming a recognizing scheme", {"recognizing_scheme_id": JP}, "recognizing_scheme_id"),
    (
        "inverted effective window",
        {"effective_from": "2024-01-01", "effective_to": "2023-12-31", "scope_entries": []},
        "effective_to",
    ),
    (
        "category the recognized scheme lacks",
        {"scope_entries": [entry(category_code="office-paper")]},
        "scope_entries.0.category_code",
    ),
    (
        "entry for a non-party scheme",
        {"scope_entries": [entry(recognized_scheme_id=EU)]},
        "scope_entries.0.recognized_scheme_id",
    ),
    (
        "conditional entry without conditions",
        {"scope_entries": [entry(level="conditional")]},
        "scope_entries.0.conditions",
    ),
    (
        "full entry with conditions",
        {"scope_entries": [entry(conditions=[{"text": "re-label", "criteria": []}])]},
        "scope_entries.0.conditions",
    ),
    (
        "malformed HS prefix",
        {"scope_entries": [entry(hs_prefixes=["32A8"])]},
        "scope_entries.0.hs_prefixes.0",
    ),
    (
        "entry starting before the agreement",
        {"scope_entries": [entry(valid_from="2023-06-30")]},
        "scope_entries.0.valid_from",
    ),
    (
        "equivalent category without recognizing scheme",
        {"scope_entries": [entry(equivalent_category_code="paints")]},
        "scope_entries.0.equivalent_category_code",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [pytest.param(o, f, id=name) for name, o, f in BAD_AGREEMENTS],
)
def test_invalid_agreement_is_rejected_naming_the_field_and_nothing_is_written(
    client: TestClient, operator: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    setup_registry(client, operator)
    add_eu_scheme(client, operator)
    response = client.post("/v1/agreements", json=agreement_body(**overrides), headers=operator)
    assert fields(response) == [field]
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"][0]["message"]
    assert client.get("/v1/agreements").json()["items"] == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param("status-events", status_event("suspended", "2023-06-30"), "effective_date"),
        pytest.param("status-events", status_event("terminated", "2023-01-01"), "effective_date"),
        pytest.param(
            f"parties/{JP}/status-events", status_event("suspended", "2023-06-30"), "effective_date"
        ),
        pytest.param("scope-entries", entry(valid_from="2023-06-30"), "valid_from"),
    ],
    ids=["agreement-suspension", "agreement-termination", "party-suspension", "scope-entry"],
)
def test_what_starts_before_the_agreement_is_refused_naming_the_field(
    client: TestClient, operator: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)  # effective from 2023-07-01
    url = f"/v1/agreements/{agreement['id']}/{path}"
    response = client.post(url, json=body, headers=operator)
    assert fields(response) == [field]
    assert "effective_from 2023-07-01" in response.json()["errors"][0]["message"]
    got = client.get(f"/v1/agreements/{agreement['id']}")
    assert got.headers["ETag"] == '"1"'
    assert got.json() == agreement
    created(client.post(url, json={**body, field: "2023-07-01"}, headers=operator))


# Who may write


def write_requests(agreement: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/v1/agreements/{agreement['id']}"
    return [
        ("POST", "/v1/agreements", agreement_body()),
        ("PATCH", base, {"title": "Hijacked"}),
        ("POST", f"{base}/status-events", status_event("terminated", "2024-01-01")),
        ("POST", f"{base}/parties/{KR}/status-events", status_event("suspended", "2024-01-01")),
        ("POST", f"{base}/scope-entries", entry(valid_from="2024-01-01")),
        (
            "PATCH",
            f"{base}/scope-entries/{agreement['scope_entries'][0]['id']}",
            {"valid_to": "2024-12-31"},
        ),
    ]


def test_writes_without_a_key_are_unauthenticated(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)
    for method, url, body in write_requests(agreement):
        response = client.request(method, url, json=body, headers={"If-Match": '"1"'})
        assert response.status_code == 401, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    got = client.get(f"/v1/agreements/{agreement['id']}")
    assert got.headers["ETag"] == '"1"'
    assert got.json() == agreement
    assert len(client.get("/v1/agreements").json()["items"]) == 1


def test_scheme_operator_may_not_write_agreements_even_for_its_own_scheme(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    agreement = create_agreement(client, operator)
    scheme_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=(KR,))
    for method, url, body in write_requests(agreement):
        response = client.request(
            method, url, json=body, headers=with_version(scheme_operator, '"1"')
        )
        assert response.status_code == 403, (method, url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    got = client.get(f"/v1/agreements/{agreement['id']}")
    assert got.headers["ETag"] == '"1"'
    assert got.json() == agreement
    assert len(client.get("/v1/agreements").json()["items"]) == 1
