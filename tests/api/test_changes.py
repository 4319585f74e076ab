"""The public change feed: every recorded change in order, cursors, filters, imports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import StatusEvent
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.certificates import CertificateService
from tests.api.data import (
    agreement_body,
    certificate_body,
    created,
    fields,
    if_match,
    setup_registry,
)
from tests.api.test_import_export import CSV, IMPORT, arrange, csv_bytes, imported, row

KR_CERT = "/v1/schemes/korea-eco-label/certificates"


def feed(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/changes", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def everything(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every change of the feed, read page by page."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = feed(client, limit=3, **params, **({"after": after} if after else {}))
        items += page["items"]
        after = page["next_cursor"]
        if not page["more"]:
            return items


def summary(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(c["entity_type"], c["entity_id"], c["kind"]) for c in items]


def suspend(client: TestClient, operator: dict[str, str], number: str, day: str) -> None:
    response = client.post(
        f"{KR_CERT}/{number}/status-events",
        json={"status": "suspended", "effective_date": day, "reason": "audit"},
        headers=operator,
    )
    assert response.status_code == 201, response.text


def test_every_write_is_in_the_feed_once_in_recording_order(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    suspend(client, operator, "KR-0001", "2024-03-01")
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    aid = agreement["id"]
    party = client.post(
        f"/v1/agreements/{aid}/parties/japan-eco-mark/status-events",
        json={"status": "suspended", "effective_date": "2024-05-01", "reason": "review"},
        headers=operator,
    )
    assert party.status_code == 201, party.text
    entry = agreement["scope_entries"][0]
    ended = client.patch(
        f"/v1/agreements/{aid}/scope-entries/{entry['id']}",
        json={"valid_to": "2025-12-31"},
        headers=if_match(operator, 1),
    )
    assert ended.status_code == 200, ended.text

    items = everything(client)
    assert summary(items) == [
        ("scheme", "korea-eco-label", "created"),
        ("scheme", "japan-eco-mark", "created"),
        ("product_category", "korea-eco-label/paints", "created"),
        ("product_category", "japan-eco-mark/paints", "created"),
        ("certification_body", "kr-test-body", "created"),
        ("certificate", "korea-eco-label/KR-0001", "created"),
        ("certificate", "korea-eco-label/KR-0001", "status_event"),
        ("agreement", aid, "created"),
        ("agreement", aid, "party_status"),
        ("scope_entry", entry["id"], "scope_entry_ended"),
    ]
    sequences = [c["sequence"] for c in items]
    assert sequences == sorted(sequences)
    instants = [c["recorded_at"] for c in items]
    assert instants == sorted(instants)
    status = items[6]
    assert (status["status"], status["effective_date"], status["economy"]) == (
        "suspended",
        "2024-03-01",
        "KR",
    )
    assert status["link"] == f"{KR_CERT}/KR-0001"
    assert client.get(status["link"]).status_code == 200
    assert (items[8]["status"], items[8]["effective_date"], items[8]["data"]["party"]) == (
        "suspended",
        "2024-05-01",
        "japan-eco-mark",
    )
    assert items[9]["effective_date"] == "2025-12-31"
    assert client.get(items[9]["link"]).status_code == 200


def test_the_cursor_reads_on_from_where_a_reader_stopped(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    first = feed(client, limit=100)
    assert not first["more"]
    assert feed(client, after=first["next_cursor"])["items"] == []
    suspend(client, operator, "KR-0001", "2024-03-01")
    later = feed(client, after=first["next_cursor"])
    assert summary(later["items"]) == [("certificate", "korea-eco-label/KR-0001", "status_event")]
    # Still valid after more writes: a cursor names a place in the log, not a page.
    created(client.post(KR_CERT, json=certificate_body(number="KR-0002"), headers=operator))
    assert len(feed(client, after=first["next_cursor"])["items"]) == 2


def test_a_cursor_the_feed_never_gave_is_422(client: TestClient) -> None:
    for bad in ("12", "not-a-cursor", "Y2hnMTo", "x" * 101):
        assert fields(client.get("/v1/changes", params={"after": bad})) == ["after"]


def test_filters_select_the_changes_of_a_scheme_certificate_agreement_or_economy(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    created(client.post(KR_CERT, json=certificate_body(number="KR-0002"), headers=operator))
    suspend(client, operator, "KR-0001", "2024-03-01")

    certificate = everything(client, certificate="korea-eco-label/KR-0001")
    assert summary(certificate) == [
        ("certificate", "korea-eco-label/KR-0001", "created"),
        ("certificate", "korea-eco-label/KR-0001", "status_event"),
    ]
    japan = summary(everything(client, scheme="japan-eco-mark"))
    assert japan == [
        ("scheme", "japan-eco-mark", "created"),
        ("product_category", "japan-eco-mark/paints", "created"),
        ("agreement", agreement["id"], "created"),
    ]
    assert summary(everything(client, agreement=agreement["id"])) == [
        ("agreement", agreement["id"], "created")
    ]
    korea = summary(everything(client, economy="KR"))
    assert ("certificate", "korea-eco-label/KR-0002", "created") in korea
    assert ("certification_body", "kr-test-body", "created") in korea
    assert all(t != "scheme" for t, _, _ in korea)
    both = everything(client, scheme="korea-eco-label", certificate="korea-eco-label/KR-0002")
    assert summary(both) == [("certificate", "korea-eco-label/KR-0002", "created")]


def test_filters_are_validated(client: TestClient) -> None:
    assert fields(client.get("/v1/changes", params={"economy": "kr"})) == ["economy"]
    assert fields(client.get("/v1/changes", params={"scheme": "Not A Slug"})) == ["scheme"]
    assert fields(client.get("/v1/changes", params={"certificate": "no-slash"})) == ["certificate"]
    assert fields(client.get("/v1/changes", params={"entity": "x"})) == ["entity"]
    assert fields(client.get("/v1/changes", params={"limit": 0})) == ["limit"]


def test_a_rolled_back_write_never_appears(
    client: TestClient, operator: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    setup_registry(client, operator)
    before = feed(client, limit=1000)
    with session_factory() as session:
        service = CertificateService(SqlRegistry(session))
        service.add_status_event(
            SYSTEM,
            "korea-eco-label",
            "KR-0001",
            StatusEvent("suspended", dt.date(2024, 3, 1), "audit"),
        )
        session.rollback()
    assert feed(client, after=before["next_cursor"])["items"] == []
    suspend(client, operator, "KR-0001", "2024-04-01")
    after = feed(client, after=before["next_cursor"])["items"]
    assert [(c["kind"], c["effective_date"]) for c in after] == [("status_event", "2024-04-01")]


def test_an_import_gives_one_change_per_certificate_it_changed_and_none_for_the_rest(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    start = feed(client, limit=1000)["next_cursor"]
    rows = [row(1), row(2), row(3)]
    imported(client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV}))
    made = feed(client, after=start)
    assert summary(made["items"]) == [
        ("certificate", f"korea-eco-label/KR-IMP-000{n}", "created") for n in (1, 2, 3)
    ]
    assert {c["economy"] for c in made["items"]} == {"KR"}
    again = [
        row(1),
        row(2, product_name="Satin enamel"),
        row(3, status="suspended", status_effective_date="2024-06-01", status_reason="audit"),
    ]
    imported(client.post(IMPORT, content=csv_bytes(again), headers={**operator, **CSV}))
    changed = feed(client, after=made["next_cursor"])["items"]
    assert [(c["entity_id"], c["kind"], c["status"], c["effective_date"]) for c in changed] == [
        ("korea-eco-label/KR-IMP-0002", "updated", None, None),
        ("korea-eco-label/KR-IMP-0003", "status_event", "suspended", "2024-06-01"),
    ]


def test_keys_and_actors_never_appear(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    text = client.get("/v1/changes", params={"limit": 1000}).text
    assert "api_key" not in text
    assert "test operator" not in text
    assert "Bearer" not in text
