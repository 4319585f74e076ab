"""Certification bodies and their scheme authorizations, through HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from tests.api.data import (
    body_body,
    certificate_body,
    created,
    fields,
    if_match,
    problem,
    setup_registry,
    two_schemes,
)
from tests.conftest import make_key

BODIES = "/v1/certification-bodies"
BODY = f"{BODIES}/kr-test-body"
KOREA = {"scheme_id": "korea-eco-label", "valid_from": "2020-01-01", "valid_to": None}
JAPAN = {"scheme_id": "japan-eco-mark", "valid_from": "2021-01-01", "valid_to": None}


def ids(page: dict[str, Any]) -> list[str]:
    return [b["id"] for b in page["items"]]


def test_created_body_is_readable_at_its_location_with_an_etag(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    response = client.post(BODIES, json=body_body(authorizations=[KOREA, JAPAN]), headers=operator)
    body = created(response)
    assert response.headers["Location"] == BODY
    assert response.headers["ETag"] == '"1"'
    assert body["economy"] == "KR"
    assert body["accreditation_ref"] == "KAB-0001"
    assert body["authorizations"] == [KOREA, JAPAN]
    got = client.get(BODY)
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == body


def test_unknown_body_is_not_found(client: TestClient) -> None:
    problem(client.get(f"{BODIES}/nobody"), 404)


def test_bodies_are_listed_by_id_and_filtered_by_scheme(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    created(
        client.post(
            BODIES, json=body_body(id="c-both", authorizations=[KOREA, JAPAN]), headers=operator
        )
    )
    created(
        client.post(BODIES, json=body_body(id="a-korea", authorizations=[KOREA]), headers=operator)
    )
    created(
        client.post(BODIES, json=body_body(id="b-japan", authorizations=[JAPAN]), headers=operator)
    )
    created(client.post(BODIES, json=body_body(id="d-none", authorizations=[]), headers=operator))
    assert ids(client.get(BODIES).json()) == ["a-korea", "b-japan", "c-both", "d-none"]
    assert ids(client.get(BODIES, params={"scheme": "korea-eco-label"}).json()) == [
        "a-korea",
        "c-both",
    ]
    assert ids(client.get(BODIES, params={"scheme": "japan-eco-mark"}).json()) == [
        "b-japan",
        "c-both",
    ]


def test_bodies_are_paginated(client: TestClient, operator: dict[str, str]) -> None:
    two_schemes(client, operator)
    for body_id in ("body-1", "body-2", "body-3"):
        created(client.post(BODIES, json=body_body(id=body_id), headers=operator))
    first = client.get(BODIES, params={"limit": 2}).json()
    assert ids(first) == ["body-1", "body-2"]
    rest = client.get(BODIES, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert ids(rest) == ["body-3"]
    assert rest["next_cursor"] is None


def test_body_update_needs_if_match_and_refuses_a_stale_version(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    problem(client.patch(BODY, json={"name": "Lost"}, headers=operator), 428)
    ok = client.patch(
        BODY,
        json={"name": "Korea Testing & Certification", "accreditation_ref": None},
        headers=if_match(operator, 1),
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["accreditation_ref"] is None
    problem(client.patch(BODY, json={"name": "Lost"}, headers=if_match(operator, 1)), 412)
    got = client.get(BODY)
    assert got.headers["ETag"] == '"2"'
    assert got.json()["name"] == "Korea Testing & Certification"


def test_patch_of_authorizations_replaces_the_whole_list(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    ended = {**KOREA, "valid_to": "2024-12-31"}
    response = client.patch(
        BODY, json={"authorizations": [ended, JAPAN]}, headers=if_match(operator, 1)
    )
    assert response.status_code == 200, response.text
    assert client.get(BODY).json()["authorizations"] == [ended, JAPAN]
    assert ids(client.get(BODIES, params={"scheme": "japan-eco-mark"}).json()) == ["kr-test-body"]


def test_overlapping_authorizations_for_the_same_scheme_are_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    overlapping = [
        {"scheme_id": "korea-eco-label", "valid_from": "2020-01-01", "valid_to": "2023-12-31"},
        {"scheme_id": "korea-eco-label", "valid_from": "2023-12-31", "valid_to": None},
    ]
    response = client.post(BODIES, json=body_body(authorizations=overlapping), headers=operator)
    assert fields(response) == ["authorizations.1.valid_from"]
    problem(client.get(BODY), 404)


def test_five_hundred_copies_of_one_authorization_get_one_error_each(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    copies = [{"scheme_id": "korea-eco-label", "valid_from": "2020-01-01", "valid_to": None}] * 500
    response = client.post(BODIES, json=body_body(authorizations=copies), headers=operator)
    assert fields(response) == [f"authorizations.{i}.valid_from" for i in range(1, 500)]
    problem(client.get(BODY), 404)


def test_consecutive_authorizations_for_the_same_scheme_are_accepted(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    consecutive = [
        {"scheme_id": "korea-eco-label", "valid_from": "2020-01-01", "valid_to": "2023-12-31"},
        {"scheme_id": "korea-eco-label", "valid_from": "2024-01-01", "valid_to": None},
        {"scheme_id": "japan-eco-mark", "valid_from": "2020-01-01", "valid_to": None},
    ]
    body = created(
        client.post(BODIES, json=body_body(authorizations=consecutive), headers=operator)
    )
    assert body["authorizations"] == consecutive


def test_overlapping_authorizations_are_rejected_on_update_and_nothing_changes(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    open_ended_again = {
        "scheme_id": "korea-eco-label",
        "valid_from": "2025-01-01",
        "valid_to": None,
    }
    response = client.patch(
        BODY, json={"authorizations": [KOREA, open_ended_again]}, headers=if_match(operator, 1)
    )
    assert fields(response) == ["authorizations.1.valid_from"]
    got = client.get(BODY)
    assert got.json()["authorizations"] == [KOREA]
    assert got.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"authorizations": [{**KOREA, "scheme_id": "nope"}]}, "authorizations.0.scheme_id"),
        (
            {"authorizations": [{**KOREA, "valid_from": "2025-01-01", "valid_to": "2024-01-01"}]},
            "authorizations.0.valid_to",
        ),
        ({"economy": "XX"}, "economy"),
        ({"economy": "kr"}, "economy"),
        ({"id": "KR Body"}, "id"),
    ],
    ids=["unknown-scheme", "inverted-window", "unknown-economy", "lower-case-economy", "bad-id"],
)
def test_body_with_bad_input_is_rejected_naming_the_field(
    client: TestClient, operator: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    two_schemes(client, operator)
    response = client.post(BODIES, json=body_body(**overrides), headers=operator)
    assert fields(response) == [field]
    assert client.get(BODIES).json()["items"] == []


def test_authorization_for_an_unknown_scheme_is_rejected_on_update(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    unknown = {"scheme_id": "nordic-swan", "valid_from": "2020-01-01"}
    response = client.patch(
        BODY, json={"authorizations": [KOREA, unknown]}, headers=if_match(operator, 1)
    )
    problem_fields = fields(response)
    assert problem_fields == ["authorizations.1.scheme_id"]
    assert client.get(BODY).json()["authorizations"] == [KOREA]


def test_duplicate_body_id_is_a_conflict(client: TestClient, operator: dict[str, str]) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    problem(client.post(BODIES, json=body_body(name="Impostor"), headers=operator), 409)
    assert client.get(BODY).json()["name"] == "Test Certification Korea"


def test_write_without_a_key_is_unauthenticated_and_writes_nothing(
    client: TestClient, operator: dict[str, str]
) -> None:
    two_schemes(client, operator)
    response = client.post(BODIES, json=body_body())
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem(client.get(BODY), 404)


# Scheme operators manage authorizations for their own schemes only


def test_scheme_operator_may_change_authorizations_for_its_scheme(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(authorizations=[KOREA, JAPAN]), headers=operator))
    korea_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    ended = {**KOREA, "valid_to": "2024-12-31"}
    response = client.patch(
        BODY, json={"authorizations": [ended, JAPAN]}, headers=if_match(korea_operator, 1)
    )
    assert response.status_code == 200, response.text
    assert client.get(BODY).json()["authorizations"] == [ended, JAPAN]


def test_scheme_operator_may_not_change_a_bodys_name(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    korea_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    problem(client.patch(BODY, json={"name": "Renamed"}, headers=if_match(korea_operator, 1)), 403)
    got = client.get(BODY)
    assert got.json()["name"] == "Test Certification Korea"
    assert got.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("start", "authorizations"),
    [
        ([KOREA], [KOREA, JAPAN]),
        ([KOREA, JAPAN], [KOREA]),
        (
            [KOREA, JAPAN],
            [{**KOREA, "valid_to": "2024-12-31"}, {**JAPAN, "valid_to": "2024-12-31"}],
        ),
    ],
    ids=["add-other-scheme", "remove-other-scheme", "end-own-and-other-together"],
)
def test_scheme_operator_may_not_touch_authorizations_of_another_scheme(
    client: TestClient,
    operator: dict[str, str],
    session: Session,
    start: list[dict[str, Any]],
    authorizations: list[dict[str, Any]],
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(authorizations=start), headers=operator))
    korea_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    response = client.patch(
        BODY, json={"authorizations": authorizations}, headers=if_match(korea_operator, 1)
    )
    problem(response, 403)
    got = client.get(BODY)
    assert got.json()["authorizations"] == start
    assert got.headers["ETag"] == '"1"'


def test_scheme_operator_may_register_a_body_authorized_only_for_its_scheme(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    two_schemes(client, operator)
    korea_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    created(client.post(BODIES, json=body_body(), headers=korea_operator))
    other = body_body(id="jp-body", authorizations=[KOREA, JAPAN])
    problem(client.post(BODIES, json=other, headers=korea_operator), 403)
    problem(client.get(f"{BODIES}/jp-body"), 404)


def test_certification_body_may_not_change_its_own_authorizations(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    two_schemes(client, operator)
    created(client.post(BODIES, json=body_body(), headers=operator))
    own_key = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    response = client.patch(
        BODY, json={"authorizations": [KOREA, JAPAN]}, headers=if_match(own_key, 1)
    )
    problem(response, 403)
    assert client.get(BODY).json()["authorizations"] == [KOREA]
    problem(client.post(BODIES, json=body_body(id="second-body"), headers=own_key), 403)


def test_authorization_granted_by_the_scheme_operator_lets_the_body_register_certificates(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    body_key = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    jp_url = "/v1/schemes/japan-eco-mark/certificates"
    problem(client.post(jp_url, json=certificate_body(number="JP-0001"), headers=body_key), 403)
    japan_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("japan-eco-mark",))
    granted = client.patch(
        BODY, json={"authorizations": [KOREA, JAPAN]}, headers=if_match(japan_operator, 1)
    )
    assert granted.status_code == 200, granted.text
    created(client.post(jp_url, json=certificate_body(number="JP-0001"), headers=body_key))
    # The authorization starts in 2021: a certificate valid from 2020 is still refused.
    early = certificate_body(number="JP-0002", valid_from="2020-06-01")
    problem(client.post(jp_url, json=early, headers=body_key), 403)
    problem(client.get(f"{jp_url}/JP-0002"), 404)
