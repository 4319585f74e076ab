"""Decisions on the record: created with a key, fetched by anyone, signed, replayed."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecolabel_registry.api.decisions_io import verify_receipt
from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.persistence.tables import DecisionCredentialRow, DecisionRow
from ecolabel_registry.services.keys import ApiKeyService, hash_key
from ecolabel_registry.services.signing import KeyRing, SigningKeyError, SigningKeyFile
from ecolabel_registry.settings import Settings
from tests.api.data import (
    created,
    fields,
    problem,
    setup_recognition,
)
from tests.conftest import make_key

REGISTRY_URL = "https://registry.example.org"
JSON = "application/json"
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
    return setup_recognition(client, operator)


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


def receipt_jwks(client: TestClient) -> dict[str, Any]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


LINES: list[dict[str, Any]] = [
    {"ref": "ok", **Q},
    {"ref": "unknown", **Q, "certificate": "KR-9999"},
    {"ref": "bad-target", **Q, "target": "ZZZ"},
    {"ref": "malformed", "scheme": "korea-eco-label", "certificate": "KR-0001"},
    {"ref": "ok-again", **Q},
]


def test_a_batch_decision_lists_each_line_with_its_answer_or_its_own_error(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    decision = created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    subject = decision["decision"]
    assert "question" not in subject
    assert "answer" not in subject
    lines = subject["lines"]
    assert [x["ref"] for x in lines] == [x["ref"] for x in LINES]
    batch = client.post("/v1/equivalence/batch", json={"lines": LINES}).json()
    # Each line says what the batch says of it: its answer or its own error.
    assert [x["answer"] for x in lines] == [x["answer"] for x in batch["results"]]
    assert [x["error"] for x in lines] == [x["error"] for x in batch["results"]]
    assert (
        subject["summary"]
        == batch["summary"]
        == {
            "lines": 5,
            "recognized": 2,
            "not_recognized": 0,
            "errors": 3,
        }
    )
    # An answered line's question is its answer's own; a line without one keeps its own.
    assert lines[0]["question"] is None
    assert lines[0]["answer"]["query"]["certificate"] == LINES[0]["certificate"]
    assert lines[1]["question"]["certificate"] == "KR-9999"
    assert lines[1]["error"]["status"] == 404
    assert lines[3]["question"] is None
    assert lines[3]["error"]["errors"][0]["field"] == "target"
    # A decision whose one well-formed line is read as the single question reads it says
    # what the batch says of it all the same.
    two = [LINES[0], LINES[2]]
    few = created(client.post("/v1/decisions", json={"lines": two}, headers=operator))
    few_batch = client.post("/v1/equivalence/batch", json={"lines": two}).json()["results"]
    assert [(x["answer"], x["error"]) for x in few["decision"]["lines"]] == [
        (x["answer"], x["error"]) for x in few_batch
    ]
    # One credential, one signature, for the whole batch.
    assert payload(decision["receipt"])["credentialSubject"] == subject
    assert client.get(f"/v1/decisions/{decision['id']}").json() == decision


def test_decisions_need_a_valid_key_but_anyone_reads_them(
    client: TestClient, world: dict[str, Any], operator: dict[str, str], session: Session
) -> None:
    assert problem(client.post("/v1/decisions", json={"question": Q}), 401)
    key, secret = ApiKeyService(SqlApiKeyRepository(session)).create("gone", Role.OPERATOR)
    ApiKeyService(SqlApiKeyRepository(session)).revoke(key.id)
    session.commit()
    revoked = {"Authorization": f"Bearer {secret}"}
    assert problem(client.post("/v1/decisions", json={"question": Q}, headers=revoked), 401)
    body = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    decision = created(client.post("/v1/decisions", json={"question": Q}, headers=body))
    assert client.get(f"/v1/decisions/{decision['id']}").status_code == 200
    assert client.get(f"/v1/decisions/{decision['id']}/replay").status_code == 200


def test_the_key_id_is_recorded_never_the_key(
    client: TestClient, world: dict[str, Any], session: Session
) -> None:
    key, secret = ApiKeyService(SqlApiKeyRepository(session)).create("customs", Role.OPERATOR)
    session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.post("/v1/decisions", json={"question": Q}, headers=headers)
    decision = created(response)
    row = session.execute(select(DecisionRow).where(DecisionRow.id == decision["id"])).scalar_one()
    assert row.api_key_id == key.id
    credential = session.get(DecisionCredentialRow, decision["id"])
    assert credential is not None
    for part in (
        row.protected,
        zstandard.ZstdDecompressor().decompress(credential.payload).decode(),
        row.signature,
    ):
        assert secret not in part
        assert hash_key(secret) not in part
    assert secret not in response.text
    assert key.id not in response.text  # who asked is the registry's to know, not the public's


def test_ids_are_random_and_unknown_or_malformed_ids_are_404(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    ids = {
        created(client.post("/v1/decisions", json={"question": Q}, headers=operator))["id"]
        for _ in range(3)
    }
    assert len(ids) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", i) for i in ids)
    for unknown in ("A" * 24, "short", "x" * 300, "..%2F..", "A" * 23 + "="):
        assert problem(client.get(f"/v1/decisions/{unknown}"), 404)
        assert problem(client.get(f"/v1/decisions/{unknown}/replay"), 404)


def test_bodies_that_are_no_decision_are_422_naming_the_field(
    client: TestClient, world: dict[str, Any], operator: dict[str, str], session: Session
) -> None:
    def post(body: Any) -> Any:
        return client.post("/v1/decisions", json=body, headers=operator)

    assert fields(post({})) == ["body"]
    assert fields(post({"question": Q, "lines": [Q]})) == ["body"]
    assert fields(post({"questions": Q})) == ["questions"]
    assert fields(post({"lines": []})) == ["lines"]
    assert fields(post({"question": {"scheme": "korea-eco-label"}})) == [
        "question.certificate",
        "question.target",
    ]
    assert fields(post({"question": {**Q, "target": "ZZZ"}})) == ["question.target"]
    assert fields(post({"question": {**Q, "pad": "x" * 5000}})) == ["question"]
    assert fields(post({"lines": [Q] * 10_001})) == ["lines"]
    unknown = problem(post({"question": {**Q, "certificate": "KR-9999"}}), 404)
    assert unknown["certificate_coverage"] == "complete"
    for content in (b'{"question": ', b'{"question": ' + b"[" * 3000 + b"]" * 3000 + b"}"):
        bad = client.post(
            "/v1/decisions", content=content, headers={**operator, "Content-Type": JSON}
        )
        assert fields(bad) == ["body"]
    # None of these was recorded.
    assert session.execute(select(func.count()).select_from(DecisionRow)).scalar_one() == 0


def test_a_body_over_the_batch_limit_is_413(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    body = json.dumps({"lines": [Q] * 20_000}).encode()
    assert len(body) > 1024 * 1024
    response = client.post(
        "/v1/decisions", content=body, headers={**operator, "Content-Type": JSON}
    )
    assert problem(response, 413)


def test_without_a_signing_key_nothing_is_recorded_and_the_reason_is_given(
    world: dict[str, Any],
    operator: dict[str, str],
    settings: Settings,
    session: Session,
    session_factory: Any,
    tmp_path: Path,
) -> None:
    missing = settings.model_copy(update={"signing_key_file": tmp_path / "none.json"})
    with TestClient(create_app(missing, session_factory=session_factory)) as client:
        refused = problem(client.post("/v1/decisions", json={"question": Q}, headers=operator), 503)
        assert "signing-key create" in refused["detail"]
        assert client.get("/.well-known/jwks.json").json() == {"keys": []}
    assert session.execute(select(func.count()).select_from(DecisionRow)).scalar_one() == 0


def test_a_decision_whose_signing_fails_leaves_nothing_stored(
    client: TestClient,
    world: dict[str, Any],
    operator: dict[str, str],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The credential of a decision of lines is written while it is signed: a signature that
    # fails (the key file made unsafe at that moment, say) takes the credential back with it.
    def failing(_ring: KeyRing, _payload: bytes) -> str:
        raise SigningKeyError("refusing to sign: the key file changed")

    monkeypatch.setattr(KeyRing, "sign", failing)
    refused = problem(client.post("/v1/decisions", json={"lines": LINES}, headers=operator), 503)
    assert "refusing to sign" in refused["detail"]
    for table in (DecisionRow, DecisionCredentialRow):
        assert session.execute(select(func.count()).select_from(table)).scalar_one() == 0
    monkeypatch.undo()
    created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    for table in (DecisionRow, DecisionCredentialRow):
        assert session.execute(select(func.count()).select_from(table)).scalar_one() == 1


def test_a_key_file_others_may_read_is_refused(
    client: TestClient, world: dict[str, Any], operator: dict[str, str], key_file: SigningKeyFile
) -> None:
    created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    key_file.path.chmod(0o640)
    refused = problem(client.post("/v1/decisions", json={"question": Q}, headers=operator), 503)
    assert "chmod 600" in refused["detail"]
    key_file.path.chmod(0o600)
    created(client.post("/v1/decisions", json={"question": Q}, headers=operator))


def test_jwks_lists_current_and_retired_keys_with_cache_headers(
    client: TestClient, world: dict[str, Any], operator: dict[str, str], key_file: SigningKeyFile
) -> None:
    before = created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    first = client.get("/.well-known/jwks.json")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["content-type"] == "application/jwk-set+json"
    etag = first.headers["etag"]
    assert client.get("/.well-known/jwks.json", headers={"If-None-Match": etag}).status_code == 304
    new = key_file.rotate()
    second = receipt_jwks(client)
    kids = [k["kid"] for k in second["keys"]]
    assert kids[0] == new.kid
    assert header(before["receipt"])["kid"] in kids
    assert all("d" not in k for k in second["keys"])
    assert all((k["kty"], k["crv"], k["alg"]) == ("EC", "P-256", "ES256") for k in second["keys"])
    assert client.get("/.well-known/jwks.json").headers["etag"] != etag
    after = created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    assert header(after["receipt"])["kid"] == new.kid
    # Both verify against the published keys: the old receipt after the rotation too.
    for decision in (before, after):
        assert verify_receipt(decision["receipt"], second).credential_subject.id.endswith(
            decision["id"]
        )


def replay_of_stored(
    client: TestClient,
    operator: dict[str, str],
    session: Session,
    key_file: SigningKeyFile,
    change: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The replay of a decision of LINES stored with its credential changed by `change`
    (and signed again with the registry's key)."""
    decision = created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    credential = payload(decision["receipt"])
    change(credential)
    store_receipt(session, decision["id"], key_file.read().sign(json.dumps(credential).encode()))
    replay: dict[str, Any] = client.get(f"/v1/decisions/{decision['id']}/replay").json()
    return replay


