"""Every write operation of the app x every role: only the allowed combinations succeed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecolabel_registry.app import create_app
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.persistence.tables import RegistryChangeRow, WebhookDeliveryRow
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.settings import Settings
from tests.api.data import (
    agreement_body,
    body_body,
    category_body,
    certificate_body,
    created,
    scheme_body,
    setup_schemes_and_body,
)
from tests.conftest import make_key

ROLES = (
    "operator",
    "scheme_operator",
    "other_scheme_operator",
    "certification_body",
    "other_certification_body",
    "revoked",
    "anonymous",
)
WRITE_METHODS = {"post", "put", "patch", "delete"}
PUBLIC_URL = "https://93.184.216.34/hook"  # a public address literal: no DNS needed
READ_ONLY_POSTS = {"post_equivalence_batch"}
IMPORT_CSV = (
    "number,category_code,holder_name,holder_economy,product_name,certification_body_id,"
    "valid_from,valid_to\n"
    "KR-0100,paints,Hanbit Coatings,KR,Enamel,kr-test-body,2023-01-01,2027-12-31\n"
)


@dataclass
class World:
    client: TestClient
    headers: dict[str, dict[str, str]]
    agreement_id: str
    scope_entry_id: str
    subscription_id: str  # the operator's, with one delivery
    delivery_id: int


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    allowed: frozenset[str]
    if_match: str | None = None
    content_type: str = "application/json"
    denied: int = 403
    """What a valid key without the right gets: 404 for another key's subscription (a key
    sees only its own)."""


def _ops() -> dict[str, Case]:
    op = frozenset({"operator"})
    keys = frozenset(ROLES) - {"revoked", "anonymous"}
    subscription = "/v1/subscriptions/{}"
    scheme = frozenset({"operator", "scheme_operator"})
    body = frozenset({"operator", "certification_body"})
    any_key = frozenset(ROLES) - {"revoked", "anonymous"}
    return {
        "put_group": Case(
            "put", lambda _w: "/v1/economies/ASEAN", lambda _w: {"name": "ASEAN", "members": []}, op
        ),
        "add_membership": Case(
            "post",
            lambda _w: "/v1/economies/EUX/members/FR",
            lambda _w: {"valid_from": "2000-01-01"},
            op,
        ),
        "end_membership": Case(
            "patch",
            lambda _w: "/v1/economies/EUX/members/DE",
            lambda _w: {"valid_to": "2020-01-31"},
            op,
            '"1"',
        ),
        "create_scheme": Case(
            "post", lambda _w: "/v1/schemes", lambda _w: scheme_body(id="new-scheme"), op
        ),
        "update_scheme": Case(
            "patch",
            lambda _w: "/v1/schemes/korea-eco-label",
            lambda _w: {"name": "Renamed"},
            scheme,
            '"1"',
        ),
        "create_category": Case(
            "post",
            lambda _w: "/v1/schemes/korea-eco-label/categories",
            lambda _w: category_body(code="paper", hs_codes=["4802"]),
            scheme,
        ),
        "update_category": Case(
            "patch",
            lambda _w: "/v1/schemes/korea-eco-label/categories/paints",
            lambda _w: {"name": "Paints"},
            scheme,
            '"1"',
        ),
        "create_certification_body": Case(
            "post",
            lambda _w: "/v1/certification-bodies",
            lambda _w: body_body(id="new-body"),
            scheme,
        ),
        "update_certification_body": Case(
            "patch",
            lambda _w: "/v1/certification-bodies/kr-test-body",
            lambda _w: {
                "authorizations": [
                    {"scheme_id": "korea-eco-label", "valid_from": "2019-01-01", "valid_to": None}
                ]
            },
            scheme,
            '"1"',
        ),
        "create_certificate": Case(
            "post",
            lambda _w: "/v1/schemes/korea-eco-label/certificates",
            lambda _w: certificate_body(number="KR-0002"),
            body,
        ),
        "update_certificate": Case(
            "patch",
            lambda _w: "/v1/schemes/korea-eco-label/certificates/KR-0001",
            lambda _w: {"product_name": "Renamed enamel"},
            body,
            '"1"',
        ),
        "add_certificate_status_event": Case(
            "post",
            lambda _w: "/v1/schemes/korea-eco-label/certificates/KR-0001/status-events",
            lambda _w: {"status": "suspended", "effective_date": "2025-01-01", "reason": "audit"},
            body,
        ),
        "import_certificates": Case(
            "post",
            lambda _w: "/v1/schemes/korea-eco-label/certificates/import",
            lambda _w: {"csv": IMPORT_CSV},
            body,
            content_type="text/csv",
        ),
        "create_agreement": Case(
            "post", lambda _w: "/v1/agreements", lambda _w: agreement_body(), op
        ),
        "update_agreement": Case(
            "patch",
            lambda w: f"/v1/agreements/{w.agreement_id}",
            lambda _w: {"title": "Renamed"},
            op,
            '"1"',
        ),
        "add_agreement_status_event": Case(
            "post",
            lambda w: f"/v1/agreements/{w.agreement_id}/status-events",
            lambda _w: {"status": "suspended", "effective_date": "2025-01-01", "reason": "review"},
            op,
        ),
        "add_party_status_event": Case(
            "post",
            lambda w: f"/v1/agreements/{w.agreement_id}/parties/japan-eco-mark/status-events",
            lambda _w: {"status": "suspended", "effective_date": "2025-01-01", "reason": "review"},
            op,
        ),
        "add_scope_entry": Case(
            "post",
            lambda w: f"/v1/agreements/{w.agreement_id}/scope-entries",
            lambda _w: {
                "recognized_scheme_id": "japan-eco-mark",
                "category_code": "paints",
                "level": "full",
                "valid_from": "2024-01-01",
            },
            op,
        ),
        "post_decision": Case(
            "post",
            lambda _w: "/v1/decisions",
            lambda _w: {
                "question": {"scheme": "korea-eco-label", "certificate": "KR-0001", "target": "KR"}
            },
            any_key,
        ),
        "end_scope_entry": Case(
            "patch",
            lambda w: f"/v1/agreements/{w.agreement_id}/scope-entries/{w.scope_entry_id}",
            lambda _w: {"valid_to": "2025-12-31"},
            op,
            '"1"',
        ),
        "create_subscription": Case(
            "post", lambda _w: "/v1/subscriptions", lambda _w: {"url": PUBLIC_URL}, keys
        ),
        "update_subscription": Case(
            "patch",
            lambda w: subscription.format(w.subscription_id),
            lambda _w: {"enabled": False},
            op,
            denied=404,
        ),
        "delete_subscription": Case(
            "delete",
            lambda w: subscription.format(w.subscription_id),
            lambda _w: {},
            op,
            denied=404,
        ),
        "redeliver": Case(
            "post",
            lambda w: f"/v1/subscriptions/{w.subscription_id}/deliveries/{w.delivery_id}/redeliver",
            lambda _w: {},
            op,
            denied=404,
        ),
    }


OPERATIONS = _ops()


def _write_operations() -> set[str]:
    document = create_app(Settings(check_migrations=False)).openapi()
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in WRITE_METHODS and operation["operationId"] not in READ_ONLY_POSTS
    }


def test_every_write_operation_has_an_access_rule() -> None:
    assert _write_operations() == set(OPERATIONS), (
        "add the new operation to OPERATIONS with its roles"
    )


@pytest.fixture
def world(client: TestClient, operator: dict[str, str], session: Session) -> World:
    setup_schemes_and_body(client, operator)
    created(
        client.post(
            "/v1/certification-bodies",
            json=body_body(
                id="jp-test-body",
                economy="JP",
                authorizations=[{"scheme_id": "japan-eco-mark", "valid_from": "2020-01-01"}],
            ),
            headers=operator,
        )
    )
    created(
        client.post(
            "/v1/schemes/korea-eco-label/certificates", json=certificate_body(), headers=operator
        )
    )
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    created(
        client.put(
            "/v1/economies/EUX",
            json={"name": "Test Union", "members": [{"member": "DE", "valid_from": "2000-01-01"}]},
            headers=operator,
        )
    )
    revoked_key, revoked_secret = ApiKeyService(SqlApiKeyRepository(session)).create(
        "gone", Role.OPERATOR
    )
    ApiKeyService(SqlApiKeyRepository(session)).revoke(revoked_key.id)
    session.commit()
    headers = {
        "operator": operator,
        "scheme_operator": make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",)),
        "other_scheme_operator": make_key(
            session, Role.SCHEME_OPERATOR, schemes=("japan-eco-mark",)
        ),
        "certification_body": make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body"),
        "other_certification_body": make_key(session, Role.CERTIFICATION_BODY, body="jp-test-body"),
        "revoked": {"Authorization": f"Bearer {revoked_secret}"},
        "anonymous": {},
    }
    made = created(client.post("/v1/subscriptions", json={"url": PUBLIC_URL}, headers=operator))
    delivery = WebhookDeliveryRow(
        subscription_id=made["id"],
        change_id=session.execute(select(func.max(RegistryChangeRow.id))).scalar_one(),
        entity_key="agreement:" + agreement["id"],
        state="delivered",
        attempts=1,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(delivery)
    session.commit()
    return World(
        client,
        headers,
        agreement["id"],
        agreement["scope_entries"][0]["id"],
        made["id"],
        delivery.id,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_only_allowed_roles_may_write(world: World, operation: str, role: str) -> None:
    case = OPERATIONS[operation]
    headers = dict(world.headers[role])
    if case.if_match is not None:
        headers["If-Match"] = case.if_match
    if case.content_type == "text/csv":
        headers["Content-Type"] = case.content_type
        response = world.client.request(
            case.method, case.path(world), content=case.body(world)["csv"], headers=headers
        )
    else:
        response = world.client.request(
            case.method, case.path(world), json=case.body(world), headers=headers
        )
    if role in case.allowed:
        assert 200 <= response.status_code < 300, response.text
    elif role in {"revoked", "anonymous"}:
        assert response.status_code == 401, response.text
    else:
        assert response.status_code == case.denied, response.text
    if response.status_code != 204:  # no content, no type
        assert response.headers["content-type"].startswith(
            "application/json" if response.status_code < 300 else "application/problem+json"
        )


def test_batch_questions_need_no_key(world: World) -> None:
    response = world.client.post(
        "/v1/equivalence/batch",
        json={"lines": [{"scheme": "korea-eco-label", "certificate": "KR-0001", "target": "KR"}]},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["answer"]["level"] == "native"
