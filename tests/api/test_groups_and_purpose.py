"""Answers that fit the real world, through HTTP: a scheme at home in the EEA and the EU as a
target, cooperation agreements that recognize nothing, and an agreement read as it stood."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import agreement_body, category_body, created, scheme_body, setup_registry

EU_CERT = {"scheme": "eu-ecolabel", "certificate": "FR/044/017"}


def window(member: str, valid_from: str, valid_to: str | None = None) -> dict[str, Any]:
    return {"member": member, "valid_from": valid_from, "valid_to": valid_to}


@pytest.fixture
def eea(client: TestClient, operator: dict[str, str]) -> None:
    """The EU and the EEA with Croatia's and the United Kingdom's dates, the EU Ecolabel at
    home in the EEA, and one of its certificates."""
    eu = [
        window("DE", "1958-01-01"),
        window("FR", "1958-01-01"),
        window("GB", "1973-01-01", "2020-01-31"),
        window("HR", "2013-07-01"),
    ]
    eea = [
        window("DE", "1994-01-01"),
        window("FR", "1994-01-01"),
        window("GB", "1994-01-01", "2020-12-31"),
        window("HR", "2014-04-12"),
        window("NO", "1994-01-01"),
    ]
    for code, name, members in (("EU", "European Union", eu), ("EEA", "EEA", eea)):
        created(
            client.put(
                f"/v1/economies/{code}", json={"name": name, "members": members}, headers=operator
            )
        )
    created(
        client.post(
            "/v1/schemes",
            json=scheme_body(
                id="eu-ecolabel", name="EU Ecolabel", operator="EC", home_economies=["EEA"]
            ),
            headers=operator,
        )
    )
    created(
        client.post(
            "/v1/schemes/eu-ecolabel/categories",
            json=category_body(valid_from="2010-01-01"),
            headers=operator,
        )
    )
    created(
        client.post(
            "/v1/schemes/eu-ecolabel/certificates",
            json={
                "number": "FR/044/017",
                "category_code": "paints",
                "holder_name": "Peintures Dupont SA",
                "holder_economy": "FR",
                "product_name": "Dupont Mat Interior",
                "valid_from": "2010-01-01",
                "valid_to": "2030-12-31",
            },
            headers=operator,
        )
    )


def test_a_scheme_at_home_in_the_eea_is_native_in_the_eu_once_every_eu_country_is_in_the_eea(
    client: TestClient, eea: None
) -> None:
    before = client.get("/v1/equivalence", params={**EU_CERT, "target": "EU", "on": "2014-01-15"})
    after = client.get("/v1/equivalence", params={**EU_CERT, "target": "EU", "on": "2015-01-15"})

    assert before.status_code == 200, before.text
    assert before.json()["recognized"] is False
    assert before.json()["explanation"] == (
        "Not recognized in EU on 2014-01-15: no scheme in the registry is operative in EU."
    )
    assert before.json()["valid_until"] == "2014-04-11"
    assert after.json()["level"] == "native"
    assert after.json()["explanation"] == (
        "Native in EU: EU Ecolabel is operative in every country of EU on 2015-01-15."
    )
    assert after.json()["valid_until"] == "2020-01-31"


def test_scheme_list_by_economy_follows_groups_and_the_date(client: TestClient, eea: None) -> None:
    def listed(**params: str) -> list[str]:
        response = client.get("/v1/schemes", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert listed(economy="FR") == ["eu-ecolabel"]
    assert listed(economy="EU", on="2014-01-15") == []
    assert listed(economy="EU", on="2015-01-15") == ["eu-ecolabel"]
    assert listed(economy="HR", on="2014-01-15") == []
    assert listed(economy="GB", on="2020-06-01") == ["eu-ecolabel"]
    assert listed(economy="GB", on="2021-01-01") == []


def test_markets_and_plan_include_the_eu_when_the_scheme_is_operative_there(
    client: TestClient, eea: None
) -> None:
    def markets(on: str) -> set[str]:
        response = client.get(
            "/v1/schemes/eu-ecolabel/certificates/FR/044/017/markets", params={"on": on}
        )
        assert response.status_code == 200, response.text
        return {m["economy"] for m in response.json()["markets"]}

    assert "EU" not in markets("2014-01-15")
    assert {"EU", "EEA", "HR", "FR"} <= markets("2015-01-15")
    plan = client.get(
        "/v1/equivalence/plan", params={"hs_code": "3208", "targets": "EU,FR", "on": "2014-01-15"}
    ).json()["options"]
    assert plan[0]["levels"] == {"EU": None, "FR": "native"}


def test_agreement_list_by_economy_reads_the_groups_on_the_date(
    client: TestClient, operator: dict[str, str], eea: None
) -> None:
    setup_registry(client, operator)
    agreement = created(
        client.post(
            "/v1/agreements",
            json=agreement_body(
                parties=["korea-eco-label", "eu-ecolabel"],
                effective_from="2010-01-01",
                scope_entries=[],
            ),
            headers=operator,
        )
    )

    def listed(**params: str) -> list[str]:
        response = client.get("/v1/agreements", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert listed(economy="EU", on="2014-01-15") == []
    assert listed(economy="EU", on="2015-01-15") == [agreement["id"]]
    assert listed(economy="EU", in_force_on="2015-01-15") == [agreement["id"]]


# --- cooperation --------------------------------------------------------------------------


def test_cooperation_agreement_is_stored_listed_and_never_a_route(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    memorandum = created(
        client.post(
            "/v1/agreements",
            json=agreement_body(title="Memorandum of understanding", purpose="cooperation"),
            headers=operator,
        )
    )
    recognition = created(
        client.post(
            "/v1/agreements",
            json=agreement_body(title="Recognition", parties=["japan-eco-mark", "korea-eco-label"]),
            headers=operator,
        )
    )
    assert memorandum["purpose"] == "cooperation"
    assert memorandum["kind"] == "bilateral"
    assert recognition["purpose"] == "recognition"
    cooperation_only = client.get("/v1/agreements", params={"purpose": "cooperation"}).json()
    assert [a["id"] for a in cooperation_only["items"]] == [memorandum["id"]]

    # With both, the recognition agreement gives the route and the memorandum is not mentioned.
    question = {
        "scheme": "korea-eco-label",
        "certificate": "KR-0001",
        "target": "JP",
        "on": "2025-03-01",
    }
    both = client.get("/v1/equivalence", params=question).json()
    assert both["level"] == "full"
    assert [r["agreement_id"] for r in both["routes"]] == [recognition["id"]]
    assert both["reasons"] == []

    # Reclassify the recognition agreement as cooperation: no route is left.
    response = client.patch(
        f"/v1/agreements/{recognition['id']}",
        json={"purpose": "cooperation"},
        headers={**operator, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["purpose"] == "cooperation"
    answer = client.get("/v1/equivalence", params=question).json()
    assert answer["recognized"] is False
    assert answer["routes"] == []
    assert {(r["code"], r["agreement_id"]) for r in answer["reasons"]} == {
        ("COOPERATION_ONLY", memorandum["id"]),
        ("COOPERATION_ONLY", recognition["id"]),
    }
    assert "is a cooperation agreement" in answer["explanation"]
    batch = client.post("/v1/equivalence/batch", json={"lines": [{"ref": "1", **question}]})
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["answer"]["reasons"][0]["code"] == "COOPERATION_ONLY"


def test_unknown_purpose_is_rejected_naming_the_field(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    response = client.post(
        "/v1/agreements", json=agreement_body(purpose="friendship"), headers=operator
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["purpose"]


# --- the agreement as it stood ---------------------------------------------------------------


def test_agreement_read_on_a_date_gives_statuses_and_scope_entries_then(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    agreement = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    path = f"/v1/agreements/{agreement['id']}"
    (entry,) = agreement["scope_entries"]
    assert entry["version"] == 1
    # End the entry with the version the agreement's answer gave, no extra GET.
    ended = client.patch(
        f"{path}/scope-entries/{entry['id']}",
        json={"valid_to": "2024-12-31"},
        headers={**operator, "If-Match": f'"{entry["version"]}"'},
    )
    assert ended.status_code == 200, ended.text
    added = created(
        client.post(
            f"{path}/scope-entries",
            json={
                "recognized_scheme_id": "korea-eco-label",
                "category_code": "paints",
                "level": "conditional",
                "conditions": [{"text": "Re-labelling"}],
                "valid_from": "2025-01-01",
            },
            headers=operator,
        )
    )
    for event_path, status, day in (
        (f"{path}/status-events", "suspended", "2024-03-01"),
        (f"{path}/status-events", "in_force", "2024-09-01"),
        (f"{path}/parties/japan-eco-mark/status-events", "suspended", "2025-06-01"),
    ):
        created(
            client.post(
                event_path,
                json={"status": status, "effective_date": day, "reason": "decided"},
                headers=operator,
            )
        )

    def on(day: str) -> dict[str, Any]:
        response = client.get(path, params={"on": day})
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        assert data["on"] == day
        return data

    in_2024 = on("2024-05-01")
    assert in_2024["status"] == "suspended"
    assert [(e["id"], e["version"]) for e in in_2024["scope_entries"]] == [(entry["id"], 2)]
    in_2025 = on("2025-03-01")
    assert in_2025["status"] == "in_force"
    assert [e["id"] for e in in_2025["scope_entries"]] == [added["id"]]
    assert {p["scheme_id"]: p["status"] for p in in_2025["parties"]} == {
        "japan-eco-mark": "active",
        "korea-eco-label": "active",
    }
    later = on("2025-07-01")
    assert {p["scheme_id"]: p["status"] for p in later["parties"]}["japan-eco-mark"] == (
        "suspended"
    )
    before = on("2023-01-01")
    assert before["status"] is None  # not yet in force
    assert before["scope_entries"] == []
    # Without `on`: every entry, the whole history.
    assert len(client.get(path).json()["scope_entries"]) == 2
