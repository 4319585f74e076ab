"""Conflicting writes sent at the same moment: a withdrawal or a termination stays final.

Real commits on a database of the test's own, the production engine (its pool; SQLite in WAL
mode with its busy timeout) and real threads, each with its own client: two writes meet on
one certificate or agreement behind a barrier, fifty times over. Whatever order the database
puts them in, the history recorded must be one the rules accept event by event.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ecolabel_registry.domain.errors import Conflict
from ecolabel_registry.domain.messages import LOCK_WAIT_EXPIRED
from ecolabel_registry.domain.model import AgreementStatus, PartyStatus, StatusEvent
from ecolabel_registry.services.agreements import check_status_event as check_agreement_event
from ecolabel_registry.services.certificates import check_status_event
from tests.api.data import agreement_body, category_body, certificate_body, created, scheme_body
from tests.conftest import ENGINE, stale_status_changes
from tests.integration.test_concurrency import committed_url, live  # noqa: F401 (fixtures)

PAIRS = 50
KR = "korea-eco-label"
JP = "japan-eco-mark"
CERTS = f"/v1/schemes/{KR}/certificates"
Call = Callable[[TestClient, int], httpx.Response]


def in_pairs(app: FastAPI, rounds: int, first: Call, second: Call) -> list[tuple[Any, Any]]:
    """`first(client, i)` and `second(client, i)` at the same moment, for i in range(rounds).

    Two threads, each with its own client, meet at a barrier before every round.
    """
    barrier = threading.Barrier(2, timeout=60)
    answers: list[list[Any]] = [[None] * rounds, [None] * rounds]
    failures: list[BaseException] = []

    def run(side: int, call: Call) -> None:
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                for i in range(rounds):
                    barrier.wait()
                    answers[side][i] = call(client, i)
        except BaseException as exc:  # the other side must not wait for this one
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(k, c)) for k, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert not failures, failures
    return list(zip(answers[0], answers[1], strict=True))


def event(status: str, day: str, reason: str = "decided") -> dict[str, str]:
    return {"status": status, "effective_date": day, "reason": reason}


def recorded(client: TestClient, url: str) -> list[StatusEvent]:
    """Every event of a status-event list, page after page, in recording order."""
    out: list[StatusEvent] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get(url, params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        out += [
            StatusEvent(e["status"], _date(e["effective_date"]), e["reason"]) for e in body["items"]
        ]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def valid(
    history: list[StatusEvent], check: Callable[[list[StatusEvent], StatusEvent], None]
) -> bool:
    """Whether every event could have been appended, in recording order, to those before it."""
    try:
        for i, e in enumerate(history):
            check(history[:i], e)
    except Conflict:
        return False
    return True


def certificate_rule(history: list[StatusEvent], e: StatusEvent) -> None:
    check_status_event("n", history, e)


def agreement_rule(history: list[StatusEvent], e: StatusEvent) -> None:
    check_agreement_event(e, AgreementStatus, "terminated", tuple(history))


def party_rule(history: list[StatusEvent], e: StatusEvent) -> None:
    check_agreement_event(e, PartyStatus, "withdrawn", tuple(history))


@pytest.fixture
def registry(
    live: tuple[FastAPI, dict[str, str]],  # noqa: F811 (the fixture)
) -> tuple[FastAPI, dict[str, str]]:
    """Two schemes with a paints category each, made through the API."""
    app, operator = live
    with TestClient(app) as client:
        for scheme in (scheme_body(), scheme_body(id=JP, name="Eco Mark", home_economies=["JP"])):
            created(client.post("/v1/schemes", json=scheme, headers=operator))
            created(
                client.post(
                    f"/v1/schemes/{scheme['id']}/categories", json=category_body(), headers=operator
                )
            )
    return app, operator


def number(i: int) -> str:
    return f"KR-RACE-{i:03d}"


def make_certificates(client: TestClient, operator: dict[str, str], n: int) -> None:
    """Certificates KR-RACE-000... valid from 2023, suspended from 2024-05-01."""
    for i in range(n):
        body = certificate_body(number=number(i), certification_body_id=None, gtins=[])
        created(client.post(CERTS, json=body, headers=operator))
        created(
            client.post(
                f"{CERTS}/{number(i)}/status-events",
                json=event("suspended", "2024-05-01"),
                headers=operator,
            )
        )


def assert_status_changes_kept(app: FastAPI) -> None:
    engine = app.state.engine
    with engine.connect() as conn, conn.begin():
        assert stale_status_changes(conn) == []


def test_a_withdrawal_and_a_later_reactivation_sent_together_record_exactly_one(
    registry: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = registry
    with TestClient(app) as client:
        make_certificates(client, operator, PAIRS)
    answers = in_pairs(
        app,
        PAIRS,
        lambda c, i: c.post(
            f"{CERTS}/{number(i)}/status-events",
            json=event("withdrawn", "2024-06-01"),
            headers=operator,
        ),
        lambda c, i: c.post(
            f"{CERTS}/{number(i)}/status-events",
            json=event("active", "2024-07-01"),
            headers=operator,
        ),
    )
    with TestClient(app) as client:
        for i, (withdraw, reactivate) in enumerate(answers):
            statuses = sorted([withdraw.status_code, reactivate.status_code])
            assert statuses == [201, 409], (withdraw.text, reactivate.text)
            loser = withdraw if withdraw.status_code == 409 else reactivate
            assert "final" in loser.json()["detail"]
            history = recorded(client, f"{CERTS}/{number(i)}/status-events")
            assert valid(history, certificate_rule), history
            status = client.get(f"{CERTS}/{number(i)}").json()["status"]
            assert status == ("withdrawn" if withdraw.status_code == 201 else "active")
    assert_status_changes_kept(app)


def make_agreements(client: TestClient, operator: dict[str, str], n: int) -> list[str]:
    return [
        created(client.post("/v1/agreements", json=agreement_body(), headers=operator))["id"]
        for _ in range(n)
    ]


def test_a_termination_and_a_later_reinstatement_sent_together_leave_a_valid_history(
    registry: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = registry
    with TestClient(app) as client:
        ids = make_agreements(client, operator, PAIRS)
    answers = in_pairs(
        app,
        PAIRS,
        lambda c, i: c.post(
            f"/v1/agreements/{ids[i]}/status-events",
            json=event("terminated", "2024-06-01"),
            headers=operator,
        ),
        lambda c, i: c.post(
            f"/v1/agreements/{ids[i]}/status-events",
            json=event("suspended", "2024-07-01"),
            headers=operator,
        ),
    )
    with TestClient(app) as client:
        for i, (terminate, suspend) in enumerate(answers):
            assert terminate.status_code == 201, terminate.text
            assert suspend.status_code in (201, 409), suspend.text
            history = recorded(client, f"/v1/agreements/{ids[i]}/status-events")
            assert valid(history, agreement_rule), history


def test_a_party_withdrawal_and_a_later_reinstatement_sent_together_leave_a_valid_history(
    registry: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = registry
    with TestClient(app) as client:
        ids = make_agreements(client, operator, PAIRS)
    url = "/v1/agreements/{}/parties/" + JP + "/status-events"
    answers = in_pairs(
        app,
        PAIRS,
        lambda c, i: c.post(
            url.format(ids[i]), json=event("withdrawn", "2024-06-01"), headers=operator
        ),
        lambda c, i: c.post(
            url.format(ids[i]), json=event("suspended", "2024-07-01"), headers=operator
        ),
    )
    with TestClient(app) as client:
        for i, (withdraw, suspend) in enumerate(answers):
            assert withdraw.status_code == 201, withdraw.text
            assert suspend.status_code in (201, 409), suspend.text
            history = recorded(client, url.format(ids[i]))
            assert valid(history, party_rule), history


def import_file(numbers: list[str], status: str | None = None, day: str | None = None) -> str:
    """A CSV import of certificates like `make_certificates` makes, optionally with a status."""
    out = io.StringIO()
    columns = [
        "number",
        "category_code",
        "holder_name",
        "holder_economy",
        "product_name",
        "brand",
        "model",
        "hs_codes",
        "valid_from",
        "valid_to",
        "status",
        "status_effective_date",
        "status_reason",
    ]
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    base = certificate_body()
    for n in numbers:
        writer.writerow(
            {
                **{k: base[k] for k in columns if k in base and k != "number"},
                "number": n,
                "hs_codes": ";".join(base["hs_codes"]),
                "status": status or "",
                "status_effective_date": day or "",
                "status_reason": "imported" if status else "",
            }
        )
    return out.getvalue()


def test_an_import_racing_a_withdrawal_records_exactly_one_of_them(
    registry: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = registry
    with TestClient(app) as client:
        make_certificates(client, operator, PAIRS)
    csv_headers = {**operator, "Content-Type": "text/csv"}

    def withdraw_after_reads(c: TestClient, i: int) -> httpx.Response:
        # An import takes longer to reach its check than a single write: a few reads first,
        # more in some rounds than in others, so that either may come first.
        for _ in range(i % 8):
            c.get(f"{CERTS}/{number(i)}")
        return c.post(
            f"{CERTS}/{number(i)}/status-events",
            json=event("withdrawn", "2024-06-01"),
            headers=operator,
        )

    answers = in_pairs(
        app,
        PAIRS,
        lambda c, i: c.post(
            f"{CERTS}/import",
            content=import_file([number(i)], "active", "2024-07-01"),
            headers=csv_headers,
        ),
        withdraw_after_reads,
    )
    with TestClient(app) as client:
        for i, (imported, withdraw) in enumerate(answers):
            assert imported.status_code in (200, 409, 422), imported.text
            assert withdraw.status_code in (201, 409), withdraw.text
            assert (imported.status_code == 200) != (withdraw.status_code == 201), (
                imported.text,
                withdraw.text,
            )
            history = recorded(client, f"{CERTS}/{number(i)}/status-events")
            assert valid(history, certificate_rule), history
    assert_status_changes_kept(app)


def test_two_overlapping_imports_never_answer_503_nor_duplicate_a_certificate(
    registry: tuple[FastAPI, dict[str, str]],
) -> None:
    app, operator = registry
    csv_headers = {**operator, "Content-Type": "text/csv"}
    rounds = 10

    def batch(i: int) -> list[str]:
        return [f"KR-IMP-{i:02d}-{k:03d}" for k in range(20)]

    answers = in_pairs(
        app,
        rounds,
        lambda c, i: c.post(f"{CERTS}/import", content=import_file(batch(i)), headers=csv_headers),
        lambda c, i: c.post(
            f"{CERTS}/import", content=import_file(batch(i)[::-1]), headers=csv_headers
        ),
    )
    for first, second in answers:
        assert {first.status_code, second.status_code} <= {200, 409}, (first.text, second.text)
        assert 200 in (first.status_code, second.status_code)
        for answer in (first, second):
            if answer.status_code == 409:
                # Nothing written, and the caller told to send it again: the write lock
                # was taken, the other import wrote some of these certificates first, or
                # (PostgreSQL, on a very busy machine) the other import of the scheme held
                # its lock past the lock wait allowed.
                detail = answer.json()["detail"]
                assert answer.headers["content-type"] == "application/problem+json"
                assert "send" in detail or detail == LOCK_WAIT_EXPIRED, detail
    with TestClient(app) as client:
        numbers: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = client.get(CERTS, params=params).json()
            numbers += [c["number"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    expected = sorted(n for i in range(rounds) for n in batch(i))
    assert sorted(numbers) == expected
    assert_status_changes_kept(app)


@pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite's one write lock")
def test_on_sqlite_a_write_that_cannot_get_the_write_lock_is_a_409_that_wrote_nothing(
    registry: tuple[FastAPI, dict[str, str]],
    committed_url: str,  # noqa: F811 (the fixture)
) -> None:
    app, operator = registry
    with TestClient(app) as client:
        make_certificates(client, operator, 1)
        url = f"{CERTS}/{number(0)}/status-events"
        holder = sqlite3.connect(committed_url.removeprefix("sqlite:///"))
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer, holding on past the busy timeout
            answer = client.post(url, json=event("withdrawn", "2024-06-01"), headers=operator)
        finally:
            holder.rollback()
            holder.close()
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "nothing was written: send the request again" in answer.json()["detail"]
        assert [e.status for e in recorded(client, url)] == ["active", "suspended"]
        again = client.post(url, json=event("withdrawn", "2024-06-01"), headers=operator)
        assert again.status_code == 201, again.text
