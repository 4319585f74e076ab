"""Decisions on the record: created with a key, fetched by anyone, signed, replayed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ecolabel_registry.services.signing import SigningKeyFile
from ecolabel_registry.settings import Settings
from tests.api.data import agreement_body, created, setup_registry

REGISTRY_URL = "https://registry.example.org"
Q = {"scheme": "korea-eco-label", "certificate": "KR-0001", "target": "JP", "on": "2025-03-01"}


@pytest.fixture
def key_file(tmp_path: Path) -> SigningKeyFile:
    keys = SigningKeyFile(tmp_path / "keys" / "signing-keys.json")
    keys.create()
    return keys


@pytest.fixture
def settings(key_file: SigningKeyFile) -> Settings:
    return Settings(
        database_url="sqlite://",
        check_migrations=False,
        max_body_bytes=1024 * 1024,
        registry_url=REGISTRY_URL,
        signing_key_file=key_file.path,
    )


@pytest.fixture
def world(client: TestClient, operator: dict[str, str]) -> dict[str, Any]:
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


def payload(receipt: str) -> dict[str, Any]:
    part = receipt.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def header(receipt: str) -> dict[str, Any]:
    part = receipt.split(".")[0]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def test_one_question_is_recorded_signed_and_public(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    response = client.post("/v1/decisions", json={"question": Q}, headers=operator)
    decision = created(response)
    decision_id = decision["id"]
    url = f"{REGISTRY_URL}/v1/decisions/{decision_id}"
    assert response.headers["location"] == url
    assert len(decision_id) == 24
    subject = decision["decision"]
    assert subject["id"] == url
    assert subject["question"] == {**Q, "hs_code": None}
    answer = client.get("/v1/equivalence", params=Q).json()
    assert subject["answer"] == answer
    assert subject["answer"]["recognized"] is True
    assert isinstance(subject["registry_revision"], int)
    assert subject["registry_revision"] > 0
    credential = payload(decision["receipt"])
    assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert credential["type"] == ["VerifiableCredential", "RecognitionDecision"]
    assert credential["issuer"] == REGISTRY_URL
    assert credential["validFrom"] == subject["as_recorded"]
    assert credential["credentialSubject"] == subject
    assert header(decision["receipt"])["typ"] == "vc+jwt"
    fetched = client.get(f"/v1/decisions/{decision_id}")
    assert fetched.status_code == 200
    assert fetched.json() == decision
    assert "immutable" in fetched.headers["cache-control"]
