"""The committed OpenAPI document is the app's own."""

from __future__ import annotations

import json
from pathlib import Path

from ecolabel_registry.app import create_app
from ecolabel_registry.settings import Settings

READ_ONLY_POSTS = {"post_equivalence_batch"}
COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    document = create_app(Settings(check_migrations=False)).openapi()
    committed = json.loads(COMMITTED.read_text("utf-8"))
    assert committed == json.loads(json.dumps(document)), "run `ecolabel-registry openapi`"


def test_every_operation_has_a_stable_id_and_declares_its_problems() -> None:
    document = create_app(Settings(check_migrations=False)).openapi()
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            op_id = operation["operationId"]
            assert op_id not in seen
            seen.add(op_id)
            if op_id in READ_ONLY_POSTS:
                continue
            if path.startswith("/v1") and method in {"post", "put", "patch"}:
                assert "401" in operation["responses"], f"{method} {path}"
                assert "422" in operation["responses"], f"{method} {path}"
