"""Messages are written for people, and the same mistake reads the same everywhere.

A message says what is expected and gives an example, never a regular expression; the single
question, a batch line and the plan word one mistake identically.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import scheme_body
from tests.api.test_equivalence import Q, world  # noqa: F401 (a fixture)

PROBLEM = "application/problem+json"
ASKED = {**Q, "target": "JP", "on": "2025-03-01", "hs_code": "320810"}
PLAN = {"hs_code": "320810", "targets": "JP", "on": "2025-03-01"}
REGEX = ("^", "$", "[A-Z", "{1,", "\\S", "pattern")

MISTAKES = [
    pytest.param(
        "target",
        "kr",
        "must be an economy code such as KR, or a group such as EU: 'kr' is not"
        " (codes are upper case: 'KR')",
        id="lower-case code",
    ),
    pytest.param(
        "target",
        "XX",
        "unknown economy 'XX': use an ISO 3166-1 alpha-2 code such as KR, "
        "or a registered group such as EU",
        id="unknown economy",
    ),
    pytest.param(
        "on",
        "01/03/2025",
        "must be a date as YYYY-MM-DD, such as 2025-03-01: '01/03/2025' is not",
        id="day/month/year",
    ),
    pytest.param(
        "on",
        "2025-02-30",
        "must be a date as YYYY-MM-DD, such as 2025-03-01: '2025-02-30' is not a day of the "
        "calendar",
        id="no such day",
    ),
    pytest.param(
        "hs_code",
        "3208.10",
        "must be an HS code of 2 to 10 digits, such as 320810: '3208.10' is not"
        " (write it without dots or spaces: '320810')",
        id="dotted HS code",
    ),
]


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem["errors"]}


def single(client: TestClient, field: str, value: str) -> str:
    response = client.get("/v1/equivalence", params={**ASKED, field: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return field_errors(response.json())[field]


def batch_line(client: TestClient, field: str, value: str) -> str:
    line = {**ASKED, field: value, "ref": "line-1"}
    response = client.post("/v1/equivalence/batch", json={"lines": [line]})
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["ref"] == "line-1"
    assert result["answer"] is None
    assert result["error"]["status"] == 422
    return field_errors(result["error"])[field]


def plan(client: TestClient, field: str, value: str) -> str:
    name = "targets" if field == "target" else field
    response = client.get("/v1/equivalence/plan", params={**PLAN, name: value})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return field_errors(response.json())[name]


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(("field", "value", "message"), MISTAKES)
def test_the_single_question_the_batch_and_the_plan_word_a_mistake_alike(
    client: TestClient, field: str, value: str, message: str
) -> None:
    assert single(client, field, value) == message
    assert batch_line(client, field, value) == message
    assert plan(client, field, value) == message


@pytest.mark.usefixtures("world")
def test_the_detail_says_the_field_and_what_it_must_be(client: TestClient) -> None:
    response = client.get("/v1/equivalence", params={**ASKED, "target": "kr"})
    assert response.json()["detail"].startswith(
        "target: must be an economy code such as KR, or a group such as EU"
    )


@pytest.mark.usefixtures("world")
def test_a_batch_line_of_the_wrong_type_is_worded_as_its_field(client: TestClient) -> None:
    line = {**ASKED, "target": 82, "hs_code": 320810, "on": 20250301, "ref": "a"}
    result = client.post("/v1/equivalence/batch", json={"lines": [line]}).json()["results"][0]
    errors = field_errors(result["error"])
    assert errors["target"].startswith("must be an economy code such as KR")
    assert errors["hs_code"].startswith("must be an HS code of 2 to 10 digits")
    assert errors["on"] == "must be a date as YYYY-MM-DD, such as 2025-03-01: 20250301 is not"


@pytest.mark.usefixtures("world")
def test_a_plan_names_each_target_that_is_wrong(client: TestClient) -> None:
    response = client.get("/v1/equivalence/plan", params={**PLAN, "targets": "JP,kr,K"})
    messages = [e["message"] for e in response.json()["errors"]]
    assert len(messages) == 2
    assert "'kr' is not (codes are upper case: 'KR')" in messages[0]
    assert messages[1].endswith("'K' is not")
    many = ",".join(f"A{i:02d}" for i in range(51))
    response = client.get("/v1/equivalence/plan", params={**PLAN, "targets": many})
    first = response.json()["errors"][0]
    assert (first["field"], first["message"]) == ("targets", "51 economies; at most 50 in one plan")


@pytest.mark.usefixtures("world")
def test_an_unknown_scheme_suggests_the_closest_ids(client: TestClient) -> None:
    question = {**ASKED, "scheme": "korea-eco-labl"}
    response = client.get("/v1/equivalence", params=question)
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail == "no scheme 'korea-eco-labl'; did you mean `korea-eco-label`?"
    line = client.post("/v1/equivalence/batch", json={"lines": [question]}).json()["results"][0]
    assert line["error"]["detail"] == detail
    response = client.get("/v1/schemes/korea-eco-lable/certificates/KR-0001/markets")
    assert (
        response.json()["detail"] == "no scheme 'korea-eco-lable'; did you mean `korea-eco-label`?"
    )
    far = client.get("/v1/equivalence", params={**ASKED, "scheme": "zz"}).json()["detail"]
    assert far == "no scheme 'zz'"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", "EU Ecolabel", "must be an id of lower-case letters, digits and inner hyphens"),
        ("home_economies", ["kr"], "must be an economy code such as KR, or a group such as EU"),
        ("website", "ftp://x", "must be a web address such as https://example.org/"),
    ],
)
def test_a_body_field_of_the_wrong_form_says_what_it_takes(
    client: TestClient, operator: dict[str, str], field: str, value: Any, expected: str
) -> None:
    response = client.post("/v1/schemes", json=scheme_body(**{field: value}), headers=operator)
    assert response.status_code == 422, response.text
    (message,) = [e["message"] for e in response.json()["errors"]]
    assert message.startswith(expected)
    assert not any(token in message for token in REGEX), message


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    "query",
    [
        {"gtin": "12-34"},
        {"hs_code": "32 08"},
        {"scheme": "Korea"},
    ],
)
def test_no_message_shows_a_regular_expression(client: TestClient, query: dict[str, str]) -> None:
    response = client.get("/v1/certificates", params=query)
    if response.status_code == 422:
        problem = response.json()
        for text in (problem["detail"], *field_errors(problem).values()):
            assert not any(token in text for token in REGEX), text


def test_a_json_write_of_another_type_says_it_takes_json(
    client: TestClient, operator: dict[str, str]
) -> None:
    response = client.post(
        "/v1/schemes", content=b"{}", headers={**operator, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    (error,) = response.json()["errors"]
    assert error["message"] == "this endpoint takes application/json, not 'text/plain'"
    response = client.patch(
        "/v1/schemes/x", content=b"{}", headers={**operator, "Content-Type": "text/plain"}
    )
    assert response.json()["errors"][0]["message"] == (
        "this endpoint takes application/json or application/merge-patch+json, not 'text/plain'"
    )


@pytest.mark.parametrize("media", ["text/xml", "application/json"])
def test_an_import_of_another_type_says_it_takes_csv_or_json_lines(
    client: TestClient, operator: dict[str, str], media: str
) -> None:
    client.post("/v1/schemes", json=scheme_body(), headers=operator)
    response = client.post(
        "/v1/schemes/korea-eco-label/certificates/import",
        content=b"{}",
        headers={**operator, "Content-Type": media},
    )
    assert response.status_code == 415
    assert response.json()["detail"].endswith(
        f"this endpoint takes text/csv or application/x-ndjson (JSON Lines), not {media!r}"
    )
