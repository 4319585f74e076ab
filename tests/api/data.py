"""Request bodies with sensible defaults, helpers that create entities through the API, and
helpers that read its answers (problem+json documents, the fields a 422 names, If-Match)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def scheme_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "korea-eco-label",
        "name": "Korea Eco-label",
        "operator": "KEITI",
        "type": "iso14024",
        "home_economies": ["KR"],
        "certificate_coverage": "complete",
        "website": "https://el.keiti.re.kr/",
    }
    body.update(overrides)
    return body


def category_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "paints",
        "name": "Paints and varnishes",
        "criteria_version": "2024-1",
        "valid_from": "2020-01-01",
        "valid_to": None,
        "hs_codes": ["3208", "3209"],
        "criteria": ["voc-limit", "heavy-metals"],
    }
    body.update(overrides)
    return body


def body_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "kr-test-body",
        "name": "Test Certification Korea",
        "economy": "KR",
        "accreditation_ref": "KAB-0001",
        "authorizations": [
            {"scheme_id": "korea-eco-label", "valid_from": "2020-01-01", "valid_to": None}
        ],
    }
    body.update(overrides)
    return body


def certificate_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": "KR-0001",
        "category_code": "paints",
        "holder_name": "Hanbit Coatings",
        "holder_economy": "KR",
        "product_name": "Water-based enamel",
        "brand": "Hanbit",
        "model": "WB-1",
        "gtins": ["4006381333931"],
        "hs_codes": ["320810"],
        "certification_body_id": "kr-test-body",
        "valid_from": "2023-01-01",
        "valid_to": "2027-12-31",
    }
    body.update(overrides)
    return body


def agreement_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Test agreement",
        "reference": "TEST-001",
        "url": "https://example.org/agreement",
        "signed_on": "2023-06-01",
        "direction": "mutual",
        "chaining": "not_allowed",
        "effective_from": "2023-07-01",
        "effective_to": None,
        "parties": ["korea-eco-label", "japan-eco-mark"],
        "scope_entries": [
            {
                "recognized_scheme_id": "korea-eco-label",
                "category_code": "paints",
                "level": "full",
                "valid_from": "2023-07-01",
            }
        ],
    }
    body.update(overrides)
    return body


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json document of an error answer with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    data: dict[str, Any] = response.json()
    assert data["status"] == status
    return data


def fields(response: Any) -> list[str]:
    """The fields named by a 422 problem."""
    return [e["field"] for e in problem(response, 422)["errors"]]


def if_match(headers: dict[str, str], version: int) -> dict[str, str]:
    """`headers` with an If-Match on the given version."""
    return {**headers, "If-Match": f'"{version}"'}


def two_schemes(client: TestClient, operator: dict[str, str]) -> None:
    """Korea Eco-label (KR) and Eco Mark (JP)."""
    created(client.post("/v1/schemes", json=scheme_body(), headers=operator))
    created(
        client.post(
            "/v1/schemes",
            json=scheme_body(
                id="japan-eco-mark", name="Eco Mark", operator="JEA", home_economies=["JP"]
            ),
            headers=operator,
        )
    )


def setup_schemes_and_body(
    client: TestClient, operator: dict[str, str], *japan_categories: dict[str, Any]
) -> None:
    """Two schemes (KR, JP) with a paints category each (JP also `japan_categories`), a body."""
    two_schemes(client, operator)
    created(
        client.post(
            "/v1/schemes/korea-eco-label/categories", json=category_body(), headers=operator
        )
    )
    for category in (category_body(), *japan_categories):
        created(
            client.post("/v1/schemes/japan-eco-mark/categories", json=category, headers=operator)
        )
    created(client.post("/v1/certification-bodies", json=body_body(), headers=operator))


def setup_registry(client: TestClient, operator: dict[str, str]) -> None:
    """Two schemes (KR, JP) with a paints category each, a body and one certificate."""
    setup_schemes_and_body(client, operator)
    created(
        client.post(
            "/v1/schemes/korea-eco-label/certificates", json=certificate_body(), headers=operator
        )
    )


def setup_recognition(client: TestClient, operator: dict[str, str]) -> dict[str, Any]:
    """`setup_registry`, and Japan's eco mark recognizing the Korean label's paints in full
    from 2023-07-01 (one unilateral agreement, returned as created)."""
    setup_registry(client, operator)
    return created(
        client.post(
            "/v1/agreements",
            json=agreement_body(
                direction="unilateral",
                recognizing_scheme_id="japan-eco-mark",
                recognized_scheme_id="korea-eco-label",
                scope_entries=[
                    {
                        "recognized_scheme_id": "korea-eco-label",
                        "recognizing_scheme_id": "japan-eco-mark",
                        "category_code": "paints",
                        "equivalent_category_code": "paints",
                        "level": "full",
                        "valid_from": "2023-07-01",
                    }
                ],
            ),
            headers=operator,
        )
    )


def quick_and_declared(client: TestClient, module: Any, check: str, url: str) -> tuple[Any, Any]:
    """The answers to `url` with a quick route's check (`module.<check>`) on, then off, so
    that every query goes to the declared handler."""
    quick = client.get(url)
    checked = getattr(module, check)
    setattr(module, check, lambda items: None)  # noqa: ARG005
    try:
        declared = client.get(url)
    finally:
        setattr(module, check, checked)
    return quick, declared
