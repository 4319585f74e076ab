"""`GET /v1/certificates?q=`: each word the beginning of a word of the number, holder, product,
brand or model, or a GTIN."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.api.data import certificate_body, created, setup_registry
from tests.api.test_import_export import CSV, IMPORT, csv_bytes, imported, row
from tests.conftest import ENGINE

KR = "/v1/schemes/korea-eco-label/certificates"


def found(client: TestClient, q: str, **params: Any) -> list[str]:
    response = client.get("/v1/certificates", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [c["number"] for c in response.json()["items"]]


def registry(client: TestClient, operator: dict[str, str]) -> None:
    """KR-0001 (Hanbit Coatings, enamel) and two more certificates to tell apart."""
    setup_registry(client, operator)
    created(
        client.post(
            KR,
            json=certificate_body(
                number="KR-0002",
                holder_name="绿色家电有限公司",
                product_name="Electric kettle",
                brand="Acme",
                model="KT-200",
                gtins=["96385074"],
            ),
            headers=operator,
        )
    )
    created(
        client.post(
            KR,
            json=certificate_body(
                number="KR-0003",
                holder_name="Acme Paints",
                product_name="Primer",
                brand=None,
                model=None,
                gtins=[],
            ),
            headers=operator,
        )
    )


def test_each_field_finds_its_certificate_in_any_case(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    assert found(client, "kr-0002") == ["KR-0002"]  # number
    assert found(client, "HANBIT coat") == ["KR-0001"]  # holder, two words
    assert found(client, "kettle") == ["KR-0002"]  # product
    assert found(client, "acme") == ["KR-0002", "KR-0003"]  # brand and holder
    assert found(client, "kt-200") == ["KR-0002"]  # model
    assert found(client, "acme primer") == ["KR-0003"]  # every word must match
    assert found(client, "nothing-like-this") == []


def test_a_word_is_found_by_its_beginning_not_by_a_piece_inside(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    assert found(client, "ket") == ["KR-0002"]
    assert found(client, "e") == ["KR-0001", "KR-0002"]  # one letter: enamel, electric
    assert found(client, "hanbitcoatings") == []
    assert found(client, "ettle") == []  # inside "kettle"
    assert found(client, "paints acm") == ["KR-0003"]  # any order, each a beginning
    assert found(client, "Electri kettl") == ["KR-0002"]


def test_a_certificate_number_is_found_whole_and_by_its_parts(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    for number in ("AB-2024/0077", "AB-2024/0078", "ZZ-0077"):
        created(client.post(KR, json=certificate_body(number=number), headers=operator))
    assert found(client, "AB-2024/0077") == ["AB-2024/0077"]
    assert found(client, "ab-2024/007") == ["AB-2024/0077", "AB-2024/0078"]
    assert found(client, "ab 2024") == ["AB-2024/0077", "AB-2024/0078"]
    assert found(client, "0077") == ["AB-2024/0077", "ZZ-0077"]
    assert found(client, "2024/0077") == ["AB-2024/0077"]
    # The parts in a row: "ab-0077" is not "AB-2024/0077", and a part before the last is whole.
    assert found(client, "ab-0077") == []
    assert found(client, "a-2024") == []


def test_a_long_word_is_found_by_its_beginning(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    created(
        client.post(
            KR,
            json=certificate_body(number="KR-0009", product_name="Thermoregulating radiator"),
            headers=operator,
        )
    )
    for q in ("thermoregulat", "thermoregulating", "THERMOREGULATING RADIATOR"):
        assert found(client, q) == ["KR-0009"], q
    assert found(client, "thermoregulatingx") == []


def test_chinese_is_found_anywhere_in_a_field(client: TestClient, operator: dict[str, str]) -> None:
    registry(client, operator)
    assert found(client, "家电") == ["KR-0002"]  # holder, two characters inside the name
    assert found(client, "绿色家电") == ["KR-0002"]
    assert found(client, "有限公司 kettle") == ["KR-0002"]
    assert found(client, "有限公司 primer") == []
    assert found(client, "红色") == []


def test_a_gtin_in_any_form_finds_the_certificate(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    for form in ("4006381333931", "04006381333931"):
        assert found(client, form) == ["KR-0001"]
    for form in ("96385074", "00000096385074"):  # a GTIN-8 and its 14-digit form
        assert found(client, form) == ["KR-0002"]


def test_search_combines_with_the_other_filters_and_pages(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    assert found(client, "acme", holder="paints") == ["KR-0003"]
    assert found(client, "acme", scheme="japan-eco-mark") == []
    first = client.get("/v1/certificates", params={"q": "kr-", "limit": 2}).json()
    assert [c["number"] for c in first["items"]] == ["KR-0001", "KR-0002"]
    rest = client.get(
        "/v1/certificates", params={"q": "kr-", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [c["number"] for c in rest["items"]] == ["KR-0003"]
    assert rest["next_cursor"] is None


def test_changes_are_found_at_once_and_old_words_no_longer(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    url = f"{KR}/KR-0003"
    version = client.get(url).json()["version"]
    response = client.patch(
        url,
        json={"holder_name": "Bluebird Coatings"},
        headers={**operator, "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text
    assert found(client, "bluebird") == ["KR-0003"]
    assert found(client, "acme") == ["KR-0002"]


def test_rows_written_by_the_bulk_import_are_found(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    rows = [row(1, holder_name="Zephyr Holdings"), row(2)]
    imported(client.post(IMPORT, content=csv_bytes(rows), headers={**operator, **CSV}))
    assert found(client, "zephyr") == ["KR-IMP-0001"]
    changed = [row(1, holder_name="Quasar Holdings"), row(2)]
    imported(client.post(IMPORT, content=csv_bytes(changed), headers={**operator, **CSV}))
    assert found(client, "quasar") == ["KR-IMP-0001"]
    assert found(client, "zephyr") == []


def test_markup_and_search_syntax_in_words_are_plain_text(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    for q in ("acme OR x", "a*", "NEAR(acme)", 'acme"', "'acme'", "acme:*", "acme & !x"):
        response = client.get("/v1/certificates", params={"q": q})
        assert response.status_code == 200, (q, response.text)
    assert found(client, "acme OR hanbit") == []
    assert found(client, '"acme"') == ["KR-0002", "KR-0003"]
    assert found(client, "acme* (primer)") == ["KR-0003"]
    assert found(client, "NEAR(acme)") == []
    assert found(client, "acme & | !") == ["KR-0002", "KR-0003"]  # no letter: left out


def test_an_empty_or_too_long_search_is_refused_with_an_example(
    client: TestClient, operator: dict[str, str]
) -> None:
    registry(client, operator)
    for q in ("   ", '"', "%", "_", "\\", "* & -", " ".join(f"w{i}" for i in range(9))):
        response = client.get("/v1/certificates", params={"q": q})
        assert response.status_code == 422, response.text
        assert "q=" in response.text


@pytest.mark.skipif(
    ENGINE != "postgresql", reason="PostgreSQL's index files certificates by blocks of ids"
)
def test_a_search_lists_and_pages_in_id_order_across_blocks_of_ids(
    client: TestClient, operator: dict[str, str], connection: Connection
) -> None:
    setup_registry(client, operator)
    numbers: list[str] = []
    # Ids 1-3, 19,998-20,000 (the end of one block of 10,000, the start of the next),
    # 45,001-45,003, 99,999-100,001 (across blocks of 100,000) and 250,001-250,003, with
    # certificates that do not match in between.
    for start in (None, 19_997, 45_000, 99_998, 250_000):
        if start is not None:
            connection.execute(text("SELECT setval('certificate_id_seq', :n)"), {"n": start})
        for i in range(3):
            number = f"KR-B{len(numbers):03d}"
            created(
                client.post(
                    KR, json=certificate_body(number=number, brand="Blockbrand"), headers=operator
                )
            )
            created(
                client.post(KR, json=certificate_body(number=f"{number}-{i}X"), headers=operator)
            )
            numbers.append(number)
    assert found(client, "blockbrand") == numbers
    assert found(client, "blockbrand kr") == numbers
    for limit in (1, 2, 4):
        paged: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"q": "blockbrand", "limit": limit}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/certificates", params=params).json()
            paged += [c["number"] for c in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert paged == numbers, limit
