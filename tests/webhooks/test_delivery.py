"""Webhook deliveries end to end: a receiver on loopback that is down, then answers 500, then
is slow, then recovers; every change arrives, in order per entity, signed; nothing is lost
when the worker stops or dies. On the engine under test (ECOLABEL_TEST_ENGINE).

The worker runs with a clock the test moves forward (retries fall due without waiting); the
receiver's slowness is real, against a one-second attempt timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from ecolabel_registry.app import create_app
from ecolabel_registry.delivery import DeliveryWorker
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.migrate import upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.persistence.tables import WebhookDeliveryRow
from ecolabel_registry.persistence.webhooks import SqlDeliveryQueue
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.settings import Settings
from tests.api.data import certificate_body, created, setup_registry
from tests.conftest import ENGINE
from tests.reliability.serving import free_port, postgres_database
from tests.webhooks.receiver import Receiver

KR_CERT = "/v1/schemes/korea-eco-label/certificates"


class Clock:
    """The worker's clock, started a minute ahead of the real time when a test begins: the API
    stamps resumptions and redeliveries with the real clock, which must not be later."""

    def __init__(self) -> None:
        self.start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
        self.now = self.start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own (the worker commits for real)."""
    if ENGINE == "postgresql":
        with postgres_database() as url:
            _migrate(url)
            yield url
    else:
        url = f"sqlite:///{tmp_path / 'webhooks.sqlite3'}"
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        upgrade(conn)
    engine.dispose()


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        webhook_allow_private_addresses=True,
        webhook_allow_http=True,
        webhook_timeout_seconds=1.0,
        webhook_concurrency=8,
        log_json=False,
    )


class Registry:
    """The registry served in-process, an operator key, and workers over the database."""

    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self.clock = clock
        self.settings = settings_for(url)
        self.client = TestClient(create_app(self.settings), raise_server_exceptions=False)
        self.client.__enter__()
        engine = create_engine(url)
        with Session(engine) as session:
            _, secret = ApiKeyService(SqlApiKeyRepository(session)).create(
                "portal", Role.OPERATOR, (), None
            )
            session.commit()
        engine.dispose()
        self.key = {"Authorization": f"Bearer {secret}"}
        self.engines: list[Any] = []

    def engine(self) -> Any:
        engine = create_engine(self.url)
        self.engines.append(engine)
        return engine

    def worker(self) -> DeliveryWorker:
        return DeliveryWorker(
            sessionmaker(self.engine(), expire_on_commit=False),
            self.settings,
            clock=self.clock,
            rand=lambda: 0.5,
        )

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        for engine in self.engines:
            engine.dispose()

    def status(self, number: str, status: str, day: str) -> None:
        response = self.client.post(
            f"{KR_CERT}/{number}/status-events",
            json={"status": status, "effective_date": day, "reason": "test"},
            headers=self.key,
        )
        assert response.status_code == 201, response.text

    def deliveries(self, subscription_id: str) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/v1/subscriptions/{subscription_id}/deliveries",
            params={"limit": 1000},
            headers=self.key,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/subscriptions/{subscription_id}", headers=self.key)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def feed(self, after: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 1000}
        if after:
            params["after"] = after
        data: list[dict[str, Any]] = self.client.get("/v1/changes", params=params).json()["items"]
        return data


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    r = Registry(database_url, Clock())
    try:
        yield r
    finally:
        r.close()


async def _rounds(worker: DeliveryWorker, clock: Clock, rounds: int, step: dt.timedelta) -> int:
    made = 0
    async with worker.client() as client:
        for _ in range(rounds):
            made += await worker.step(client)
            clock.advance(step)
    return made


def run_rounds(
    worker: DeliveryWorker, clock: Clock, rounds: int = 1, step: dt.timedelta = dt.timedelta()
) -> int:
    """Claim, send and record `rounds` times, moving the clock by `step` after each."""
    return asyncio.run(_rounds(worker, clock, rounds, step))


