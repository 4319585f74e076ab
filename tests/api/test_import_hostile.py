"""Hostile clients of the import and the export: formula cells, deep nesting, odd numbers,
bodies without line breaks, huge headers; and the audit trail of an import."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from tests.api.data import problem
from tests.api.test_import_export import (
    CSV,
    HEADER,
    IMPORT,
    JSONL,
    KR,
    arrange,
    bad_rows,
    certificate,
    csv_bytes,
    gtin,
    imported,
    jsonl_bytes,
    numbers,
    registry_state,
    row,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def record(n: int, **overrides: Any) -> dict[str, Any]:
    """One JSON Lines certificate KR-H-<n>."""
    values: dict[str, Any] = {
        "number": f"KR-H-{n}",
        "category_code": "paints",
        "holder_name": f"Holder {n}",
        "holder_economy": "KR",
        "product_name": f"Enamel {n}",
        "certification_body_id": "kr-test-body",
        "valid_from": "2023-01-01",
        "valid_to": "2027-12-31",
    }
    values.update(overrides)
    return values


# CSV formula injection


HOSTILE = [
    record(
        1,
        number="=1+1",
        holder_name='=HYPERLINK("http://example.invalid","click")',
        product_name="+cmd|' /C calc'!A0",
        brand="-2+3",
        model="@SUM(A1:A9)",
    ),
    record(2, brand="\tTabbed", model="\rReturned", product_name="-minus"),
    record(
        3,
        holder_name="'Apostrophe Ltd",
        product_name="''two quotes",
        model="'=quoted formula",
        status_events=[
            {"status": "active", "effective_date": "2023-01-01", "reason": "issued"},
            {"status": "suspended", "effective_date": "2024-01-01", "reason": "=cmd()"},
        ],
    ),
    record(4, gtins=[gtin(4)], hs_codes=["3208"], brand="plain"),
]


def test_csv_export_neutralizes_formula_cells_and_reimports_them_exactly(
    client: TestClient, operator: dict[str, str], connection: Connection
) -> None:
    arrange(client, operator)
    before = connection.begin_nested()
    imported(client.post(IMPORT, content=jsonl_bytes(HOSTILE), headers={**operator, **JSONL}))
    original = registry_state(client)
    exported = client.get(KR, params={"format": "csv"})
    assert exported.status_code == 200
    cells = [c for r in csv.reader(io.StringIO(exported.text, newline="")) for c in r]
    dangerous = [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert dangerous == []
    records = {r["number"]: r for r in csv.DictReader(io.StringIO(exported.text, newline=""))}
    assert "'=1+1" in records
    assert records["'=1+1"]["holder_name"].startswith("'=HYPERLINK")
    assert records["KR-H-2"]["brand"] == "'\tTabbed"
    assert records["KR-H-2"]["model"] == "'\rReturned"
    # A value that really starts with a quote gets one more, so it comes back as it was.
    assert records["KR-H-3"]["holder_name"] == "''Apostrophe Ltd"
    assert records["KR-H-3"]["product_name"] == "'''two quotes"
    assert records["KR-H-4"]["brand"] == "plain"
    before.rollback()
    assert numbers(client) == []

    response = client.post(IMPORT, content=exported.content, headers={**operator, **CSV})
    assert imported(response) == {"created": 4, "updated": 0, "unchanged": 0, "rows": 4}
    assert registry_state(client) == original
    assert certificate(client, "KR-H-3")["holder_name"] == "'Apostrophe Ltd"
    assert client.get(KR, params={"format": "csv"}).content == exported.content
    # And importing the export back into the registry it came from changes nothing.
    response = client.post(IMPORT, content=exported.content, headers={**operator, **CSV})
    assert imported(response)["unchanged"] == 4


def test_jsonl_export_is_not_neutralized(client: TestClient, operator: dict[str, str]) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=jsonl_bytes(HOSTILE[:1]), headers={**operator, **JSONL}))
    exported = client.get(KR, params={"format": "jsonl"})
    assert json.loads(exported.text.splitlines()[0])["number"] == "=1+1"


def test_a_hand_written_csv_cell_with_a_leading_quote_loses_that_quote(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    content = csv_bytes([row(1, holder_name="'=1+2", product_name="''Quoted")])
    imported(client.post(IMPORT, content=content, headers={**operator, **CSV}))
    saved = certificate(client, "KR-IMP-0001")
    assert (saved["holder_name"], saved["product_name"]) == ("=1+2", "'Quoted")


# Rows that used to answer 500


def test_a_jsonl_row_nested_thousands_deep_is_a_row_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    deep = b'{"number": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    response = client.post(
        IMPORT, content=jsonl_bytes([record(1)]) + deep, headers={**operator, **JSONL}
    )
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "rows", 2]]
    assert "nested too deeply" in errors[0]["message"]
    assert numbers(client) == []


def test_a_csv_status_events_cell_nested_thousands_deep_is_a_row_error(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    content = csv_bytes(
        [row(1, status_events="[" * 50_000 + "]" * 50_000)], (*HEADER, "status_events")
    )
    response = client.post(IMPORT, content=content, headers={**operator, **CSV})
    assert bad_rows(response) == [(1, "status_events")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_nul_character_in_a_status_event_reason_is_a_row_error(
    client: TestClient, operator: dict[str, str], fmt: str
) -> None:
    arrange(client, operator)
    events = [
        {"status": "active", "effective_date": "2023-01-01", "reason": "issued"},
        {"status": "suspended", "effective_date": "2024-01-01", "reason": "bad\x00reason"},
    ]
    if fmt == "csv":
        content = csv_bytes([row(1, status_events=json.dumps(events))], (*HEADER, "status_events"))
        headers = CSV
    else:
        content = jsonl_bytes([record(1, status_events=events)])
        headers = JSONL
    response = client.post(IMPORT, content=content, headers={**operator, **headers})
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "rows", 1, "status_events", 1]]
    assert "NUL" in errors[0]["message"]
    assert numbers(client) == []


# Certificate numbers: one rule for the API and the import

BAD_NUMBERS = {
    "trailing newline": "KR-1\n",
    "zero-width space inside": "KR\u200b-1",
    "zero-width space first": "\u200bKR-1",
    "byte order mark inside": "KR-\ufeff1",
    "right-to-left override": "KR-\u202e1",
    "tab inside": "KR\t1",
    "carriage return inside": "KR\r1",
    "space at the end": "KR-1 ",
    "101 characters": "N" * 101,
}


@pytest.mark.parametrize("name", sorted(BAD_NUMBERS))
def test_a_number_the_api_refuses_the_import_refuses_too(
    client: TestClient, operator: dict[str, str], name: str
) -> None:
    arrange(client, operator)
    number = BAD_NUMBERS[name]
    body = {**record(1, number=number), "gtins": [], "hs_codes": []}
    response = client.post(KR, json=body, headers=operator)
    errors = problem(response, 422)["errors"]
    assert [e["loc"] for e in errors] == [["body", "number"]]
    assert "pattern" not in errors[0]["message"]
    assert "\\S" not in errors[0]["message"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerows([HEADER, [row(1, number=number)[h] for h in HEADER]])
    for content, media in (
        (jsonl_bytes([record(1, number=number)]), JSONL),
        (out.getvalue().encode(), CSV),
    ):
        response = client.post(IMPORT, content=content, headers={**operator, **media})
        assert bad_rows(response) == [(1, "number")], media
    assert numbers(client) == []


@pytest.mark.parametrize("number", ["FR/044/017", "KR 12-3", "Ü-1", "株式-7", "=1", "N" * 100])
def test_a_number_the_api_accepts_the_import_accepts_too(
    client: TestClient, operator: dict[str, str], connection: Connection, number: str
) -> None:
    arrange(client, operator)
    attempt = connection.begin_nested()
    body = {**record(1, number=number), "gtins": [], "hs_codes": []}
    assert client.post(KR, json=body, headers=operator).status_code == 201
    attempt.rollback()
    response = client.post(
        IMPORT, content=jsonl_bytes([record(1, number=number)]), headers={**operator, **JSONL}
    )
    assert imported(response)["created"] == 1


# Bodies sent without line breaks, huge headers


def test_a_csv_body_without_line_breaks_says_so(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    # What `curl -d @file` sends: the file with its line breaks removed.
    content = csv_bytes([row(n) for n in range(1, 3001)]).replace(b"\n", b"")
    response = client.post(IMPORT, content=content, headers={**operator, **CSV})
    body = problem(response, 422)
    assert "no line break" in body["detail"]
    assert "--data-binary" in body["detail"]
    assert len(body["detail"]) < 1000
    assert len(body["errors"]) <= 1000
    assert all("COLUMNS" not in e["message"] for e in body["errors"])
    assert len(response.content) < 300_000
    assert numbers(client) == []


def test_a_jsonl_body_without_line_breaks_says_so(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    content = jsonl_bytes([record(n) for n in range(1, 4)]).replace(b"\n", b"")
    response = client.post(IMPORT, content=content, headers={**operator, **JSONL})
    body = problem(response, 422)
    assert "no line break" in body["detail"]
    assert "--data-binary" in body["detail"]
    assert numbers(client) == []


def test_a_header_with_thousands_of_unknown_columns_lists_1000_and_counts_them(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    header = (*HEADER, *(f"extra_{n}" for n in range(5000)))
    content = csv_bytes([row(1)], header)
    response = client.post(IMPORT, content=content, headers={**operator, **CSV})
    body = problem(response, 422)
    assert len(body["errors"]) == 1000
    assert body["error_count"] == 5000
    assert body["errors_not_listed"] == 4000
    assert len(body["detail"]) < 1000
    assert body["errors"][0]["loc"] == ["body", "columns", "extra_0"]
    message = body["errors"][0]["message"]
    assert "COLUMNS" not in message
    assert "number" in message  # it names the columns an import takes
    assert "line break" not in body["detail"]


# The audit trail of an import


def test_the_audit_trail_says_which_certificates_an_import_changed(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    imported(client.post(IMPORT, content=csv_bytes([row(1), row(2)]), headers={**operator, **CSV}))
    second = csv_bytes(
        [
            row(1),
            row(
                2, holder_name="New holder", status="suspended", status_effective_date="2024-02-01"
            ),
            row(3),
        ]
    )
    assert imported(client.post(IMPORT, content=second, headers={**operator, **CSV})) == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "rows": 3,
    }

    def trail(entity_id: str) -> list[dict[str, Any]]:
        response = client.get(
            "/v1/audit-events",
            params={"entity_type": "certificate", "entity_id": entity_id},
            headers=operator,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    summaries = trail("korea-eco-label")
    assert [e["operation"] for e in summaries] == ["certificate.import"] * 2
    assert summaries[1]["after"]["updated"] == 1
    # Each changed certificate has its own event, with what it was and what it became.
    first = trail("korea-eco-label/KR-IMP-0001")
    assert [e["operation"] for e in first] == ["certificate.import"]  # unchanged the 2nd time
    assert first[0]["before"] is None
    assert first[0]["after"] == {
        "scheme_id": "korea-eco-label",
        "number": "KR-IMP-0001",
        "version": 1,
    }
    changed = trail("korea-eco-label/KR-IMP-0002")
    assert len(changed) == 2
    assert changed[1]["before"]["holder_name"] == "Holder 2"
    assert changed[1]["before"]["version"] == 1
    assert changed[1]["after"]["holder_name"] == "New holder"
    assert changed[1]["after"]["version"] == 2
    assert changed[1]["after"]["gtins"] == [f"0{gtin(2)}"]  # stored in 14 digits
    assert changed[1]["after"]["valid_to"] == "2027-12-31"
    assert changed[1]["after"]["status_events_added"] == [
        {"status": "suspended", "effective_date": "2024-02-01", "reason": "imported"}
    ]
    created = trail("korea-eco-label/KR-IMP-0003")
    assert [(e["before"], e["after"]["number"]) for e in created] == [(None, "KR-IMP-0003")]


def test_error_messages_quote_a_long_bad_value_cut_short(
    client: TestClient, operator: dict[str, str]
) -> None:
    arrange(client, operator)
    rows = [
        record(1, valid_from="9" * 100_000),
        record(2, status_events=[{"status": "x" * 100_000, "effective_date": [[1] * 50_000]}]),
        {**record(3), **{f"extra_{n}": 1 for n in range(5000)}},
    ]
    response = client.post(IMPORT, content=jsonl_bytes(rows), headers={**operator, **JSONL})
    errors = problem(response, 422)["errors"]
    assert [e["loc"][2] for e in errors] == [1, 2, 2, 2, 3]
    assert all(len(e["message"]) < 400 for e in errors), [len(e["message"]) for e in errors]
    assert "4990 more unknown fields" in errors[-1]["message"]
