"""Certificates, their status history and the search across schemes, through HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from tests.api.data import (
    body_body,
    category_body,
    certificate_body,
    created,
    fields,
    if_match,
    problem,
    setup_registry,
)
from tests.conftest import make_key

KR = "/v1/schemes/korea-eco-label/certificates"
JP = "/v1/schemes/japan-eco-mark/certificates"
SLASHED = f"{KR}/FR/044/017"


def numbers(page: dict[str, Any]) -> list[str]:
    return [c["number"] for c in page["items"]]


def search(client: TestClient, **params: str) -> list[str]:
    response = client.get("/v1/certificates", params=params)
    assert response.status_code == 200, response.text
    return numbers(response.json())


def add_second_body(client: TestClient, operator: dict[str, str]) -> None:
    """A second body, also authorized for Korea Eco-label, with its own certificate KR-0002."""
    created(
        client.post(
            "/v1/certification-bodies",
            json=body_body(id="other-body", name="Other Certification"),
            headers=operator,
        )
    )
    created(
        client.post(
            KR,
            json=certificate_body(number="KR-0002", certification_body_id="other-body"),
            headers=operator,
        )
    )


# Registration and reading


def test_registered_certificate_is_readable_at_its_location_with_an_etag(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(KR, json=certificate_body(number="FR/044/017"), headers=operator)
    body = created(response)
    assert response.headers["Location"] == SLASHED
    assert response.headers["ETag"] == '"1"'
    assert body["number"] == "FR/044/017"
    assert body["scheme_id"] == "korea-eco-label"
    assert body["hs_codes"] == ["320810"]
    assert body["gtins"] == ["04006381333931"]  # GS1's 14-digit form
    assert body["status"] == "active"
    assert [(e["status"], e["effective_date"]) for e in body["status_events"]] == [
        ("active", "2023-01-01")
    ]
    got = client.get(response.headers["Location"])
    assert got.status_code == 200
    assert got.headers["ETag"] == '"1"'
    assert got.json() == body


def test_certificate_number_with_slashes_works_for_patch_and_status_events(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    created(client.post(KR, json=certificate_body(number="FR/044/017"), headers=operator))
    patched = client.patch(
        SLASHED, json={"product_name": "Satin enamel"}, headers=if_match(operator, 1)
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["number"] == "FR/044/017"
    event = client.post(
        f"{SLASHED}/status-events",
        json={"status": "suspended", "effective_date": "2024-02-01", "reason": "audit"},
        headers=operator,
    )
    assert created(event)["status"] == "suspended"
    assert event.headers["Location"] == f"{SLASHED}/status-events"
    history = client.get(f"{SLASHED}/status-events").json()["items"]
    assert [e["status"] for e in history] == ["active", "suspended"]
    got = client.get(SLASHED).json()
    assert got["product_name"] == "Satin enamel"
    assert got["status"] == "suspended"
    # The other certificate of the scheme is untouched.
    assert client.get(f"{KR}/KR-0001").json()["status"] == "active"


def test_location_of_a_number_with_spaces_and_hash_leads_to_the_certificate(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(KR, json=certificate_body(number="No. 7 #1"), headers=operator)
    created(response)
    got = client.get(response.headers["Location"])
    assert got.status_code == 200, got.text
    assert got.json()["number"] == "No. 7 #1"
    event = post_event(client, response.headers["Location"], operator, "suspended", "2024-01-01")
    created(event)
    assert client.get(event.headers["Location"]).json()["items"][-1]["status"] == "suspended"


def test_unknown_certificate_is_not_found(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    problem(client.get(f"{KR}/FR/044/017"), 404)
    problem(client.get(f"{KR}/FR/044/017/status-events"), 404)


def test_certificates_of_a_scheme_are_listed_in_pages_in_registration_order(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    for number in ("KR-0002", "KR-0003", "KR-0004", "KR-0005"):
        created(client.post(KR, json=certificate_body(number=number), headers=operator))
    created(client.post(JP, json=certificate_body(number="JP-0001"), headers=operator))
    first = client.get(KR, params={"limit": 2}).json()
    assert numbers(first) == ["KR-0001", "KR-0002"]
    second = client.get(KR, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert numbers(second) == ["KR-0003", "KR-0004"]
    last = client.get(KR, params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert numbers(last) == ["KR-0005"]
    assert last["next_cursor"] is None
    assert numbers(client.get(JP).json()) == ["JP-0001"]


def test_listing_certificates_of_an_unknown_scheme_is_not_found(client: TestClient) -> None:
    problem(client.get("/v1/schemes/nope/certificates"), 404)


# Search across schemes


def test_search_by_hs_code_matches_prefixes_either_way(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)  # KR-0001 has HS code 320810
    created(
        client.post(
            KR, json=certificate_body(number="KR-3209", hs_codes=["3209"]), headers=operator
        )
    )
    assert search(client, hs_code="3208") == ["KR-0001"]
    assert search(client, hs_code="32081099") == ["KR-0001"]
    assert search(client, hs_code="320810") == ["KR-0001"]
    assert search(client, hs_code="320820") == []
    assert search(client, hs_code="32") == ["KR-0001", "KR-3209"]


def test_certificate_without_hs_codes_is_found_by_its_categorys_codes(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)  # the paints category covers 3208 and 3209
    created(client.post(KR, json=certificate_body(number="KR-ALL", hs_codes=[]), headers=operator))
    assert search(client, hs_code="320990") == ["KR-ALL"]
    assert search(client, hs_code="3208") == ["KR-0001", "KR-ALL"]
    assert search(client, hs_code="4802") == []


def test_search_by_holder_matches_part_of_the_name_in_any_case(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)  # KR-0001 is held by "Hanbit Coatings"
    created(
        client.post(
            JP,
            json=certificate_body(number="JP-0001", holder_name="HANBIT Japan KK"),
            headers=operator,
        )
    )
    created(
        client.post(
            KR,
            json=certificate_body(number="KR-0002", holder_name="Daehan Paint"),
            headers=operator,
        )
    )
    assert search(client, holder="hanbit") == ["KR-0001", "JP-0001"]
    assert search(client, holder="COATINGS") == ["KR-0001"]
    assert search(client, holder="bit co") == ["KR-0001"]
    assert search(client, holder="Nippon") == []


def test_holder_search_treats_wildcard_characters_literally(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    created(
        client.post(
            KR, json=certificate_body(number="KR-0002", holder_name="100% Green"), headers=operator
        )
    )
    assert search(client, holder="%") == ["KR-0002"]
    assert search(client, holder="_") == []


def test_holder_search_folds_case_beyond_ascii(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    created(
        client.post(
            KR,
            json=certificate_body(number="KR-0002", holder_name="ÖKO Farben GmbH"),
            headers=operator,
        )
    )
    assert search(client, holder="öko") == ["KR-0002"]
    assert search(client, holder="ÖKO FARBEN") == ["KR-0002"]


def test_search_by_gtin_and_scheme(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)  # KR-0001 carries GTIN 4006381333931
    created(client.post(JP, json=certificate_body(number="JP-0001"), headers=operator))
    created(
        client.post(
            KR, json=certificate_body(number="KR-0002", gtins=["5901234123457"]), headers=operator
        )
    )
    assert search(client, gtin="4006381333931") == ["KR-0001", "JP-0001"]
    assert search(client, gtin="5901234123457") == ["KR-0002"]
    assert search(client, gtin="4006381333931", scheme="japan-eco-mark") == ["JP-0001"]
    assert search(client, scheme="korea-eco-label") == ["KR-0001", "KR-0002"]
    assert search(client, gtin="96385074") == []


def test_gtins_are_stored_in_their_14_digit_form_and_found_by_any_form(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)  # KR-0001 carries GTIN 4006381333931 (GTIN-13)
    created(
        client.post(
            KR,
            json=certificate_body(
                number="KR-0002", gtins=["96385074", "614141000036", "00012345600012"]
            ),
            headers=operator,
        )
    )
    assert client.get(f"{KR}/KR-0001").json()["gtins"] == ["04006381333931"]
    assert client.get(f"{KR}/KR-0002").json()["gtins"] == [
        "00000096385074",
        "00614141000036",
        "00012345600012",
    ]
    assert search(client, gtin="04006381333931") == ["KR-0001"]
    assert search(client, gtin="4006381333931") == ["KR-0001"]
    assert search(client, gtin="96385074") == ["KR-0002"]
    assert search(client, gtin="000096385074") == ["KR-0002"]
    assert search(client, gtin="614141000036") == ["KR-0002"]
    assert search(client, gtin="12345600012") == []  # 11 digits: no GTIN length


def test_one_gtin_in_two_forms_is_listed_twice(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(
        KR,
        json=certificate_body(number="KR-0002", gtins=["4006381333931", "04006381333931"]),
        headers=operator,
    )
    errors = problem(response, 422)["errors"]
    assert [e["field"] for e in errors] == ["gtins.1"]
    assert "listed twice" in errors[0]["message"]


def test_a_gtin_changed_by_patch_is_stored_in_its_14_digit_form(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.patch(
        f"{KR}/KR-0001", json={"gtins": ["5901234123457"]}, headers=if_match(operator, 1)
    )
    assert response.status_code == 200, response.text
    assert response.json()["gtins"] == ["05901234123457"]
    assert search(client, gtin="5901234123457") == ["KR-0001"]
    assert search(client, gtin="4006381333931") == []


def test_search_filters_combine(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    created(
        client.post(
            KR,
            json=certificate_body(
                number="KR-0002", holder_name="Hanbit Varnish", hs_codes=["3209"]
            ),
            headers=operator,
        )
    )
    assert search(client, holder="hanbit", hs_code="3209") == ["KR-0002"]
    assert search(client, holder="hanbit", hs_code="3209", scheme="japan-eco-mark") == []


def test_search_results_are_paginated(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    created(client.post(JP, json=certificate_body(number="JP-0001"), headers=operator))
    created(client.post(KR, json=certificate_body(number="KR-0002"), headers=operator))
    first = client.get("/v1/certificates", params={"hs_code": "3208", "limit": 2}).json()
    assert numbers(first) == ["KR-0001", "JP-0001"]
    rest = client.get(
        "/v1/certificates", params={"hs_code": "3208", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert numbers(rest) == ["KR-0002"]
    assert rest["next_cursor"] is None


def test_search_rejects_a_malformed_hs_code_and_an_unknown_scheme(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    assert fields(client.get("/v1/certificates", params={"hs_code": "32A8"})) == ["hs_code"]
    assert fields(client.get("/v1/certificates", params={"hs_code": "3"})) == ["hs_code"]
    problem(client.get("/v1/certificates", params={"scheme": "nope"}), 404)


# Updates


def test_certificate_update_needs_if_match_and_refuses_a_stale_version(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    problem(client.patch(url, json={"product_name": "Lost"}, headers=operator), 428)
    assert client.get(url).json()["product_name"] == "Water-based enamel"
    ok = client.patch(
        url, json={"product_name": "Gloss enamel", "brand": None}, headers=if_match(operator, 1)
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["product_name"] == "Gloss enamel"
    assert ok.json()["brand"] is None
    problem(client.patch(url, json={"product_name": "Lost"}, headers=if_match(operator, 1)), 412)
    got = client.get(url)
    assert got.headers["ETag"] == '"2"'
    assert got.json()["product_name"] == "Gloss enamel"


def test_update_of_hs_codes_changes_what_search_finds(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.patch(
        f"{KR}/KR-0001", json={"hs_codes": ["3209"]}, headers=if_match(operator, 1)
    )
    assert response.status_code == 200, response.text
    assert search(client, hs_code="3208") == []
    assert search(client, hs_code="3209") == ["KR-0001"]


def test_invalid_update_changes_nothing(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    before = client.get(url).json()
    outside = client.patch(url, json={"hs_codes": ["4802"]}, headers=if_match(operator, 1))
    assert fields(outside) == ["hs_codes.0"]
    inverted = client.patch(url, json={"valid_to": "2022-12-31"}, headers=if_match(operator, 1))
    assert fields(inverted) == ["valid_to"]
    null = client.patch(url, json={"holder_name": None}, headers=if_match(operator, 1))
    assert fields(null) == ["holder_name"]
    assert client.get(url).json() == before


def test_update_of_an_unknown_certificate_is_not_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.patch(f"{KR}/KR-9999", json={"brand": "X"}, headers=if_match(operator, 1))
    problem(response, 404)


# Status history


def post_event(
    client: TestClient, url: str, headers: dict[str, str], status: str, on: str | dt.date
) -> Any:
    return client.post(
        f"{url}/status-events",
        json={"status": status, "effective_date": str(on), "reason": f"{status} for the test"},
        headers=headers,
    )


def test_suspension_then_reinstatement_is_appended_and_shown_as_todays_status(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    suspended = post_event(client, url, operator, "suspended", "2024-02-01")
    assert created(suspended)["effective_date"] == "2024-02-01"
    assert suspended.headers["ETag"] == '"2"'
    assert client.get(url).json()["status"] == "suspended"
    created(post_event(client, url, operator, "active", "2024-03-01"))
    got = client.get(url)
    assert got.json()["status"] == "active"
    assert got.headers["ETag"] == '"3"'
    history = client.get(f"{url}/status-events").json()["items"]
    assert [(e["status"], e["effective_date"]) for e in history] == [
        ("active", "2023-01-01"),
        ("suspended", "2024-02-01"),
        ("active", "2024-03-01"),
    ]
    assert history[1]["reason"] == "suspended for the test"


def test_future_suspension_is_recorded_but_the_status_today_stays_active(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    later = dt.date.today() + dt.timedelta(days=60)
    created(post_event(client, url, operator, "suspended", later))
    got = client.get(url).json()
    assert got["status"] == "active"
    assert [e["status"] for e in got["status_events"]] == ["active", "suspended"]


def test_withdrawal_is_final(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    created(post_event(client, url, operator, "withdrawn", "2024-05-01"))
    assert client.get(url).json()["status"] == "withdrawn"
    problem(post_event(client, url, operator, "active", "2024-06-01"), 409)
    problem(post_event(client, url, operator, "suspended", "2024-05-01"), 409)
    got = client.get(url)
    assert got.json()["status"] == "withdrawn"
    assert got.headers["ETag"] == '"2"'
    assert [e["status"] for e in got.json()["status_events"]] == ["active", "withdrawn"]


def test_backdated_withdrawal_cannot_be_overridden_by_an_earlier_recorded_reinstatement(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    created(post_event(client, url, operator, "suspended", "2024-02-01"))
    created(post_event(client, url, operator, "active", "2024-06-01"))
    # A withdrawal effective before the reinstatement would leave the certificate active
    # today: the registry refuses it rather than let a withdrawn certificate come back.
    problem(post_event(client, url, operator, "withdrawn", "2024-03-01"), 409)
    got = client.get(url).json()
    assert got["status"] == "active"
    assert [e["status"] for e in got["status_events"]] == ["active", "suspended", "active"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"status": "expired", "effective_date": "2024-01-01", "reason": "x"}, "status"),
        ({"status": "suspended", "effective_date": "2024-01-01", "reason": "  "}, "reason"),
        ({"status": "suspended", "effective_date": "someday", "reason": "x"}, "effective_date"),
    ],
)
def test_invalid_status_event_is_rejected_and_not_recorded(
    client: TestClient, operator: dict[str, str], event: dict[str, str], field: str
) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    assert fields(client.post(f"{url}/status-events", json=event, headers=operator)) == [field]
    got = client.get(url).json()
    assert [e["status"] for e in got["status_events"]] == ["active"]
    assert got["version"] == 1


@pytest.mark.parametrize("status", ["suspended", "withdrawn", "active"])
def test_status_event_before_the_certificate_starts_is_refused_naming_the_field(
    client: TestClient, operator: dict[str, str], status: str
) -> None:
    setup_registry(client, operator)  # KR-0001 is valid from 2023-01-01
    url = f"{KR}/KR-0001"
    response = post_event(client, url, operator, status, "2022-12-31")
    errors = problem(response, 422)["errors"]
    assert [e["field"] for e in errors] == ["effective_date"]
    assert "valid_from 2023-01-01" in errors[0]["message"]
    got = client.get(url).json()
    assert [e["status"] for e in got["status_events"]] == ["active"]
    assert got["version"] == 1
    created(post_event(client, url, operator, status, "2023-01-01"))


def test_status_event_for_an_unknown_certificate_is_not_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    problem(post_event(client, f"{KR}/KR-9999", operator, "suspended", "2024-01-01"), 404)


def test_certificates_cannot_be_deleted(client: TestClient, operator: dict[str, str]) -> None:
    setup_registry(client, operator)
    url = f"{KR}/KR-0001"
    problem(client.delete(url, headers=operator), 405)
    problem(client.delete(SLASHED, headers=operator), 405)
    assert client.get(url).status_code == 200


# Bad input: rejected, naming the field, and nothing written


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"holder_economy": "XX"}, "holder_economy"),
        ({"holder_economy": "kr"}, "holder_economy"),
        ({"hs_codes": ["32A8"]}, "hs_codes.0"),
        ({"hs_codes": ["3208", "4802"]}, "hs_codes.1"),
        ({"gtins": ["4006381333932"]}, "gtins.0"),
        ({"valid_from": "2025-01-01", "valid_to": "2024-12-31"}, "valid_to"),
        ({"category_code": "office-paper"}, "category_code"),
        ({"category_code": "nope"}, "category_code"),
        ({"certification_body_id": "nobody"}, "certification_body_id"),
    ],
    ids=[
        "unknown-economy",
        "lower-case-economy",
        "malformed-hs-code",
        "hs-code-outside-category",
        "gtin-check-digit",
        "inverted-window",
        "category-of-another-scheme",
        "unknown-category",
        "unknown-body",
    ],
)
def test_certificate_with_bad_input_is_rejected_naming_the_field(
    client: TestClient, operator: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    setup_registry(client, operator)
    created(
        client.post(
            "/v1/schemes/japan-eco-mark/categories",
            json=category_body(code="office-paper", name="Office paper", hs_codes=["4802"]),
            headers=operator,
        )
    )
    response = client.post(
        KR, json=certificate_body(number="KR-0002", **overrides), headers=operator
    )
    assert fields(response) == [field]
    problem(client.get(f"{KR}/KR-0002"), 404)


def test_hs_code_outside_the_category_is_explained(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(
        KR, json=certificate_body(number="KR-0002", hs_codes=["4802"]), headers=operator
    )
    message = problem(response, 422)["errors"][0]["message"]
    assert "4802" in message
    assert "paints" in message


def test_duplicate_certificate_number_is_a_conflict(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(KR, json=certificate_body(holder_name="Someone Else"), headers=operator)
    problem(response, 409)
    got = client.get(f"{KR}/KR-0001")
    assert got.json()["holder_name"] == "Hanbit Coatings"
    assert got.headers["ETag"] == '"1"'


def test_same_number_under_another_scheme_is_a_different_certificate(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    created(client.post(JP, json=certificate_body(holder_name="Japan Holder"), headers=operator))
    assert client.get(f"{KR}/KR-0001").json()["holder_name"] == "Hanbit Coatings"
    assert client.get(f"{JP}/KR-0001").json()["holder_name"] == "Japan Holder"


def test_certificate_under_an_unknown_scheme_is_not_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    problem(
        client.post("/v1/schemes/nope/certificates", json=certificate_body(), headers=operator), 404
    )
    problem(client.get("/v1/schemes/nope/certificates/KR-0001"), 404)


# Access


def test_write_without_a_key_is_unauthenticated_and_writes_nothing(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(KR, json=certificate_body(number="KR-0002"))
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem(client.get(f"{KR}/KR-0002"), 404)
    problem(post_event(client, f"{KR}/KR-0001", {}, "withdrawn", "2024-01-01"), 401)
    wrong = {"Authorization": "Bearer erk_not-a-key"}
    problem(client.patch(f"{KR}/KR-0001", json={"brand": "X"}, headers=if_match(wrong, 1)), 401)
    assert client.get(f"{KR}/KR-0001").json()["status"] == "active"


def test_certification_body_registers_and_suspends_its_certificates_for_its_scheme(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    kr_body = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    payload = certificate_body(number="KR-0002")
    del payload["certification_body_id"]
    body = created(client.post(KR, json=payload, headers=kr_body))
    assert body["certification_body_id"] == "kr-test-body"
    created(post_event(client, f"{KR}/KR-0002", kr_body, "suspended", "2024-01-01"))
    ok = client.patch(f"{KR}/KR-0002", json={"model": "WB-2"}, headers=if_match(kr_body, 2))
    assert ok.status_code == 200, ok.text
    got = client.get(f"{KR}/KR-0002").json()
    assert (got["status"], got["model"]) == ("suspended", "WB-2")


def test_certification_body_may_not_register_for_a_scheme_it_is_not_authorized_for(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    kr_body = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    problem(client.post(JP, json=certificate_body(number="JP-0001"), headers=kr_body), 403)
    problem(client.get(f"{JP}/JP-0001"), 404)


def test_certification_body_may_not_register_in_another_bodys_name(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    created(
        client.post(
            "/v1/certification-bodies",
            json=body_body(id="other-body", name="Other Certification"),
            headers=operator,
        )
    )
    kr_body = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    response = client.post(
        KR,
        json=certificate_body(number="KR-0002", certification_body_id="other-body"),
        headers=kr_body,
    )
    problem(response, 403)
    problem(client.get(f"{KR}/KR-0002"), 404)


def test_certification_body_may_not_change_another_bodys_certificate(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    add_second_body(client, operator)
    kr_body = make_key(session, Role.CERTIFICATION_BODY, body="kr-test-body")
    url = f"{KR}/KR-0002"
    problem(client.patch(url, json={"holder_name": "Hijacked"}, headers=if_match(kr_body, 1)), 403)
    problem(post_event(client, url, kr_body, "withdrawn", "2024-01-01"), 403)
    got = client.get(url)
    assert got.json()["holder_name"] == "Hanbit Coatings"
    assert got.json()["status"] == "active"
    assert got.headers["ETag"] == '"1"'


def test_scheme_operator_may_not_register_certificates(
    client: TestClient, operator: dict[str, str], session: Session
) -> None:
    setup_registry(client, operator)
    scheme_operator = make_key(session, Role.SCHEME_OPERATOR, schemes=("korea-eco-label",))
    problem(client.post(KR, json=certificate_body(number="KR-0002"), headers=scheme_operator), 403)
    problem(client.get(f"{KR}/KR-0002"), 404)
