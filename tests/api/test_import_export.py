"""Bulk import (CSV, JSON Lines) and export of certificates, through HTTP."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from ecolabel_registry.services.imports import COLUMNS
from tests.api.data import (
    body_body,
    category_body,
    created,
    problem,
    setup_schemes_and_body,
)
from tests.conftest import make_key

KR = "/v1/schemes/korea-eco-label/certificates"
IMPORT = f"{KR}/import"
CSV = {"Content-Type": "text/csv"}
JSONL = {"Content-Type": "application/x-ndjson"}
HEADER = tuple(c for c in COLUMNS if c != "status_events")  # the import columns, events aside


def gtin(n: int) -> str:
    """A GTIN-13 with a valid check digit."""
    body = f"400638{n:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def row(n: int, **overrides: Any) -> dict[str, Any]:
    """One CSV row (all strings) for certificate KR-IMP-<n>."""
    values: dict[str, Any] = {
        "number": f"KR-IMP-{n:04d}",
        "category_code": "paints",
        "holder_name": f"Holder {n}",
        "holder_economy": "KR",
        "product_name": f"Enamel {n}",
        "brand": "Hanbit",
        "model": f"M-{n}",
        "gtins": gtin(n),
        "hs_codes": "320810;320890",
        "certification_body_id": "kr-test-body",
        "valid_from": "2023-01-01",
        "valid_to": "2027-12-31",
        "status": "",
        "status_effective_date": "",
        "status_reason": "",
    }
    values.update(overrides)
    return values


def csv_bytes(rows: list[dict[str, Any]], header: tuple[str, ...] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return out.getvalue().encode()


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def arrange(client: TestClient, operator: dict[str, str]) -> None:
    """Korea Eco-label and Eco Mark, a paints category each (Eco Mark also office paper), a body."""
    setup_schemes_and_body(
        client,
        operator,
        category_body(code="office-paper", name="Office paper", hs_codes=["4802"]),
    )


def imported(response: Any) -> dict[str, int]:
    assert response.status_code == 200, response.text
    data: dict[str, int] = response.json()
    return data


def bad_rows(response: Any) -> list[tuple[int, str]]:
    """(row, field) of every error of a rejected import."""
    errors = problem(response, 422)["errors"]
    out = []
    for e in errors:
        assert e["loc"][:2] == ["body", "rows"], e
        out.append((e["loc"][2], e["loc"][3] if len(e["loc"]) > 3 else ""))
    return out


def numbers(client: TestClient) -> list[str]:
    response = client.get(KR, params={"limit": 1000})
    assert response.status_code == 200, response.text
    return [c["number"] for c in response.json()["items"]]


def certificate(client: TestClient, number: str) -> dict[str, Any]:
    response = client.get(f"{KR}/{number}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def history(client: TestClient, number: str) -> list[tuple[str, str, str]]:
    return [
        (e["status"], e["effective_date"], e["reason"])
        for e in certificate(client, number)["status_events"]
    ]


# Good files


def test_csv_import_creates_every_row_with_its_fields_and_status(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [
        row(1),
        row(2, brand="", model="", gtins="", hs_codes=""),
        row(3, status="suspended", status_effective_date="2024-02-01", status_reason="audit"),
    ]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert imported(response) == {"created": 3, "updated": 0, "unchanged": 0, "rows": 3}
    assert numbers(client) == ["KR-IMP-0001", "KR-IMP-0002", "KR-IMP-0003"]
    first = certificate(client, "KR-IMP-0001")
    assert first["holder_name"] == "Holder 1"
    assert first["gtins"] == ["0" + gtin(1)]  # stored in its 14-digit form
    assert first["hs_codes"] == ["320810", "320890"]
    assert first["certification_body_id"] == "kr-test-body"
    assert first["version"] == 1
    assert history(client, "KR-IMP-0001") == [("active", "2023-01-01", "issued")]
    second = certificate(client, "KR-IMP-0002")
    assert (second["brand"], second["model"], second["gtins"], second["hs_codes"]) == (
        None,
        None,
        [],
        [],
    )
    assert history(client, "KR-IMP-0003") == [
        ("active", "2023-01-01", "issued"),
        ("suspended", "2024-02-01", "audit"),
    ]
    assert certificate(client, "KR-IMP-0003")["status"] == "suspended"
    # The look-up indexes are written too.
    found = client.get("/v1/certificates", params={"gtin": gtin(1)}).json()["items"]
    assert [c["number"] for c in found] == ["KR-IMP-0001"]
    found = client.get("/v1/certificates", params={"hs_code": "320890"}).json()["items"]
    assert {c["number"] for c in found} == {"KR-IMP-0001", "KR-IMP-0003", "KR-IMP-0002"}
    found = client.get("/v1/certificates", params={"hs_code": "320910"}).json()["items"]
    assert [c["number"] for c in found] == ["KR-IMP-0002"]  # no own HS codes: the category's


def test_jsonl_import_takes_lists_and_a_full_status_history(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    records: list[dict[str, Any]] = [
        {
            "number": "KR-J-1",
            "category_code": "paints",
            "holder_name": "Hanbit Coatings",
            "holder_economy": "KR",
            "product_name": "Water-based enamel",
            "gtins": [gtin(7)],
            "hs_codes": ["3208"],
            "certification_body_id": "kr-test-body",
            "valid_from": "2023-01-01",
            "valid_to": "2027-12-31",
            "status_events": [
                {"status": "active", "effective_date": "2023-01-01", "reason": "issued"},
                {"status": "suspended", "effective_date": "2024-01-10", "reason": "audit"},
                {"status": "active", "effective_date": "2024-03-01", "reason": "audit passed"},
            ],
        },
        {
            "number": "KR-J-2",
            "category_code": "paints",
            "holder_name": "Hanbit Coatings",
            "holder_economy": "KR",
            "product_name": "Primer",
            "valid_from": "2024-01-01",
            "valid_to": "2026-12-31",
        },
    ]
    response = client.post(IMPORT, content=jsonl_bytes(records), headers={**operator, **JSONL})
    assert imported(response) == {"created": 2, "updated": 0, "unchanged": 0, "rows": 2}
    assert history(client, "KR-J-1") == [
        ("active", "2023-01-01", "issued"),
        ("suspended", "2024-01-10", "audit"),
        ("active", "2024-03-01", "audit passed"),
    ]
    second = certificate(client, "KR-J-2")
    assert second["gtins"] == []
    assert second["certification_body_id"] is None
    assert history(client, "KR-J-2") == [("active", "2024-01-01", "issued")]


def test_import_writes_one_audit_event_with_the_counts(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=csv_bytes([row(1), row(2)]), headers={**operator, **CSV}))
    events = client.get(
        "/v1/audit-events",
        params={"entity_type": "certificate", "entity_id": "korea-eco-label"},
        headers=operator,
    ).json()["items"]
    assert [e["operation"] for e in events] == ["certificate.import"]
    assert events[0]["after"]["created"] == 2
    assert events[0]["after"]["rows"] == 2


# All or nothing


def test_one_bad_row_rejects_the_file_and_names_the_row(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [row(1), row(2), row(3, valid_to="2020-01-01"), row(4)]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert bad_rows(response) == [(3, "valid_to")]
    body = problem(response, 422)
    assert body["invalid_rows"] == 1
    assert body["rows"] == 4
    assert "nothing was imported" in body["detail"]
    assert numbers(client) == []


def test_every_bad_row_is_reported_not_just_the_first(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [
        row(1, valid_from="2023-02-30"),
        row(2),
        row(3, category_code="office-paper"),  # Eco Mark's category, not Korea Eco-label's
        row(4, hs_codes="32A8"),
        row(5, gtins="4006381333932"),
        row(6, holder_economy="XX"),
        row(7, certification_body_id="no-such-body"),
        row(8, hs_codes="4802"),  # well formed, outside the category's HS codes
        row(9, status="revoked", status_effective_date="2024-01-01"),
        row(10, holder_name="  "),
    ]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert bad_rows(response) == [
        (1, "valid_from"),
        (3, "category_code"),
        (4, "hs_codes"),
        (5, "gtins"),
        (6, "holder_economy"),
        (7, "certification_body_id"),
        (8, "hs_codes"),
        (9, "status"),
        (10, "holder_name"),
    ]
    assert numbers(client) == []


def test_a_status_before_the_certificate_starts_is_refused_naming_the_field(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [
        row(1, status="suspended", status_effective_date="2022-12-31"),
        row(2, status="withdrawn", status_effective_date="2022-06-01"),
        row(3, status="active", status_effective_date="2022-12-31"),
        row(4, status="suspended", status_effective_date="2023-01-01"),
    ]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert bad_rows(response) == [
        (1, "status_effective_date"),
        (2, "status_effective_date"),
        (3, "status_effective_date"),
    ]
    message = problem(response, 422)["errors"][0]["message"]
    assert "valid_from 2023-01-01" in message
    assert numbers(client) == []

    record = {**row(1), "gtins": [gtin(1)], "hs_codes": ["320810"]}
    for name in ("status", "status_effective_date", "status_reason"):
        del record[name]
    record["status_events"] = [
        {"status": "active", "effective_date": "2023-01-01", "reason": "issued"},
        {"status": "suspended", "effective_date": "2022-12-31", "reason": "audit"},
    ]
    response = client.post(IMPORT, content=jsonl_bytes([record]), headers={**operator, **JSONL})
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "rows", 1, "status_events", 1, "effective_date"]]
    assert numbers(client) == []


def test_gtins_of_any_form_are_imported_in_their_14_digit_form(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [row(1, gtins="96385074;614141000036"), row(2, gtins="0" + gtin(2))]
    imported(client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV}))
    assert certificate(client, "KR-IMP-0001")["gtins"] == ["00000096385074", "00614141000036"]
    assert certificate(client, "KR-IMP-0002")["gtins"] == ["0" + gtin(2)]
    found = client.get("/v1/certificates", params={"gtin": gtin(2)}).json()["items"]
    assert [c["number"] for c in found] == ["KR-IMP-0002"]
    twice = [row(3, gtins=f"{gtin(3)};0{gtin(3)}")]
    response = client.post(IMPORT, content=csv_bytes(twice), headers={**operator, **CSV})
    assert bad_rows(response) == [(1, "gtins")]


def test_duplicate_numbers_inside_one_file_are_rejected(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [row(1), row(2), row(1, holder_name="Someone else")]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert bad_rows(response) == [(3, "number")]
    assert "row 1" in problem(response, 422)["errors"][0]["message"]
    assert numbers(client) == []


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ((*HEADER, "colour"), "colour"),
        (tuple(h for h in HEADER if h != "valid_to"), "valid_to"),
    ],
    ids=["unknown column", "missing column"],
)
def test_wrong_columns_are_rejected_naming_the_column(
    client: TestClient, operator: dict[str, str], header: tuple[str, ...], field: str
) -> None:
    arrange(client, operator)
    response = client.post(
        IMPORT, content=csv_bytes([row(1, colour="red")], header), headers={**operator, **CSV}
    )
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "columns", field]]
    assert numbers(client) == []


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        (b"", CSV, "empty"),
        (csv_bytes([]), CSV, "no certificates"),
        (b"", JSONL, "no certificates"),
    ],
    ids=["empty csv", "header only", "empty jsonl"],
)
def test_a_file_without_certificates_is_rejected(
    client: TestClient,
    operator: dict[str, str],
    content: bytes,
    headers: dict[str, str],
    message: str,
) -> None:
    arrange(client, operator)
    response = client.post(IMPORT, content=content, headers={**operator, **headers})
    assert message in problem(response, 422)["detail"]


def test_a_file_that_is_not_utf8_is_rejected_at_the_row_it_breaks(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    content = csv_bytes([row(1), row(2, holder_name="Hanbit Ü")]).replace(
        "Ü".encode(), "Ü".encode("latin-1")
    )
    response = client.post(IMPORT, content=content, headers={**operator, **CSV})
    errors = problem(response, 422)["errors"]
    assert errors[0]["loc"] == ["body", "rows", 2]
    assert "UTF-8" in errors[0]["message"]
    assert numbers(client) == []


def test_bad_jsonl_lines_are_reported_by_row(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    good = {k: v for k, v in row(1).items() if v != ""}
    good["gtins"] = [gtin(1)]
    good["hs_codes"] = ["3208"]
    content = (
        jsonl_bytes([good])
        + b"not json\n"
        + jsonl_bytes([{**good, "number": "KR-2", "gtins": "x"}, {**good, "colour": "red"}])
    )
    response = client.post(IMPORT, content=content, headers={**operator, **JSONL})
    assert bad_rows(response) == [(2, ""), (3, "gtins"), (4, "")]
    assert numbers(client) == []


def test_the_error_list_is_capped_and_says_how_many_more(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [row(n, valid_from="not a date") for n in range(1, 1201)]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    body = problem(response, 422)
    assert len(body["errors"]) == 1000
    assert body["error_count"] == 1200
    assert body["errors_not_listed"] == 200
    assert "200 more" in body["detail"]


# Idempotence and updates


def test_sending_the_same_file_twice_changes_nothing_the_second_time(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    content = csv_bytes(
        [
            row(1),
            row(2, status="withdrawn", status_effective_date="2024-05-01", status_reason="fraud"),
        ]
    )
    assert (
        imported(client.post(IMPORT, content=content, headers={**operator, **CSV}))["created"] == 2
    )
    before = [certificate(client, n) for n in ("KR-IMP-0001", "KR-IMP-0002")]
    again = client.post(IMPORT, content=content, headers={**operator, **CSV})
    assert imported(again) == {"created": 0, "updated": 0, "unchanged": 2, "rows": 2}
    assert [certificate(client, n) for n in ("KR-IMP-0001", "KR-IMP-0002")] == before


def test_a_status_change_in_a_reimport_appends_exactly_one_event(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=csv_bytes([row(1), row(2)]), headers={**operator, **CSV}))
    changed = [
        row(1, status="suspended", status_effective_date="2024-06-01", status_reason="audit"),
        row(2, status="active", status_effective_date="2024-06-01"),  # already active
    ]
    response = client.post(IMPORT, content=csv_bytes(changed), headers={**operator, **CSV})
    assert imported(response) == {"created": 0, "updated": 1, "unchanged": 1, "rows": 2}
    assert history(client, "KR-IMP-0001") == [
        ("active", "2023-01-01", "issued"),
        ("suspended", "2024-06-01", "audit"),
    ]
    assert certificate(client, "KR-IMP-0001")["version"] == 2
    assert history(client, "KR-IMP-0002") == [("active", "2023-01-01", "issued")]
    assert certificate(client, "KR-IMP-0002")["version"] == 1
    again = client.post(IMPORT, content=csv_bytes(changed), headers={**operator, **CSV})
    assert imported(again)["unchanged"] == 2
    assert len(history(client, "KR-IMP-0001")) == 2


def test_a_changed_row_updates_the_certificate_and_its_look_ups(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=csv_bytes([row(1)]), headers={**operator, **CSV}))
    response = client.post(
        IMPORT,
        content=csv_bytes([row(1, product_name="Satin enamel", gtins=gtin(99), hs_codes="3209")]),
        headers={**operator, **CSV},
    )
    assert imported(response) == {"created": 0, "updated": 1, "unchanged": 0, "rows": 1}
    saved = certificate(client, "KR-IMP-0001")
    assert (saved["product_name"], saved["gtins"], saved["hs_codes"]) == (
        "Satin enamel",
        ["0" + gtin(99)],
        ["3209"],
    )
    assert saved["version"] == 2
    assert client.get("/v1/certificates", params={"gtin": gtin(1)}).json()["items"] == []
    found = client.get("/v1/certificates", params={"gtin": gtin(99)}).json()["items"]
    assert [c["number"] for c in found] == ["KR-IMP-0001"]


def test_a_reimport_never_rewrites_history(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    record = {k: v for k, v in row(1).items() if v != ""}
    record["gtins"], record["hs_codes"] = [], []
    record["status_events"] = [
        {"status": "active", "effective_date": "2023-01-01", "reason": "issued"},
        {"status": "withdrawn", "effective_date": "2024-01-01", "reason": "fraud"},
    ]
    imported(client.post(IMPORT, content=jsonl_bytes([record]), headers={**operator, **JSONL}))
    record["status_events"] = record["status_events"][:1]
    response = client.post(IMPORT, content=jsonl_bytes([record]), headers={**operator, **JSONL})
    assert bad_rows(response) == [(1, "status_events")]
    reinstated = row(1, status="active", status_effective_date="2024-06-01")
    response = client.post(IMPORT, content=csv_bytes([reinstated]), headers={**operator, **CSV})
    assert bad_rows(response) == [(1, "status")]
    assert "withdrawal is final" in problem(response, 422)["errors"][0]["message"]
    assert len(history(client, "KR-IMP-0001")) == 2


# The round trip


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imported_into_an_empty_registry_gives_the_same_registry(
    client: TestClient, operator: dict[str, str], connection: Connection, fmt: str
) -> None:
    arrange(client, operator)
    before_certificates = connection.begin_nested()
    rows = [
        row(1, holder_name='Quote " and, comma', model="line\nbreak"),
        row(2, gtins=f"{gtin(2)};{gtin(3)}", brand=""),
        row(3, status="suspended", status_effective_date="2024-02-01", status_reason="audit"),
    ]
    imported(client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV}))
    for event in (
        {"status": "active", "effective_date": "2024-04-01", "reason": "audit; passed"},
        {"status": "withdrawn", "effective_date": "2025-01-01", "reason": "holder closed"},
    ):
        created(client.post(f"{KR}/KR-IMP-0003/status-events", json=event, headers=operator))
    exported = client.get(KR, params={"format": fmt})
    assert exported.status_code == 200
    expected_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
    assert exported.headers["content-type"].startswith(expected_type)
    original = registry_state(client)
    before_certificates.rollback()
    assert numbers(client) == []

    media = CSV if fmt == "csv" else JSONL
    response = client.post(IMPORT, content=exported.content, headers={**operator, **media})
    assert imported(response) == {"created": 3, "updated": 0, "unchanged": 0, "rows": 3}
    assert registry_state(client) == original
    assert len(original["KR-IMP-0003"]["status_events"]) == 4
    # And the export of the re-imported registry is the same file.
    assert client.get(KR, params={"format": fmt}).content == exported.content


def registry_state(client: TestClient) -> dict[str, dict[str, Any]]:
    state = {}
    for number in numbers(client):
        c = certificate(client, number)
        c.pop("version")
        c["status_events"] = [
            (e["status"], e["effective_date"], e["reason"]) for e in c["status_events"]
        ]
        state[number] = c
    return state


def test_export_is_csv_with_the_documented_columns(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=csv_bytes([row(1), row(2)]), headers={**operator, **CSV}))
    response = client.get(KR, params={"format": "csv"})
    records = list(csv.DictReader(io.StringIO(response.text)))
    assert list(records[0]) == [*HEADER, "status_events"]
    assert [r["number"] for r in records] == ["KR-IMP-0001", "KR-IMP-0002"]
    assert records[0]["hs_codes"] == "320810;320890"
    assert records[0]["status"] == "active"
    assert json.loads(records[0]["status_events"]) == [
        {"status": "active", "effective_date": "2023-01-01", "reason": "issued"}
    ]
    # Without format the answer is still the JSON page.
    page = client.get(KR).json()
    assert [c["number"] for c in page["items"]] == ["KR-IMP-0001", "KR-IMP-0002"]


def test_export_of_an_unknown_scheme_is_404(client: TestClient) -> None:
    problem(client.get("/v1/schemes/nope/certificates", params={"format": "csv"}), 404)


# Access and protocol


def test_import_without_a_key_is_401(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    problem(client.post(IMPORT, content=csv_bytes([row(1)]), headers=CSV), 401)
    assert numbers(client) == []


def test_a_certification_body_imports_its_own_certificates_only(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    arrange(client, operator)
    created(
        client.post(
            "/v1/certification-bodies",
            json=body_body(id="other-body", name="Other Certification"),
            headers=operator,
        )
    )
    own = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    other = make_key(session, Role.CERTIFICATION_BODY, body="other-body")
    # Its own rows: the body column may be left empty.
    response = client.post(
        IMPORT,
        content=csv_bytes([row(1, certification_body_id=""), row(2)]),
        headers={**own, **CSV},
    )
    assert imported(response)["created"] == 2
    assert certificate(client, "KR-IMP-0001")["certification_body_id"] == "kr-test-body"
    # Another body may neither issue for kr-test-body nor change its certificates.
    for rows in ([row(3)], [row(1, certification_body_id="other-body")]):
        response = client.post(IMPORT, content=csv_bytes(rows), headers={**other, **CSV})
        assert "row 1" in problem(response, 403)["detail"]
    assert numbers(client) == ["KR-IMP-0001", "KR-IMP-0002"]
    # A scheme operator does not import certificates.
    scheme_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    response = client.post(IMPORT, content=csv_bytes([row(4)]), headers={**scheme_operator, **CSV})
    problem(response, 403)


def test_import_needs_csv_or_json_lines(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    response = client.post(IMPORT, content=b"{}", headers={**operator, "Content-Type": "text/xml"})
    problem(response, 415)
    response = client.post(
        IMPORT, content=b"{}", headers={**operator, "Content-Type": "application/json"}
    )
    problem(response, 415)


def test_import_into_an_unknown_scheme_is_404(client: TestClient, operator: dict[str, str]) -> None:
    response = client.post(
        "/v1/schemes/nope/certificates/import",
        content=csv_bytes([row(1)]),
        headers={**operator, **CSV},
    )
    problem(response, 404)


def test_nul_character_in_a_row_is_a_row_error_not_a_server_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    text = (
        "number,category_code,holder_name,holder_economy,product_name,valid_from,valid_to\n"
        "KR-0100,paints,Bad\x00Holder,KR,Enamel,2023-01-01,2027-12-31\n"
    )
    response = client.post(
        "/v1/schemes/korea-eco-label/certificates/import",
        content=text.encode(),
        headers={**operator, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "rows.1.holder_name"
    assert client.get("/v1/schemes/korea-eco-label/certificates/KR-0100").status_code == 404


def test_an_imported_number_cannot_end_in_a_sub_resource_segment(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [
        row(1, number="FR/044/017"),
        row(2, number="FR/044/018/markets"),
        row(3, number="KR-3/status-events"),
    ]
    response = client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV})
    assert bad_rows(response) == [(2, "number"), (3, "number")]
    assert numbers(client) == []
