"""Answers as the registry recorded them (`as_recorded`, ADR 0007): the worked example of
docs/resolution.md, "Two times", and what each endpoint says about the instant asked."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import created, problem
from tests.api.test_equivalence import Q, world

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
