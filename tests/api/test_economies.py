"""Economies: ISO 3166-1 countries out of the box, and registered groups, through HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from tests.api.data import body_body, created, fields, if_match, problem, scheme_body
from tests.conftest import make_key

ECONOMIES = "/v1/economies"
GROUP = f"{ECONOMIES}/EUX"


def member(
    code: str, valid_from: str = "2000-01-01", valid_to: str | None = None
) -> dict[str, Any]:
    return {"member": code, "valid_from": valid_from, "valid_to": valid_to}


def group(*members: dict[str, Any], name: str = "Test Union") -> dict[str, Any]:
    return {"name": name, "members": list(members)}


def all_pages(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(ECONOMIES, params=query).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_iso_countries_exist_out_of_the_box(client: TestClient) -> None:
    for code in ("DE", "KR", "CN", "JP", "GB"):
        response = client.get(f"{ECONOMIES}/{code}")
        assert response.status_code == 200, code
        economy = response.json()
        assert (economy["code"], economy["kind"], economy["members"]) == (code, "country", [])
    assert client.get(f"{ECONOMIES}/DE").json()["name"] == "Germany"


def test_every_iso_country_is_listed_through_pagination(client: TestClient) -> None:
    countries = all_pages(client, kind="country", limit=100)
    codes = [c["code"] for c in countries]
    assert len(codes) >= 249
    assert codes == sorted(set(codes))
    assert {"DE", "KR", "US", "AQ", "ZW"} <= set(codes)
    assert {c["kind"] for c in countries} == {"country"}


def test_list_by_kind_separates_groups_from_countries(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    groups = client.get(ECONOMIES, params={"kind": "group"}).json()
    assert [g["code"] for g in groups["items"]] == ["EUX"]
    assert "EUX" not in {c["code"] for c in all_pages(client, kind="country", limit=1000)}
    assert "EUX" in {e["code"] for e in all_pages(client, limit=1000)}


def test_unknown_economy_is_not_found(client: TestClient) -> None:
    problem(client.get(f"{ECONOMIES}/QQ"), 404)
    problem(client.get(GROUP), 404)


def test_lower_case_economy_code_in_the_path_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    assert fields(client.get(f"{ECONOMIES}/de")) == ["code"]
    assert fields(client.put(f"{ECONOMIES}/eux", json=group(member("DE")), headers=operator)) == [
        "code"
    ]
    problem(client.get(GROUP), 404)


def test_put_creates_a_group_at_its_location(client: TestClient, operator: dict[str, str]) -> None:
    response = client.put(
        GROUP, json=group(member("DE"), member("GB", "2000-01-01", "2020-01-31")), headers=operator
    )
    body = created(response)
    assert response.headers["Location"] == GROUP
    assert response.headers["ETag"] == '"1"'
    assert body["kind"] == "group"
    got = client.get(GROUP)
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == body
    assert body["members"] == [
        member("DE"),
        member("GB", "2000-01-01", "2020-01-31"),
    ]


def test_put_again_needs_if_match_and_replaces_name_and_memberships(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.put(GROUP, json=group(member("DE"), member("FR")), headers=operator))
    replacement = group(member("DE"), member("AT", "2010-01-01"), name="Renamed Union")
    problem(client.put(GROUP, json=replacement, headers=operator), 428)
    assert [m["member"] for m in client.get(GROUP).json()["members"]] == ["DE", "FR"]
    response = client.put(GROUP, json=replacement, headers=if_match(operator, 1))
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert "Location" not in response.headers
    got = client.get(GROUP).json()
    assert got["name"] == "Renamed Union"
    assert got["members"] == [member("AT", "2010-01-01"), member("DE")]
    assert got["version"] == 2


def test_put_with_a_stale_version_is_refused(client: TestClient, operator: dict[str, str]) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    assert (
        client.put(GROUP, json=group(member("FR")), headers=if_match(operator, 1)).status_code
        == 200
    )
    problem(client.put(GROUP, json=group(member("IT")), headers=if_match(operator, 1)), 412)
    got = client.get(GROUP)
    assert got.headers["ETag"] == '"2"'
    assert [m["member"] for m in got.json()["members"]] == ["FR"]


def test_group_may_have_no_members(client: TestClient, operator: dict[str, str]) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    response = client.put(GROUP, json=group(), headers=if_match(operator, 1))
    assert response.status_code == 200, response.text
    assert client.get(GROUP).json()["members"] == []


@pytest.mark.parametrize(
    ("members", "field"),
    [
        ([member("QQ")], "members.0.member"),
        ([member("de")], "members.0.member"),
    ],
    ids=["unknown-member", "lower-case-member"],
)
def test_member_that_is_not_a_known_economy_is_rejected(
    client: TestClient, operator: dict[str, str], members: list[dict[str, Any]], field: str
) -> None:
    created(client.put(f"{ECONOMIES}/OTHER", json=group(member("FR")), headers=operator))
    response = client.put(GROUP, json=group(*members), headers=operator)
    assert fields(response) == [field]
    problem(client.get(GROUP), 404)


def test_group_cannot_be_its_own_member(client: TestClient, operator: dict[str, str]) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    response = client.put(
        GROUP, json=group(member("DE"), member("EUX")), headers=if_match(operator, 1)
    )
    assert fields(response) == ["members.1.member"]
    assert client.get(GROUP).json()["members"] == [member("DE")]


def test_overlapping_memberships_of_the_same_country_are_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    overlapping = group(
        member("GB", "1973-01-01", "2020-01-31"), member("DE"), member("GB", "2020-01-31")
    )
    assert fields(client.put(GROUP, json=overlapping, headers=operator)) == ["members.2.valid_from"]
    problem(client.get(GROUP), 404)


def test_a_thousand_copies_of_one_membership_get_one_error_each(
    client: TestClient, operator: dict[str, str]
) -> None:
    # Each copy overlaps every one before it; naming each overlapping pair made this body
    # cost half a million errors and stalled the server for seconds.
    copies = group(*[member("GB")] * 1000)
    response = client.put(GROUP, json=copies, headers=operator)
    assert fields(response) == [f"members.{i}.valid_from" for i in range(1, 1000)]
    problem(client.get(GROUP), 404)


def test_country_may_leave_and_rejoin_in_separate_windows(
    client: TestClient, operator: dict[str, str]
) -> None:
    rejoined = group(member("GB", "1973-01-01", "2020-01-31"), member("GB", "2030-01-01"))
    body = created(client.put(GROUP, json=rejoined, headers=operator))
    assert body["members"] == rejoined["members"]


def test_inverted_membership_window_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    inverted = group(member("DE"), member("FR", "2020-01-01", "2019-12-31"))
    assert fields(client.put(GROUP, json=inverted, headers=if_match(operator, 1))) == [
        "members.1.valid_to"
    ]
    got = client.get(GROUP)
    assert got.json()["members"] == [member("DE")]
    assert got.headers["ETag"] == '"1"'


def test_a_country_cannot_be_put(client: TestClient, operator: dict[str, str]) -> None:
    problem(client.put(f"{ECONOMIES}/DE", json=group(member("FR")), headers=operator), 409)
    problem(
        client.put(f"{ECONOMIES}/DE", json=group(member("FR")), headers=if_match(operator, 1)), 409
    )
    got = client.get(f"{ECONOMIES}/DE").json()
    assert (got["kind"], got["name"], got["members"]) == ("country", "Germany", [])


def test_group_is_usable_as_a_home_economy_once_registered(
    client: TestClient, operator: dict[str, str]
) -> None:
    home = scheme_body(id="union-label", home_economies=["EUX"])
    assert client.post("/v1/schemes", json=home, headers=operator).status_code == 422
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    assert created(client.post("/v1/schemes", json=home, headers=operator))["home_economies"] == [
        "EUX"
    ]


def test_write_without_a_key_is_unauthenticated_and_writes_nothing(client: TestClient) -> None:
    response = client.put(GROUP, json=group(member("DE")))
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem(client.get(GROUP), 404)


def test_only_the_registry_operator_records_groups(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    created(client.post("/v1/certification-bodies", json=body_body(), headers=operator))
    keys = [
        make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",)),
        make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body"),
    ]
    for key in keys:
        problem(client.put(GROUP, json=group(member("DE")), headers=key), 403)
    problem(client.get(GROUP), 404)
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    for key in keys:
        problem(client.put(GROUP, json=group(member("FR")), headers=if_match(key, 1)), 403)
    assert client.get(GROUP).json()["members"] == [member("DE")]


# Groups in groups, and one membership at a time


def test_a_group_may_be_a_member_of_another_group(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(
        client.put(f"{ECONOMIES}/BNL", json=group(member("BE"), member("NL")), headers=operator)
    )
    body = created(
        client.put(GROUP, json=group(member("DE"), member("BNL", "2001-01-01")), headers=operator)
    )
    assert body["members"] == [member("BNL", "2001-01-01"), member("DE")]


def test_a_membership_that_would_make_a_group_contain_itself_is_refused(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.put(f"{ECONOMIES}/INNER", json=group(member("FR")), headers=operator))
    created(client.put(GROUP, json=group(member("INNER")), headers=operator))
    created(client.put(f"{ECONOMIES}/OUTER", json=group(member("EUX")), headers=operator))
    # INNER inside EUX inside OUTER: OUTER may not become a member of INNER, whatever the dates.
    response = client.put(
        f"{ECONOMIES}/INNER",
        json=group(member("FR"), member("OUTER", "2090-01-01")),
        headers=if_match(operator, 1),
    )
    data = problem(response, 422)
    assert [e["field"] for e in data["errors"]] == ["members.1.member"]
    assert "OUTER contains INNER, so it cannot be a member of INNER" in data["detail"]
    cycle = client.post(
        f"{GROUP}/members/OUTER", json={"valid_from": "2000-01-01"}, headers=operator
    )
    assert fields(cycle) == ["member"]
    assert client.get(f"{ECONOMIES}/INNER").json()["members"] == [member("FR")]


def test_a_membership_is_added_on_its_own(client: TestClient, operator: dict[str, str]) -> None:
    created(
        client.put(GROUP, json=group(member("GB", "1973-01-01", "2020-01-31")), headers=operator)
    )
    response = client.post(
        f"{GROUP}/members/GB", json={"valid_from": "2030-01-01"}, headers=operator
    )
    body = created(response)
    assert response.headers["Location"] == f"{GROUP}/members/GB"
    assert response.headers["ETag"] == '"2"'
    assert body["members"] == [member("GB", "1973-01-01", "2020-01-31"), member("GB", "2030-01-01")]
    windows = client.get(f"{GROUP}/members/GB")
    assert windows.status_code == 200
    assert windows.headers["ETag"] == '"2"'
    assert windows.json()["items"] == body["members"]
    problem(client.get(f"{GROUP}/members/FR"), 404)


@pytest.mark.parametrize(
    ("path_member", "window", "field"),
    [
        ("GB", {"valid_from": "2019-01-01"}, "valid_from"),
        ("GB", {"valid_from": "2030-01-01", "valid_to": "2029-12-31"}, "valid_to"),
        ("QQ", {"valid_from": "2030-01-01"}, "member"),
        ("EUX", {"valid_from": "2030-01-01"}, "member"),
    ],
    ids=["overlapping", "inverted", "unknown-member", "itself"],
)
def test_an_added_membership_is_checked_like_the_others(
    client: TestClient,
    operator: dict[str, str],
    path_member: str,
    window: dict[str, str],
    field: str,
) -> None:
    created(
        client.put(GROUP, json=group(member("GB", "1973-01-01", "2020-01-31")), headers=operator)
    )
    response = client.post(f"{GROUP}/members/{path_member}", json=window, headers=operator)
    assert fields(response) == [field]
    assert client.get(GROUP).headers["ETag"] == '"1"'


def test_a_membership_is_ended_on_its_own_with_the_groups_etag(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(
        client.put(GROUP, json=group(member("DE"), member("GB", "1973-01-01")), headers=operator)
    )
    end = {"valid_to": "2020-01-31"}
    problem(client.patch(f"{GROUP}/members/GB", json=end, headers=operator), 428)
    problem(client.patch(f"{GROUP}/members/GB", json=end, headers=if_match(operator, 7)), 412)
    response = client.patch(f"{GROUP}/members/GB", json=end, headers=if_match(operator, 1))
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'
    assert response.json()["members"] == [member("DE"), member("GB", "1973-01-01", "2020-01-31")]
    again = problem(
        client.patch(f"{GROUP}/members/GB", json=end, headers=if_match(operator, 2)), 409
    )
    assert "already ended on 2020-01-31" in again["detail"]
    problem(client.patch(f"{GROUP}/members/FR", json=end, headers=if_match(operator, 2)), 404)
    inverted = client.patch(
        f"{GROUP}/members/DE", json={"valid_to": "1999-12-31"}, headers=if_match(operator, 2)
    )
    assert fields(inverted) == ["valid_to"]


def test_only_the_registry_operator_adds_or_ends_memberships(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    created(client.put(GROUP, json=group(member("DE")), headers=operator))
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    key = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    problem(client.post(f"{GROUP}/members/FR", json={"valid_from": "2000-01-01"}), 401)
    problem(client.post(f"{GROUP}/members/FR", json={"valid_from": "2000-01-01"}, headers=key), 403)
    problem(
        client.patch(
            f"{GROUP}/members/DE", json={"valid_to": "2020-01-31"}, headers=if_match(key, 1)
        ),
        403,
    )
    problem(
        client.post(
            f"{ECONOMIES}/DE/members/FR", json={"valid_from": "2000-01-01"}, headers=operator
        ),
        404,
    )
    assert client.get(GROUP).json()["members"] == [member("DE")]
