"""Schemes and product categories through HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.data import category_body, created, scheme_body


def test_created_scheme_is_readable_with_location_and_etag(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post("/v1/schemes", json=scheme_body(), headers=operator)
    body = created(response)
    assert response.headers["Location"] == "/v1/schemes/korea-eco-label"
    assert body["home_economies"] == ["KR"]
    got = client.get("/v1/schemes/korea-eco-label")
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == body


def test_scheme_with_unknown_home_economy_is_rejected_naming_the_field(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post(
        "/v1/schemes", json=scheme_body(home_economies=["KR", "XX"]), headers=operator
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == "home_economies.1"
    assert "XX" in problem["errors"][0]["message"]
    assert client.get("/v1/schemes/korea-eco-label").status_code == 404


def test_lower_case_economy_code_is_rejected(client: TestClient, operator: dict[str, str]) -> None:
    response = client.post("/v1/schemes", json=scheme_body(home_economies=["kr"]), headers=operator)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "home_economies.0"


def test_duplicate_scheme_id_is_a_conflict(client: TestClient, operator: dict[str, str]) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.post("/v1/schemes", json=scheme_body(name="Other"), headers=operator)
    assert response.status_code == 409
    assert client.get("/v1/schemes/korea-eco-label").json()["name"] == "Korea Eco-label"


def test_unknown_field_is_rejected(client: TestClient, operator: dict[str, str]) -> None:
    response = client.post("/v1/schemes", json=scheme_body(colour="green"), headers=operator)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "colour"


def test_scheme_update_needs_if_match_and_refuses_a_stale_version(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    url = "/v1/schemes/korea-eco-label"
    assert client.patch(url, json={"name": "New"}, headers=operator).status_code == 428
    ok = client.patch(
        url, json={"name": "Korea Eco-label (KEITI)"}, headers={**operator, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"2"'
    stale = client.patch(url, json={"name": "Lost update"}, headers={**operator, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(url).json()["name"] == "Korea Eco-label (KEITI)"


def test_patch_refuses_null_for_a_required_field(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.patch(
        "/v1/schemes/korea-eco-label", json={"name": None}, headers={**operator, "If-Match": '"1"'}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_schemes_are_paginated_with_an_opaque_cursor(
    client: TestClient, operator: dict[str, str]
) -> None:
    for i in range(5):
        created(client.post("/v1/schemes", json=scheme_body(id=f"scheme-{i}"), headers=operator))
    first = client.get("/v1/schemes", params={"limit": 2}).json()
    assert [s["id"] for s in first["items"]] == ["scheme-0", "scheme-1"]
    second = client.get("/v1/schemes", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [s["id"] for s in second["items"]] == ["scheme-2", "scheme-3"]
    last = client.get("/v1/schemes", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [s["id"] for s in last["items"]] == ["scheme-4"]
    assert last["next_cursor"] is None


def test_limit_above_1000_is_rejected(client: TestClient) -> None:
    response = client.get("/v1/schemes", params={"limit": 1001})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"


def test_category_is_created_under_its_scheme(client: TestClient, operator: dict[str, str]) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.post(
        "/v1/schemes/korea-eco-label/categories", json=category_body(), headers=operator
    )
    body = created(response)
    assert response.headers["Location"] == "/v1/schemes/korea-eco-label/categories/paints"
    assert body["hs_codes"] == ["3208", "3209"]
    listed = client.get("/v1/schemes/korea-eco-label/categories").json()
    assert [c["code"] for c in listed["items"]] == ["paints"]


def test_category_with_inverted_window_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.post(
        "/v1/schemes/korea-eco-label/categories",
        json=category_body(valid_from="2025-01-01", valid_to="2024-12-31"),
        headers=operator,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "valid_to"
    assert client.get("/v1/schemes/korea-eco-label/categories/paints").status_code == 404


def test_category_with_malformed_hs_code_is_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    response = client.post(
        "/v1/schemes/korea-eco-label/categories",
        json=category_body(hs_codes=["32A8"]),
        headers=operator,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "hs_codes.0"


def test_category_of_unknown_scheme_is_not_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post("/v1/schemes/nope/categories", json=category_body(), headers=operator)
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_category_update_changes_hs_codes(client: TestClient, operator: dict[str, str]) -> None:
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    created(
        client.post(
            "/v1/schemes/korea-eco-label/categories", json=category_body(), headers=operator
        )
    )
    response = client.patch(
        "/v1/schemes/korea-eco-label/categories/paints",
        json={"hs_codes": ["3208"], "valid_to": "2030-12-31"},
        headers={**operator, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["hs_codes"] == ["3208"]
    assert response.json()["valid_to"] == "2030-12-31"