def store_receipt(session: Session, decision_id: str, receipt: str) -> None:
    """The stored decision `decision_id` made to hold `receipt` instead of its own."""
    row = session.get(DecisionRow, decision_id)
    credential = session.get(DecisionCredentialRow, decision_id)
    assert row is not None
    assert credential is not None
    row.protected, payload, row.signature = receipt.split(".")
    credential.payload = zstandard.ZstdCompressor().compress(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    session.commit()


def test_replay_matches_when_nothing_changed(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    one = created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    many = created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    replay = client.get(f"/v1/decisions/{one['id']}/replay").json()
    assert replay["matches"] is True
    assert replay["lines"] == 1
    assert replay["differences"] == []
    assert replay["decision"] == one["decision"]["id"]
    assert replay["as_recorded"] == one["decision"]["as_recorded"]
    assert replay["recorded_revision"] == one["decision"]["registry_revision"]
    replay = client.get(f"/v1/decisions/{many['id']}/replay").json()
    assert (replay["matches"], replay["lines"], replay["differences"]) == (True, 5, [])


def test_replay_names_the_lines_whose_answer_is_not_the_recorded_one(
    client: TestClient,
    world: dict[str, Any],
    operator: dict[str, str],
    session: Session,
    key_file: SigningKeyFile,
) -> None:
    # A decision stored with another answer on its second "ok" line than the registry gives.
    def changed(credential: dict[str, Any]) -> None:
        line = credential["credentialSubject"]["lines"][4]["answer"]
        line.update(recognized=False, level=None, routes=[], conditions=[], explanation="changed")

    replay = replay_of_stored(client, operator, session, key_file, changed)
    assert replay["matches"] is False
    (difference,) = replay["differences"]
    assert (difference["line"], difference["ref"]) == (4, "ok-again")
    assert difference["recorded"]["answer"]["recognized"] is False
    assert difference["replayed"]["answer"]["recognized"] is True


def test_a_decision_recorded_with_the_question_on_every_line_replays_as_matching(
    client: TestClient,
    world: dict[str, Any],
    operator: dict[str, str],
    session: Session,
    key_file: SigningKeyFile,
) -> None:
    # Receipts recorded before answered lines left out their question repeat it there.
    def with_questions(credential: dict[str, Any]) -> None:
        for line in credential["credentialSubject"]["lines"]:
            if line["answer"] is not None:
                line["question"] = line["answer"]["query"]

    replay = replay_of_stored(client, operator, session, key_file, with_questions)
    assert (replay["matches"], replay["lines"], replay["differences"]) == (True, 5, [])


def test_replay_matches_after_later_backdated_corrections(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    decision = created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    assert decision["decision"]["lines"][0]["answer"]["recognized"] is True
    # Recorded later, effective before the decision's date: the agreement was suspended.
    created(
        client.post(
            f"/v1/agreements/{world['id']}/status-events",
            json={"status": "suspended", "effective_date": "2024-01-01", "reason": "correction"},
            headers=operator,
        )
    )
    now = client.post("/v1/equivalence/batch", json={"lines": LINES[:1]}).json()
    assert now["results"][0]["answer"]["recognized"] is False
    replay = client.get(f"/v1/decisions/{decision['id']}/replay").json()
    assert replay["matches"] is True, replay["differences"]
    assert replay["replayed_revision"] == decision["decision"]["registry_revision"]


def test_the_verify_page_shows_a_valid_decision_and_says_why_another_fails(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    one = created(client.post("/v1/decisions", json={"question": Q}, headers=operator))
    many = created(client.post("/v1/decisions", json={"lines": LINES}, headers=operator))
    form = client.get("/verify")
    assert form.status_code == 200
    assert 'method="post"' in form.text
    assert "script" not in form.headers["content-security-policy"]
    page = client.get("/verify", params={"decision": one["decision"]["id"]})
    assert page.status_code == 200
    assert "The receipt is valid" in page.text
    assert "KR-0001" in page.text
    assert "Full recognition" in page.text
    lines = client.get("/verify", params={"decision": many["id"], "lang": "zh"})
    assert "收据有效" in lines.text
    assert "ok-again" in lines.text
    pasted = client.post("/verify", data={"receipt": one["receipt"]})
    assert "The receipt is valid" in pasted.text
    header, payload_part, signature = one["receipt"].split(".")
    changed = f"{header}.{payload_part[:-1]}{'A' if payload_part[-1] != 'A' else 'B'}.{signature}"
    refused = client.post("/verify", data={"receipt": changed})
    assert refused.status_code == 200
    assert "The receipt does not verify" in refused.text
    assert "The signature does not match" in refused.text
    assert "The receipt is valid" not in refused.text
    garbage = client.post("/verify", data={"receipt": "<script>alert(1)</script>"})
    assert "This is not a receipt" in garbage.text
    assert "<script>alert(1)" not in garbage.text
    assert client.post("/verify", data={"receipt": "  "}).status_code == 422
    assert client.get("/verify", params={"decision": "A" * 24}).status_code == 404
    assert client.get("/verify", params={"decision": "../../etc"}).status_code == 404


def test_a_decision_is_taken_now_never_as_recorded_at_another_instant(
    client: TestClient, world: dict[str, Any], operator: dict[str, str]
) -> None:
    earlier = "2020-01-01T00:00:00Z"
    one = client.post(
        "/v1/decisions", json={"question": {**Q, "as_recorded": earlier}}, headers=operator
    )
    assert one.status_code == 422
    assert fields(one) == ["question.as_recorded"]
    lines = [{**LINES[0], "as_recorded": earlier}, *LINES[1:]]
    many = client.post("/v1/decisions", json={"lines": lines}, headers=operator)
    assert many.status_code == 422
    assert fields(many) == ["as_recorded"]
