"""The worker as it runs: inside `serve` by default, alone as `ecolabel-registry deliver`, and
stopped by SIGTERM with the attempt in flight recorded, not lost."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from ecolabel_registry.persistence.tables import WebhookDeliveryRow
from tests.api.data import setup_registry
from tests.reliability.serving import CLI, cli, serve, service_env
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import database_url  # noqa: F401 - the fixture

ALLOW = {
    "ECOLABEL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
    "ECOLABEL_WEBHOOK_ALLOW_HTTP": "true",
    "ECOLABEL_WEBHOOK_POLL_SECONDS": "0.2",
}


def until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait for `condition` (bounded: fails after `seconds` saying what did not happen)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.1)


def states(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            return list(s.execute(select(WebhookDeliveryRow.state)).scalars())
    finally:
        engine.dispose()


def test_serve_delivers_by_default(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    key = cli(database_url, "keys", "create", "--role", "operator", "--name", "p")
    headers = {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}
    receiver = Receiver().start()
    try:
        with (
            serve(database_url, tmp_path / "serve.log", env=ALLOW) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            setup = client.post(
                "/v1/subscriptions", json={"url": receiver.url}, headers=headers
            ).json()
            setup_registry(client, headers)  # type: ignore[arg-type]
            until(lambda: len(receiver.answered_ok) >= 6, "six deliveries")
            got = [Webhook(setup["secret"]).verify(r.body, r.headers) for r in receiver.received]
            assert {m["data"]["entity_type"] for m in got} >= {"scheme", "certificate"}
    finally:
        receiver.stop()


def test_sigterm_lets_the_attempt_in_flight_finish_and_records_it(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    key = cli(database_url, "keys", "create", "--role", "operator", "--name", "p")
    headers = {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}
    receiver = Receiver(mode="slow", slow_seconds=2.0).start()
    env = {**ALLOW, "ECOLABEL_WEBHOOK_WORKER": "false", "ECOLABEL_WEBHOOK_TIMEOUT_SECONDS": "20"}
    try:
        with (
            serve(database_url, tmp_path / "serve.log", env=env) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            made = client.post("/v1/subscriptions", json={"url": receiver.url}, headers=headers)
            assert made.status_code == 201, made.text
            setup_registry(client, headers)  # type: ignore[arg-type]
        log = (tmp_path / "deliver.log").open("wb")
        worker = subprocess.Popen(
            [CLI, "deliver"],
            env=service_env(database_url, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            until(lambda: len(receiver.received) >= 1, "a delivery attempt")
            worker.send_signal(signal.SIGTERM)  # while the receiver is still answering
            assert worker.wait(timeout=60) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
            log.close()
        found = states(database_url)
        assert len(found) == 6
        # The attempts that were sending finished and were recorded; none is held or lost.
        assert found.count("delivered") == len(receiver.received)
        assert "webhook worker stopped" in (tmp_path / "deliver.log").read_text()
    finally:
        receiver.stop()
