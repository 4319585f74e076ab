"""The resolver over HTTP: the answer's shape, 404/422, batches, markets and plans."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import agreement_body, category_body, created, setup_registry

Q = {"scheme": "korea-eco-label", "certificate": "KR-0001"}


@pytest.fixture
def world(client: TestClient, operator: dict[str, str]) -> dict[str, Any]:
    setup_registry(client, operator)
    agreement = created(
        client.post(
            "/v1/agreements",
            json=agreement_body(
                direction="unilateral",
                recognizing_scheme_id="japan-eco-mark",
                recognized_scheme_id="korea-eco-label",
                effective_to="2026-12-31",
                scope_entries=[
                    {
                        "recognized_scheme_id": "korea-eco-label",
                        "recognizing_scheme_id": "japan-eco-mark",
                        "category_code": "paints",
                        "equivalent_category_code": "paints",
                        "hs_prefixes": ["3208"],
                        "level": "conditional",
                        "conditions": [
                            {"text": "VOC test by a JIS laboratory", "criteria": ["voc-limit"]}
                        ],
                        "valid_from": "2023-07-01",
                    }
                ],
            ),
            headers=operator,
        )
    )
    return agreement


def test_recognized_on_conditions_with_route_conditions_and_validity(
    client: TestClient, world: dict[str, Any]
) -> None:
    response = client.get(
        "/v1/equivalence", params={**Q, "target": "JP", "on": "2025-03-01", "hs_code": "320810"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["query"] == {
        "scheme": "korea-eco-label",
        "certificate": "KR-0001",
        "target": "JP",
        "on": "2025-03-01",
        "hs_code": "320810",
    }
    assert answer["recognized"] is True
    assert answer["level"] == "conditional"
    route = answer["routes"][0]
    assert route["agreement_id"] == world["id"]
    assert route["recognizing_scheme"] == "japan-eco-mark"
    assert route["equivalent_category"] == "paints"
    assert route["conditions"] == [
        {"text": "VOC test by a JIS laboratory", "criteria": ["voc-limit"]}
    ]
    assert [step["agreement_id"] for step in route["path"]] == [world["id"]]
    assert answer["conditions"] == route["conditions"]
    assert answer["valid_until"] == "2026-12-31"
    assert "JP" in answer["explanation"]


def test_native_in_its_home_economy(client: TestClient, world: dict[str, Any]) -> None:
    answer = client.get("/v1/equivalence", params={**Q, "target": "KR", "on": "2025-03-01"}).json()
    assert answer["recognized"] is True
    assert answer["level"] == "native"
    assert answer["routes"][0]["basis"] == "native"
    assert answer["valid_until"] == "2027-12-31"


def test_unilateral_agreement_does_not_work_backwards(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    created(
        client.post(
            "/v1/schemes/japan-eco-mark/certificates",
            json={
                "number": "JP-1",
                "category_code": "paints",
                "holder_name": "Sakura Paints",
                "holder_economy": "JP",
                "product_name": "Enamel",
                "valid_from": "2023-01-01",
                "valid_to": "2027-12-31",
            },
            headers=operator,
        )
    )
    answer = client.get(
        "/v1/equivalence",
        params={
            "scheme": "japan-eco-mark",
            "certificate": "JP-1",
            "target": "KR",
            "on": "2025-03-01",
        },
    ).json()
    assert answer["recognized"] is False
    assert answer["level"] is None
    assert {r["code"] for r in answer["reasons"]} == {"NO_AGREEMENT"}


def test_hs_code_outside_the_scope_is_a_coded_reason(
    client: TestClient, world: dict[str, Any]
) -> None:
    answer = client.get(
        "/v1/equivalence", params={**Q, "target": "JP", "on": "2025-03-01", "hs_code": "3209"}
    ).json()
    assert answer["recognized"] is False
    assert "HS_CODE_NOT_COVERED_BY_CERTIFICATE" in {r["code"] for r in answer["reasons"]}


def test_suspended_certificate_is_not_recognized_until_reinstated(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    url = "/v1/schemes/korea-eco-label/certificates/KR-0001/status-events"
    for status, day in (("suspended", "2025-02-01"), ("active", "2025-04-01")):
        created(
            client.post(
                url,
                json={"status": status, "effective_date": day, "reason": "audit"},
                headers=operator,
            )
        )
    during = client.get("/v1/equivalence", params={**Q, "target": "KR", "on": "2025-03-01"}).json()
    assert during["recognized"] is False
    assert during["reasons"][0]["code"] == "CERTIFICATE_SUSPENDED"
    assert during["valid_until"] == "2025-03-31"
    after = client.get("/v1/equivalence", params={**Q, "target": "KR", "on": "2025-04-01"}).json()
    assert after["recognized"] is True


def test_the_cache_sees_an_agreement_suspension_at_once(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    params = {**Q, "target": "JP", "on": "2025-03-01"}
    assert client.get("/v1/equivalence", params=params).json()["recognized"] is True
    created(
        client.post(
            f"/v1/agreements/{world['id']}/status-events",
            json={"status": "suspended", "effective_date": "2025-01-01", "reason": "review"},
            headers=operator,
        )
    )
    answer = client.get("/v1/equivalence", params=params).json()
    assert answer["recognized"] is False
    assert "AGREEMENT_SUSPENDED" in {r["code"] for r in answer["reasons"]}


def test_unknown_certificate_of_a_complete_scheme_says_it_is_not_valid(
    client: TestClient, world: dict[str, Any]
) -> None:
    response = client.get("/v1/equivalence", params={**Q, "certificate": "KR-9999", "target": "JP"})
    assert response.status_code == 404
    problem = response.json()
    assert problem["certificate_coverage"] == "complete"
    assert "not a valid certificate" in problem["detail"]


def test_unknown_certificate_of_a_partial_scheme_says_it_may_exist(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    client.patch(
        "/v1/schemes/korea-eco-label",
        json={"certificate_coverage": "partial"},
        headers={**operator, "If-Match": '"1"'},
    )
    response = client.get("/v1/equivalence", params={**Q, "certificate": "KR-9999", "target": "JP"})
    assert response.status_code == 404
    assert response.json()["certificate_coverage"] == "partial"
    assert "not in this registry" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"target": "XX"}, "target"),
        ({"target": "jp"}, "target"),
        ({"target": "JP", "hs_code": "32A8"}, "hs_code"),
        ({"target": "JP", "hs_code": "3"}, "hs_code"),
        ({"target": "JP", "on": "2025-02-30"}, "on"),
    ],
)
def test_bad_question_is_422_naming_the_field(
    client: TestClient, world: dict[str, Any], params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/equivalence", params={**Q, **params})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


def test_batch_answers_each_line_on_its_own(client: TestClient, world: dict[str, Any]) -> None:
    lines = [
        {"ref": "a", **Q, "target": "JP", "on": "2025-03-01", "hs_code": "320810"},
        {"ref": "b", **Q, "target": "XX"},
        {"ref": "c", **Q, "certificate": "NOPE", "target": "JP"},
        {"ref": "d", "scheme": "korea-eco-label", "target": "JP"},
        {"ref": "e", **Q, "target": "KR", "on": "not a date"},
        {"ref": "f", **Q, "target": "CN", "on": "2025-03-01"},
    ]
    response = client.post("/v1/equivalence/batch", json={"lines": lines})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["ref"] for r in results] == ["a", "b", "c", "d", "e", "f"]
    assert results[0]["answer"]["level"] == "conditional"
    assert results[1]["error"]["status"] == 422
    assert results[2]["error"]["status"] == 404
    assert results[3]["error"]["errors"][0]["field"] == "certificate"
    assert results[4]["error"]["errors"][0]["field"] == "on"
    assert results[5]["answer"]["recognized"] is False
    assert response.json()["summary"] == {
        "lines": 6,
        "recognized": 1,
        "not_recognized": 1,
        "errors": 4,
    }


def test_batch_of_more_than_10000_lines_is_refused(
    client: TestClient, world: dict[str, Any]
) -> None:
    line = {**Q, "target": "JP"}
    response = client.post("/v1/equivalence/batch", json={"lines": [line] * 10_001})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines"


def test_batch_of_10000_lines_is_answered(client: TestClient, world: dict[str, Any]) -> None:
    line = {**Q, "target": "JP", "on": "2025-03-01"}
    response = client.post("/v1/equivalence/batch", json={"lines": [line] * 10_000})
    assert response.status_code == 200
    assert response.json()["summary"]["recognized"] == 10_000


def test_batch_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/equivalence/batch", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_markets_list_every_economy_where_the_certificate_counts(
    client: TestClient, world: dict[str, Any]
) -> None:
    response = client.get(
        "/v1/schemes/korea-eco-label/certificates/KR-0001/markets", params={"on": "2025-03-01"}
    )
    assert response.status_code == 200
    markets = {m["economy"]: m for m in response.json()["markets"]}
    assert set(markets) == {"KR", "JP"}
    assert markets["KR"]["level"] == "native"
    assert markets["JP"]["level"] == "conditional"
    assert markets["JP"]["route"]["agreement_id"] == world["id"]


def test_markets_of_unknown_certificate_is_404(client: TestClient, world: dict[str, Any]) -> None:
    response = client.get("/v1/schemes/korea-eco-label/certificates/NOPE/markets")
    assert response.status_code == 404


def test_plan_ranks_schemes_by_markets_reached(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    created(
        client.post(
            "/v1/schemes/japan-eco-mark/categories",
            json=category_body(code="paper", hs_codes=["4802"]),
            headers=operator,
        )
    )
    response = client.get(
        "/v1/equivalence/plan",
        params={"hs_code": "320810", "targets": "KR,JP,DE", "on": "2025-03-01"},
    )
    assert response.status_code == 200
    options = response.json()["options"]
    assert options[0]["scheme"] == "korea-eco-label"
    assert options[0]["recognized_in"] == ["KR", "JP"]
    assert options[0]["levels"] == {"KR": "native", "JP": "conditional", "DE": None}
    assert [o["scheme"] for o in options] == ["korea-eco-label", "japan-eco-mark"]


def test_plan_with_unknown_target_is_422(client: TestClient, world: dict[str, Any]) -> None:
    response = client.get("/v1/equivalence/plan", params={"hs_code": "3208", "targets": "KR,XX"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "targets"