def drain(worker: DeliveryWorker, clock: Clock) -> None:
    """Rounds until nothing is due, the clock moving a day each time (retries fall due)."""

    async def go() -> None:
        async with worker.client() as client:
            for _ in range(200):
                if await worker.step(client) == 0:
                    clock.advance(dt.timedelta(days=1))
                    if await worker.step(client) == 0:
                        return
        raise AssertionError("deliveries still due after 200 rounds")

    asyncio.run(go())


def subscribe(r: Registry, url: str, **filters: str) -> tuple[str, str]:
    made = created(
        r.client.post("/v1/subscriptions", json={"url": url, "filter": filters}, headers=r.key)
    )
    return made["id"], made["secret"]


def check_received(
    receiver: Receiver, secret: str, expected: list[dict[str, Any]]
) -> dict[tuple[str, str], list[int]]:
    """Every expected change answered 2xx at least once, every delivery signed, and per entity
    no change received before an earlier one. The per-entity sequences, as first received."""
    first: dict[tuple[str, str], list[int]] = {}
    for got in receiver.received:
        message = Webhook(secret).verify(got.body, got.headers)  # the reference check
        data = message["data"]
        assert message["type"] == f"{data['entity_type']}.{data['kind']}"
        seen = first.setdefault((data["entity_type"], data["entity_id"]), [])
        if data["sequence"] not in seen:
            assert not seen or data["sequence"] > seen[-1], "a later change came first"
            seen.append(data["sequence"])

    def sequence(got: Any) -> int:
        value: int = Webhook(secret).verify(got.body, got.headers)["data"]["sequence"]
        return value

    assert {c["sequence"] for c in expected} <= {sequence(g) for g in receiver.answered_ok}
    # One webhook-id per change: a receiver can tell a retry from a new message.
    ids = {(g.headers["webhook-id"], sequence(g)) for g in receiver.received}
    assert len({i for i, _ in ids}) == len({s for _, s in ids}) == len(ids)
    return first


def test_down_then_500_then_slow_then_back_every_change_arrives_in_order(
    registry: Registry,
) -> None:
    r = registry
    setup_registry(r.client, r.key)
    receiver = Receiver(port=free_port(), slow_seconds=3.0)
    subscription, secret = subscribe(r, receiver.url)
    start = r.feed()[-1]["sequence"]
    for n in (2, 3, 4):
        created(r.client.post(KR_CERT, json=certificate_body(number=f"KR-000{n}"), headers=r.key))
        r.status(f"KR-000{n}", "suspended", "2024-03-01")
        r.status(f"KR-000{n}", "active", "2024-04-01")
    worker = r.worker()

    # Down: nothing listens on the port.
    assert run_rounds(worker, r.clock) == 3  # the first change of each entity, no more
    down = r.deliveries(subscription)
    failed = [d for d in down if d["attempts"] == 1]
    assert len(failed) == 3
    assert all(d["state"] == "pending" and d["last_status"] is None for d in failed)
    assert all("Connect" in d["last_error"] for d in failed)
    assert all(d["next_attempt_at"] > d["last_attempt_at"] for d in failed)
    assert r.subscription(subscription)["failing_since"] is not None
    assert run_rounds(worker, r.clock) == 0  # not due again yet

    # Up, answering 500 with a long body: the error keeps only its start.
    receiver.start()
    receiver.mode = "error"
    try:
        r.clock.advance(dt.timedelta(minutes=1))
        assert run_rounds(worker, r.clock) == 3
        errors = [d for d in r.deliveries(subscription) if d["attempts"] == 2]
        assert {d["last_status"] for d in errors} == {500}
        assert all(d["last_error"].startswith("HTTP 500: receiver broken") for d in errors)
        assert all(len(d["last_error"]) <= 500 for d in errors)

        # Slow: the attempt is cut off at the timeout.
        receiver.mode = "slow"
        r.clock.advance(dt.timedelta(minutes=5))
        assert run_rounds(worker, r.clock) == 3
        slow = [d for d in r.deliveries(subscription) if d["attempts"] == 3]
        assert all(d["last_error"] == "no answer within 1 s" for d in slow)

        # Back.
        receiver.mode = "ok"
        drain(worker, r.clock)
        expected = [c for c in r.feed() if c["sequence"] > start]
        assert len(expected) == 9
        per_entity = check_received(receiver, secret, expected)
        assert sorted(len(v) for v in per_entity.values()) == [3, 3, 3]
        assert all(d["state"] == "delivered" for d in r.deliveries(subscription))
        assert r.subscription(subscription)["failing_since"] is None

        # A restart: a new worker (new engine) delivers what was recorded meanwhile.
        r.status("KR-0002", "suspended", "2024-06-01")
        r.status("KR-0003", "withdrawn", "2024-06-01")
        drain(r.worker(), r.clock)
        check_received(receiver, secret, [c for c in r.feed() if c["sequence"] > start])
        assert len(r.deliveries(subscription)) == 11
    finally:
        receiver.stop()


