"""PostgreSQL stopped and started again under load: 503s while down, recovery, no lost write.

The server runs as a subprocess against a PostgreSQL instance of this test's own (initdb in a
temporary folder, pg_ctl on a free port, as the `postgres` user when run as root). Client
threads keep reading and writing; the instance is stopped, then started again.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

from tests.reliability.serving import free_port, prepare_demo, serve

pytestmark = pytest.mark.postgres

CLIENT_TIMEOUT = 8.0  # seconds; a request that takes longer counts as a hang
MAX_SECONDS = 4.0  # the longest any answer may take, the database up or down
RECOVERY_SECONDS = 10.0
CERT = "/v1/schemes/korea-eco-label/certificates/DEMO-KR-0001"
PROBLEM = "application/problem+json"


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin that has both initdb and pg_ctl."""
    folders = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    usable = [p for p in folders if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    usable.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return usable[-1] if usable else None


class Cluster:
    """A throw-away PostgreSQL instance on 127.0.0.1:port."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "postgresql.log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        engine = create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return f"{url}/{name}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no initdb and pg_ctl under /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="ecolabel-pg-"))
    instance = Cluster(bindir, root)
    try:
        instance.init()
        instance.start()
        yield instance
    finally:
        with contextlib.suppress(RuntimeError):
            instance.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Outcome:
    kind: str  # "read", "readyz", "create", "event"
    started: float
    took: float
    status: int | None  # None: no answer (timeout, connection error)
    content_type: str
    retry_after: str | None
    ack: str | None  # what a 2xx write created (certificate number or event id)
    error: str | None = None


class Load:
    """Client threads reading and writing until stopped; every outcome is kept."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.auth = {"Authorization": f"Bearer {key}"}
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.numbers = itertools.count()
        self.threads: list[threading.Thread] = []

    def call(self, kind: str, send: Callable[[], httpx.Response]) -> None:
        started = time.monotonic()
        try:
            response = send()
        except httpx.HTTPError as exc:
            outcome = Outcome(
                kind, started, time.monotonic() - started, None, "", None, None, repr(exc)
            )
        else:
            ack = None
            if response.status_code == 201 and kind == "create":
                ack = response.json()["number"]
            elif response.status_code == 201 and kind == "event":
                ack = response.json()["id"]
            outcome = Outcome(
                kind,
                started,
                time.monotonic() - started,
                response.status_code,
                response.headers.get("content-type", ""),
                response.headers.get("retry-after"),
                ack,
            )
        with self.lock:
            self.outcomes.append(outcome)

    def reader(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT) as client:
            while not self.stopping.is_set():
                self.call("read", lambda: client.get(CERT))
                self.call(
                    "read",
                    lambda: client.get(
                        "/v1/equivalence",
                        params={
                            "scheme": "eu-ecolabel",
                            "certificate": "DEMO/FR/044/017",
                            "target": "KR",
                            "on": "2025-03-01",
                        },
                    ),
                )
                self.call("readyz", lambda: client.get("/readyz"))
                time.sleep(0.02)

    def writer(self, name: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=CLIENT_TIMEOUT) as client:
            while not self.stopping.is_set():
                number = f"FAULT-{name}-{next(self.numbers)}"
                body = {
                    "number": number,
                    "category_code": "paints",
                    "holder_name": "Fault test holder (illustrative)",
                    "holder_economy": "KR",
                    "product_name": "Fault test paint",
                    "valid_from": "2024-01-01",
                    "valid_to": "2026-12-31",
                }
                self.call(
                    "create",
                    partial(
                        client.post,
                        "/v1/schemes/korea-eco-label/certificates",
                        json=body,
                        headers=self.auth,
                    ),
                )
                event = {"status": "active", "effective_date": "2024-06-01", "reason": number}
                self.call(
                    "event",
                    partial(client.post, CERT + "/status-events", json=event, headers=self.auth),
                )
                time.sleep(0.02)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self.reader) for _ in range(2)]
        self.threads += [threading.Thread(target=self.writer, args=(f"w{i}",)) for i in range(2)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT * 2)

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if o.started >= start and o.started + o.took <= end]


def wait_for(predicate: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until `predicate` held, or None when it did not within `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with contextlib.suppress(httpx.HTTPError):
            if predicate():
                return time.monotonic() - started
        time.sleep(0.1)
    return None


def test_database_restart_gives_503_then_recovers_without_losing_writes(
    cluster: Cluster, tmp_path: Path
) -> None:
    url = cluster.create_database("registry")
    key = prepare_demo(url)
    env = {
        "ECOLABEL_DB_CONNECT_TIMEOUT_SECONDS": "2",
        "ECOLABEL_DB_POOL_TIMEOUT_SECONDS": "2",
        "ECOLABEL_LOG_LEVEL": "INFO",
    }
    with serve(url, tmp_path / "server.log", env=env) as server:
        load = Load(server.base_url, key)
        load.start()
        try:
            time.sleep(2)
            stop_begins = time.monotonic()
            cluster.stop()
            down_since = time.monotonic()
            time.sleep(3)
            with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as probe:
                ready_while_down = probe.get("/readyz")
            down_until = time.monotonic()
            cluster.start()
            up_since = time.monotonic()
            with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as probe:
                ready_after = wait_for(
                    lambda: probe.get("/readyz").status_code == 200, RECOVERY_SECONDS
                )
            time.sleep(2)
        finally:
            load.stop()
        log = server.log_text()

    outcomes = load.outcomes
    assert outcomes, "the load made no request"
    # No request hung or went unanswered, the database up or down.
    unanswered = [o for o in outcomes if o.status is None]
    assert not unanswered, unanswered[:3]
    slowest = max(o.took for o in outcomes)
    assert slowest < MAX_SECONDS, f"a request took {slowest:.1f} s"
    # Nothing but success or "unavailable": no 500 from a lost connection.
    assert {o.status for o in outcomes} <= {200, 201, 503}, {o.status for o in outcomes}

    # While down: /readyz and every request answer 503 problem+json with Retry-After.
    assert ready_while_down.status_code == 503
    assert ready_while_down.headers["content-type"] == PROBLEM
    assert ready_while_down.headers["retry-after"]
    while_down = load.between(down_since, down_until)
    assert len(while_down) >= 10, "too little load while the database was down"
    for outcome in while_down:
        assert outcome.status == 503, outcome
        assert outcome.content_type == PROBLEM, outcome
        assert outcome.retry_after, outcome
    assert '"status": 503' in log
    assert "OperationalError" in log

    # After the restart: ready, and writes succeed again, within seconds, by themselves.
    assert ready_after is not None, f"not ready {RECOVERY_SECONDS} s after the restart"
    after = load.between(up_since + ready_after, time.monotonic())
    assert any(o.kind == "create" and o.status == 201 for o in after), "no write after recovery"
    assert all(o.status in (200, 201) for o in after), [o for o in after if o.status != 201][:3]
    assert any(o.kind == "create" and o.status == 201 for o in load.between(0, stop_begins))

    # Every acknowledged write is in the database.
    created = {o.ack for o in outcomes if o.kind == "create" and o.ack}
    events = {o.ack for o in outcomes if o.kind == "event" and o.ack}
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            numbers = set(
                conn.execute(
                    text("SELECT number FROM certificate WHERE number LIKE 'FAULT-%'")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert created
    assert created <= numbers, sorted(created - numbers)[:5]
    assert events
    stored_events = _event_ids(url)
    assert events <= stored_events, sorted(events - stored_events)[:5]


def _event_ids(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id FROM certificate_status_event")).scalars()
            return {str(r) for r in rows}
    finally:
        engine.dispose()
