"""The replay property (ADR 0007): every answer the registry gave can be asked again, as
recorded at the instant it was given, and comes back the same.

A generated sequence of writes of every kind goes through the API: backdated certificate
suspensions, reinstatements and withdrawals, certificate PATCHes and new certificates,
agreement amendments, status events, party suspensions, scope entries added and ended,
group membership changes, scheme home economies and coverage, category changes. After each
write, questions are asked (single, batch, markets) and their answers recorded with the
instant. At the end each is asked again with `as_recorded` = its instant: `recognized`,
`level`, `routes`, `conditions`, `reasons`, `valid_until` and `explanation` are the same,
and so is the revision. Writes the registry refuses (a status the history forbids) are part
of the sequence too: they record nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.data import (
    agreement_body,
    category_body,
    certificate_body,
    created,
    scheme_body,
    setup_registry,
)

D = dt.date
KR, JP, DE = "korea-eco-label", "japan-eco-mark", "blue-angel"
SCHEMES = (KR, JP, DE)
TARGETS = ("KR", "JP", "DE", "FR", "EUX")
DAYS = ("2024-06-01", "2025-03-01", "2025-09-15")
HS = (None, "320810", "3209")
SAME = ("recognized", "level", "routes", "conditions", "reasons", "valid_until", "explanation")


KINDS = (
    "certificate.patch",
    "agreement.patch",
    "group",
    "agreement.status",
    "scheme",
    "agreement.party",
    "category",
    "scope.add",
    "certificate.create",
    "scope.end",
)


class Recording:
    """The test client's writes, with the status of each answer kept."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.statuses: list[int] = []

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, **kwargs)

    def _kept(self, response: Any) -> Any:
        self.statuses.append(response.status_code)
        return response

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._kept(self.client.post(url, **kwargs))

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self._kept(self.client.patch(url, **kwargs))

    def put(self, url: str, **kwargs: Any) -> Any:
        return self._kept(self.client.put(url, **kwargs))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class World:
    """The registry under the sequence, and the answers it gave."""

    def __init__(self, client: TestClient, operator: dict[str, str], seed: int) -> None:
        self.client = client
        self.operator = operator
        self.rng = random.Random(seed)
        self.certificates: list[tuple[str, str]] = [(KR, "KR-0001")]
        self.agreements: list[str] = []
        self.asked: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []
        self.accepted: set[str] = set()
        self.step = 0

    def arrange(self) -> None:
        c, op = self.client, self.operator
        setup_registry(c, op)
        created(
            c.post(
                "/v1/schemes",
                json=scheme_body(id=DE, name="Blue Angel", operator="RAL", home_economies=["DE"]),
                headers=op,
            )
        )
        created(c.post(f"/v1/schemes/{DE}/categories", json=category_body(), headers=op))
        self.put_group([("DE", "2020-01-01", None), ("FR", "2020-01-01", "2024-12-31")])
        for body in (
            agreement_body(chaining="allowed"),
            agreement_body(
                parties=[JP, DE],
                chaining="allowed",
                scope_entries=[
                    {
                        "recognized_scheme_id": JP,
                        "category_code": "paints",
                        "level": "conditional",
                        "conditions": [{"text": "a factory audit", "criteria": ["voc-limit"]}],
                        "valid_from": "2023-07-01",
                    },
                    {
                        "recognized_scheme_id": DE,
                        "category_code": "paints",
                        "level": "full",
                        "valid_from": "2023-07-01",
                    },
                ],
            ),
        ):
            self.agreements.append(created(c.post("/v1/agreements", json=body, headers=op))["id"])

    def put_group(
        self, members: list[tuple[str, str, str | None]], c: Recording | None = None
    ) -> None:
        writer = c or Recording(self.client)
        current = self.client.get("/v1/economies/EUX")
        headers = dict(self.operator)
        if current.status_code == 200:
            headers["If-Match"] = f'"{current.json()["version"]}"'
        body = {
            "name": "European test group",
            "members": [{"member": m, "valid_from": f, "valid_to": t} for m, f, t in members],
        }
        response = writer.put("/v1/economies/EUX", json=body, headers=headers)
        assert response.status_code in (200, 201), response.text

    def patch(self, c: Recording, url: str, body: Any) -> None:
        version = c.get(url).json()["version"]
        c.patch(url, json=body, headers={**self.operator, "If-Match": f'"{version}"'})

    def write(self) -> None:
        """One random write of any kind (the registry may refuse it: then nothing changes)."""
        rng, op = self.rng, self.operator
        c = Recording(self.client)
        # Every kind in turn, with a backdated certificate status every other write.
        kind = KINDS[self.step // 2 % len(KINDS)] if self.step % 2 else "certificate.status"
        self.step += 1
        scheme_id, number = rng.choice(self.certificates)
        cert_url = f"/v1/schemes/{scheme_id}/certificates/{number}"
        agreement = rng.choice(self.agreements)
        day = D(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
        if kind == "certificate.status":
            status = rng.choice(["suspended", "suspended", "active", "withdrawn"])
            body = {"status": status, "effective_date": day.isoformat(), "reason": "audit"}
            c.post(f"{cert_url}/status-events", json=body, headers=op)
        elif kind == "certificate.patch":
            change: dict[str, Any] = rng.choice(
                [
                    {"valid_to": rng.choice(["2025-05-31", "2027-12-31"])},
                    {"hs_codes": [rng.choice(["320810", "320890", "320910"])]},
                    {"holder_name": f"Holder {rng.randrange(100)}"},
                ]
            )
            self.patch(c, cert_url, change)
        elif kind == "certificate.create":
            scheme = rng.choice(SCHEMES)
            number = f"N-{len(self.certificates)}"
            body = certificate_body(
                number=number,
                valid_from=rng.choice(["2023-01-01", "2024-09-01"]),
                certification_body_id=None,
                holder_economy=rng.choice(["KR", "JP", "DE"]),
                gtins=[],
            )
            if (
                c.post(f"/v1/schemes/{scheme}/certificates", json=body, headers=op).status_code
                == 201
            ):
                self.certificates.append((scheme, number))
        elif kind == "agreement.patch":
            change = rng.choice(
                [
                    {"chaining": rng.choice(["allowed", "not_allowed"])},
                    {"effective_to": rng.choice([None, "2025-06-30"])},
                    {"purpose": rng.choice(["recognition", "cooperation"])},
                ]
            )
            self.patch(c, f"/v1/agreements/{agreement}", change)
        elif kind == "agreement.status":
            status = rng.choice(["suspended", "in_force"])
            body = {"status": status, "effective_date": day.isoformat(), "reason": "review"}
            c.post(f"/v1/agreements/{agreement}/status-events", json=body, headers=op)
        elif kind == "agreement.party":
            parties = c.get(f"/v1/agreements/{agreement}").json()["parties"]
            party = rng.choice(parties)["scheme_id"]
            status = rng.choice(["suspended", "active"])
            body = {"status": status, "effective_date": day.isoformat(), "reason": "review"}
            c.post(
                f"/v1/agreements/{agreement}/parties/{party}/status-events", json=body, headers=op
            )
        elif kind == "scope.add":
            parties = [
                p["scheme_id"] for p in c.get(f"/v1/agreements/{agreement}").json()["parties"]
            ]
            entry = {
                "recognized_scheme_id": rng.choice(parties),
                "category_code": "paints",
                "hs_prefixes": [rng.choice(["3208", "3209"])],
                "level": rng.choice(["full", "assessment_results"]),
                "valid_from": day.isoformat(),
            }
            c.post(f"/v1/agreements/{agreement}/scope-entries", json=entry, headers=op)
        elif kind == "scope.end":
            entries = [
                e
                for e in c.get(f"/v1/agreements/{agreement}").json()["scope_entries"]
                if e["valid_to"] is None
            ]
            if entries:
                entry = rng.choice(entries)
                end = max(day, D.fromisoformat(entry["valid_from"]))
                c.patch(
                    f"/v1/agreements/{agreement}/scope-entries/{entry['id']}",
                    json={"valid_to": end.isoformat()},
                    headers={**op, "If-Match": f'"{entry["version"]}"'},
                )
        elif kind == "group":
            members: list[tuple[str, str, str | None]] = [
                ("DE", rng.choice(["2020-01-01", "2025-01-01"]), None)
            ]
            if rng.random() < 0.5:
                members.append(("FR", "2020-01-01", rng.choice([None, "2024-12-31"])))
            self.put_group(members, c)
        elif kind == "scheme":
            scheme = rng.choice(SCHEMES)
            change = rng.choice(
                [
                    {"home_economies": rng.choice([["KR"], ["KR", "FR"], ["JP"], ["DE"]])},
                    {"certificate_coverage": rng.choice(["complete", "partial"])},
                ]
            )
            self.patch(c, f"/v1/schemes/{scheme}", change)
        else:
            scheme = rng.choice(SCHEMES)
            change = rng.choice(
                [
                    {"valid_to": rng.choice([None, "2025-12-31"])},
                    {"hs_codes": rng.choice([["3208", "3209"], ["3208"], ["3209"]])},
                ]
            )
            self.patch(c, f"/v1/schemes/{scheme}/categories/paints", change)

        if any(200 <= status < 300 for status in c.statuses):
            self.accepted.add(kind)

    def question(self) -> dict[str, Any]:
        rng = self.rng
        scheme, number = rng.choice(self.certificates)
        q: dict[str, Any] = {"scheme": scheme, "certificate": number, "target": rng.choice(TARGETS)}
        q["on"] = rng.choice(DAYS)
        hs_code = rng.choice(HS)
        if hs_code is not None:
            q["hs_code"] = hs_code
        return q

    def ask(self) -> None:
        """Questions of each kind, their answers recorded with the instant after them."""
        c = self.client
        for _ in range(3):
            q = self.question()
            response = c.get("/v1/equivalence", params=q)
            self.asked.append(("single", q, _body(response), now()))
        lines = [{**self.question(), "ref": str(i)} for i in range(4)]
        response = c.post("/v1/equivalence/batch", json={"lines": lines})
        assert response.status_code == 200, response.text
        self.asked.append(("batch", {"lines": lines}, response.json(), now()))
        scheme, number = self.rng.choice(self.certificates)
        url = f"/v1/schemes/{scheme}/certificates/{number}/markets"
        q = {"on": self.rng.choice(DAYS)}
        self.asked.append(("markets", {"url": url, **q}, _body(c.get(url, params=q)), now()))

    def replay(self) -> int:
        """Every recorded question asked again as recorded at its instant; how many."""
        c = self.client
        for kind, q, given, instant in self.asked:
            if kind == "single":
                again = _body(c.get("/v1/equivalence", params={**q, "as_recorded": instant}))
                _same(given, again, q)
            elif kind == "batch":
                response = c.post("/v1/equivalence/batch", json={**q, "as_recorded": instant})
                again = response.json()
                for one, two in zip(given["results"], again["results"], strict=True):
                    if one["answer"] is None:
                        assert two["error"] == one["error"], (q, instant)
                    else:
                        _same(one["answer"], two["answer"], q)
            else:
                url = q["url"]
                params = {"on": q["on"], "as_recorded": instant}
                again = _body(c.get(url, params=params))
                if "markets" in given:
                    assert again["markets"] == given["markets"], (url, instant)
                    assert again["registry_revision"] == given["registry_revision"]
                else:
                    assert again == given, (url, instant)
        return len(self.asked)


def _body(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 404, 422), response.text
    data: dict[str, Any] = response.json()
    if response.status_code != 200:
        data = {"status": response.status_code, "detail": data.get("detail")}
    return data


def _same(given: dict[str, Any], again: dict[str, Any], question: Any) -> None:
    if "status" in given:
        assert again == given, question
        return
    assert {k: again[k] for k in SAME} == {k: given[k] for k in SAME}, question
    assert again["registry_revision"] == given["registry_revision"], question
    assert again["query"]["on"] == given["query"]["on"]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_answer_replays_as_recorded(
    client: TestClient, operator: dict[str, str], seed: int
) -> None:
    world = World(client, operator, seed)
    world.arrange()
    world.ask()
    for _ in range(30):
        world.write()
        world.ask()
    assert world.replay() == 31 * 5
    assert world.accepted == {*KINDS, "certificate.status"}, "every kind of write was made"
    recognized = [
        a for kind, _q, a, _t in world.asked if kind == "single" and a.get("recognized") is True
    ]
    assert recognized, "the sequence asks questions with recognized answers too"