def test_a_redirect_is_not_followed_and_an_answer_without_end_is_not_read_to_its_end(
    registry: Registry,
) -> None:
    r = registry
    setup_registry(r.client, r.key)
    receiver = Receiver(mode="redirect").start()
    try:
        # Named by host name: the attempt connects to the address the name was checked to
        # resolve to, and tells the receiver the name.
        subscription, _ = subscribe(r, f"http://localhost:{receiver.port}/hook")
        r.status("KR-0001", "suspended", "2024-03-01")
        worker = DeliveryWorker(
            sessionmaker(r.engine(), expire_on_commit=False),
            r.settings,
            clock=r.clock,
            resolver=lambda _host, _port: ["127.0.0.1"],
            rand=lambda: 0.5,
        )
        assert run_rounds(worker, r.clock) == 1
        assert [g.headers["host"] for g in receiver.received] == [f"localhost:{receiver.port}"]
        [redirected] = r.deliveries(subscription)
        assert redirected["state"] == "pending"
        assert redirected["last_status"] == 307

        # 200 and a body that never ends: delivered, its answer read no further than its
        # start (read to its end, the attempt would run into its one-second timeout).
        receiver.mode = "endless"
        r.clock.advance(dt.timedelta(minutes=1))
        assert run_rounds(worker, r.clock) == 1
        [delivered] = r.deliveries(subscription)
        assert delivered["state"] == "delivered", delivered
        assert delivered["last_status"] == 200
        assert len(receiver.received) == 2
    finally:
        receiver.stop()


def test_an_attempt_claimed_by_a_worker_that_died_is_sent_again_after_its_lease(
    registry: Registry,
) -> None:
    r = registry
    setup_registry(r.client, r.key)
    receiver = Receiver().start()
    try:
        subscription, secret = subscribe(r, receiver.url)
        r.status("KR-0001", "suspended", "2024-03-01")
        dead = r.worker()
        # The dead worker claimed the delivery and never recorded it.
        claimed, _ = asyncio.run(dead._claim(10))
        assert len(claimed) == 1
        alive = r.worker()
        assert run_rounds(alive, r.clock) == 0  # held by the lease
        r.clock.advance(dt.timedelta(minutes=2))
        assert run_rounds(alive, r.clock) == 1
        check_received(receiver, secret, r.feed()[-1:])
        assert [d["state"] for d in r.deliveries(subscription)] == ["delivered"]
    finally:
        receiver.stop()


def test_a_subscription_failing_for_days_is_disabled_and_says_why_then_resumes(
    registry: Registry,
) -> None:
    r = registry
    setup_registry(r.client, r.key)
    port = free_port()
    subscription, secret = subscribe(r, f"http://127.0.0.1:{port}/hook")
    r.status("KR-0001", "suspended", "2024-03-01")
    worker = r.worker()
    run_rounds(worker, r.clock, rounds=40, step=dt.timedelta(hours=9))
    read = r.subscription(subscription)
    assert read["enabled"] is False
    assert read["disabled_reason"].startswith(f"every delivery since {r.clock.start.isoformat()}")
    assert "Connect" in read["disabled_reason"]
    (delivery,) = r.deliveries(subscription)
    assert delivery["state"] == "pending"
    assert delivery["attempts"] >= 9  # retried for three days before giving up
    receiver = Receiver(port=port).start()
    try:
        resumed = r.client.patch(
            f"/v1/subscriptions/{subscription}", json={"enabled": True}, headers=r.key
        )
        assert resumed.json()["enabled"] is True
        assert run_rounds(worker, r.clock) == 1
        check_received(receiver, secret, r.feed()[-1:])
    finally:
        receiver.stop()


