"""Answers as the registry recorded them (`as_recorded`, ADR 0007): the worked example of
docs/resolution.md, "Two times", and what each endpoint says about the instant asked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import certificate_body, created, problem
from tests.api.test_equivalence import Q, world
from tests.api.test_import_export import CSV, csv_bytes, row

__all__ = ["world"]

EVENTS = "/v1/schemes/korea-eco-label/certificates/KR-0001/status-events"
QUESTION = {**Q, "target": "JP", "on": "2025-03-01", "hs_code": "320810"}
SAME = ("recognized", "level", "routes", "conditions", "reasons", "valid_until", "explanation")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def suspend_backdated(client: TestClient, operator: dict[str, str]) -> None:
    created(
        client.post(
            EVENTS,
            json={"status": "suspended", "effective_date": "2025-01-15", "reason": "audit"},
            headers=operator,
        )
    )


@pytest.mark.usefixtures("world")
def test_a_backdated_suspension_leaves_the_answer_as_recorded_unchanged(
    client: TestClient, operator: dict[str, str]
) -> None:
    given = client.get("/v1/equivalence", params=QUESTION).json()
    assert given["recognized"] is True
    acted_on = now()
    suspend_backdated(client, operator)

    today = client.get("/v1/equivalence", params=QUESTION).json()
    assert today["recognized"] is False
    assert today["reasons"][0]["code"] == "CERTIFICATE_SUSPENDED"
    assert today["registry_revision"] > given["registry_revision"]
    assert "as_recorded" not in today

    replayed = client.get("/v1/equivalence", params={**QUESTION, "as_recorded": acted_on})
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert {k: body[k] for k in SAME} == {k: given[k] for k in SAME}
    assert body["registry_revision"] == given["registry_revision"]
    assert dt.datetime.fromisoformat(body["as_recorded"]) == dt.datetime.fromisoformat(acted_on)

    # Asked as recorded after the correction: the correction's answer.
    later = client.get("/v1/equivalence", params={**QUESTION, "as_recorded": now()}).json()
    assert {k: later[k] for k in SAME} == {k: today[k] for k in SAME}


@pytest.mark.usefixtures("world")
def test_the_batch_markets_and_plan_answer_as_recorded(
    client: TestClient, operator: dict[str, str]
) -> None:
    line = {k: QUESTION[k] for k in ("scheme", "certificate", "target", "on", "hs_code")}
    markets_url = "/v1/schemes/korea-eco-label/certificates/KR-0001/markets"
    markets = client.get(markets_url, params={"on": "2025-03-01"}).json()
    plan_query = {"hs_code": "320810", "targets": "JP,KR", "on": "2025-03-01"}
    plan = client.get("/v1/equivalence/plan", params=plan_query).json()
    acted_on = now()
    suspend_backdated(client, operator)
    batch = client.post(
        "/v1/equivalence/batch",
        json={
            "lines": [
                {**line, "ref": "then", "as_recorded": acted_on},
                {**line, "ref": "now"},
                {**line, "ref": "bad", "as_recorded": "2025-03-01"},
                {**line, "ref": "early", "as_recorded": "2001-01-01T00:00:00Z"},
            ]
        },
    ).json()
    then, current, bad, early = batch["results"]
    assert then["answer"]["recognized"] is True
    assert "as_recorded" in then["answer"]
    assert current["answer"]["recognized"] is False
    assert then["answer"]["registry_revision"] < current["answer"]["registry_revision"]
    assert bad["error"]["errors"][0]["field"] == "as_recorded"
    assert early["error"]["status"] == 422
    whole = client.post(
        "/v1/equivalence/batch", json={"lines": [line], "as_recorded": acted_on}
    ).json()
    assert whole["results"][0]["answer"]["recognized"] is True

    markets_now = client.get(markets_url, params={"on": "2025-03-01"}).json()
    assert markets_now["markets"] != markets["markets"]
    replayed = client.get(markets_url, params={"on": "2025-03-01", "as_recorded": acted_on})
    assert replayed.json()["markets"] == markets["markets"]
    assert replayed.json()["registry_revision"] == markets["registry_revision"]
    replayed_plan = client.get(
        "/v1/equivalence/plan", params={**plan_query, "as_recorded": acted_on}
    ).json()
    assert replayed_plan["options"] == plan["options"]


@pytest.mark.usefixtures("world")
def test_on_defaults_to_the_day_of_the_instant(client: TestClient) -> None:
    question = {k: v for k, v in QUESTION.items() if k != "on"}
    instant = now()
    body = client.get("/v1/equivalence", params={**question, "as_recorded": instant}).json()
    assert body["query"]["on"] == instant[:10]


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2001-01-01T00:00:00Z", "before the registry's first recorded revision"),
        ("2999-01-01T00:00:00+02:00", "in the future"),
        ("2025-03-01T10:00:00", "RFC 3339 instant with its offset"),
        ("2025-03-01", "RFC 3339 instant with its offset"),
    ],
)
def test_an_instant_out_of_the_history_is_a_422_saying_why(
    client: TestClient, value: str, words: str
) -> None:
    response = client.get("/v1/equivalence", params={**QUESTION, "as_recorded": value})
    found: dict[str, Any] = problem(response, 422)
    assert found["errors"][0]["field"] == "as_recorded"
    assert words in found["errors"][0]["message"]


CERTIFICATE = "/v1/schemes/korea-eco-label/certificates/KR-0001"


def read(client: TestClient, url: str, instant: str | None = None) -> dict[str, Any]:
    response = client.get(url, params={} if instant is None else {"as_recorded": instant})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_entity_reads_as_recorded_show_what_was_recorded_then(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    agreement_url = f"/v1/agreements/{world['id']}"
    urls = (CERTIFICATE, agreement_url, "/v1/schemes/korea-eco-label", "/v1/economies/KR")
    before = {url: read(client, url) for url in urls}
    instant = now()
    suspend_backdated(client, operator)
    certificate = read(client, CERTIFICATE)
    patched = client.patch(
        CERTIFICATE,
        json={"holder_name": "Hanbit Coatings Ltd"},
        headers={**operator, "If-Match": f'"{certificate["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    amended = client.patch(
        agreement_url,
        json={"title": "Amended"},
        headers={**operator, "If-Match": f'"{before[agreement_url]["version"]}"'},
    )
    assert amended.status_code == 200, amended.text
    scheme = client.patch(
        "/v1/schemes/korea-eco-label",
        json={"home_economies": ["KR", "JP"]},
        headers={**operator, "If-Match": f'"{before["/v1/schemes/korea-eco-label"]["version"]}"'},
    )
    assert scheme.status_code == 200, scheme.text
    for url in urls:
        assert read(client, url, instant) == before[url], url
    after = read(client, CERTIFICATE, now())
    assert after["holder_name"] == "Hanbit Coatings Ltd"
    assert [e["status"] for e in after["status_events"]] == ["active", "suspended"]
    assert read(client, agreement_url, now())["title"] == "Amended"
    early = client.get(CERTIFICATE, params={"as_recorded": "2001-01-01T00:00:00Z"})
    assert problem(early, 422)["errors"][0]["field"] == "as_recorded"


def test_a_certificate_created_later_did_not_exist_as_recorded_before(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    instant = now()
    created(
        client.post(
            "/v1/schemes/korea-eco-label/certificates",
            json=certificate_body(number="KR-0002"),
            headers=operator,
        )
    )
    url = "/v1/schemes/korea-eco-label/certificates/KR-0002"
    problem(client.get(url, params={"as_recorded": instant}), 404)
    question = {**QUESTION, "certificate": "KR-0002", "as_recorded": instant}
    problem(client.get("/v1/equivalence", params=question), 404)
    assert client.get("/v1/equivalence", params={**question, "as_recorded": now()}).json()[
        "recognized"
    ]


def test_an_import_that_changes_certificates_keeps_what_they_were(
    client: TestClient, operator: dict[str, str], world: dict[str, Any]
) -> None:
    url = "/v1/schemes/korea-eco-label/certificates/import"
    first = [row(1), row(2)]
    response = client.post(url, content=csv_bytes(first), headers={**operator, **CSV})
    assert response.status_code == 200, response.text
    instant = now()
    second = [
        row(1, holder_name="Renamed"),
        row(2, status="suspended", status_effective_date="2024-06-01", status_reason="audit"),
    ]
    response = client.post(url, content=csv_bytes(second), headers={**operator, **CSV})
    assert response.status_code == 200, response.text
    one = "/v1/schemes/korea-eco-label/certificates/KR-IMP-0001"
    two = "/v1/schemes/korea-eco-label/certificates/KR-IMP-0002"
    assert read(client, one)["holder_name"] == "Renamed"
    assert read(client, one, instant)["holder_name"] == "Holder 1"
    assert [e["status"] for e in read(client, two)["status_events"]] == ["active", "suspended"]
    assert [e["status"] for e in read(client, two, instant)["status_events"]] == ["active"]
    question = {**QUESTION, "certificate": "KR-IMP-0002", "on": "2025-03-01"}
    assert not client.get("/v1/equivalence", params=question).json()["recognized"]
    then = client.get("/v1/equivalence", params={**question, "as_recorded": instant}).json()
    assert then["recognized"] is True


@pytest.mark.usefixtures("world")
def test_a_batch_asks_at_most_a_hundred_different_instants(client: TestClient) -> None:
    line = {k: QUESTION[k] for k in ("scheme", "certificate", "target", "on", "hs_code")}
    start = dt.datetime.now(dt.UTC)
    lines = [
        {**line, "as_recorded": (start - dt.timedelta(microseconds=i)).isoformat()}
        for i in range(101)
    ]
    results = client.post("/v1/equivalence/batch", json={"lines": lines}).json()["results"]
    assert all(r["answer"]["recognized"] for r in results[:100])
    assert "at most 100 different instants" in results[100]["error"]["detail"]