def test_redelivery_sends_a_delivered_change_again_with_the_same_id(registry: Registry) -> None:
    r = registry
    setup_registry(r.client, r.key)
    receiver = Receiver().start()
    try:
        subscription, _ = subscribe(r, receiver.url, certificate="korea-eco-label/KR-0001")
        r.status("KR-0001", "suspended", "2024-03-01")
        created(r.client.post(KR_CERT, json=certificate_body(number="KR-0009"), headers=r.key))
        worker = r.worker()
        assert run_rounds(worker, r.clock) == 1  # the filter leaves KR-0009 out
        (delivery,) = r.deliveries(subscription)
        again = r.client.post(
            f"/v1/subscriptions/{subscription}/deliveries/{delivery['id']}/redeliver",
            headers=r.key,
        )
        assert again.status_code == 202
        assert run_rounds(worker, r.clock) == 1
        ids = [g.headers["webhook-id"] for g in receiver.received]
        assert ids == [f"msg_{delivery['id']}"] * 2
    finally:
        receiver.stop()


def test_while_outcomes_wait_to_be_recorded_the_worker_claims_no_more(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow database holds the claims back: outcomes not yet recorded count as claimed, so
    a worker whose records are stuck sends no more than one claim's worth."""
    r = registry
    setup_registry(r.client, r.key)
    receiver = Receiver().start()
    try:
        subscribe(r, receiver.url)
        for n in range(40):  # 40 entities: their first changes are all due at once
            created(
                r.client.post(KR_CERT, json=certificate_body(number=f"KR-1{n:03d}"), headers=r.key)
            )
        settings = r.settings.model_copy(update={"webhook_concurrency": 2})
        batch = 8 * 2  # CLAIM_ROUNDS x the concurrency
        gate = threading.Event()
        record = SqlDeliveryQueue.finish

        def stuck(queue: SqlDeliveryQueue, *args: Any) -> None:
            gate.wait(30)
            record(queue, *args)

        monkeypatch.setattr(SqlDeliveryQueue, "finish", stuck)
        worker = DeliveryWorker(
            sessionmaker(r.engine(), expire_on_commit=False),
            settings,
            clock=r.clock,
            rand=lambda: 0.5,
        )

        async def go() -> tuple[int, int]:
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            while len(receiver.answered_ok) < batch:
                await asyncio.sleep(0.05)
            await asyncio.sleep(2 * settings.webhook_poll_seconds)  # time to claim again
            held = len(receiver.answered_ok)
            gate.set()
            while len(receiver.answered_ok) < 40:
                await asyncio.sleep(0.05)
            stop.set()
            await task
            return held, len(receiver.answered_ok)

        held, total = asyncio.run(go())
        assert held == batch
        assert total > held
    finally:
        receiver.stop()


def test_two_workers_claiming_at_once_never_take_the_same_delivery(registry: Registry) -> None:
    r = registry
    setup_registry(r.client, r.key)
    subscribe(r, "http://127.0.0.1:9/hook")
    for n in range(2, 12):
        created(r.client.post(KR_CERT, json=certificate_body(number=f"KR-{n:04d}"), headers=r.key))
    engine = create_engine(r.url)
    r.engines.append(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    queue = SqlDeliveryQueue(sessions, dt.timedelta(minutes=5), dt.timedelta(days=3))
    queue.fan_out(r.clock())
    taken: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        taken.append([c.delivery_id for c in queue.claim(r.clock(), 4)])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for ids in taken for i in ids]
    assert len(flat) == len(set(flat))
    with Session(engine) as session:
        assert len(session.execute(select(WebhookDeliveryRow.id)).all()) == 10
    assert len(flat) == 10
