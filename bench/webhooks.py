"""Webhooks: N changes delivered by the worker vs. a bare async client posting the same bodies.

    python bench/webhooks.py --engine postgresql --changes 10000

A database of its own (`bench_webhooks_changes` on PostgreSQL, a file under var/bench on
SQLite), migrated; a receiver on loopback (uvicorn, one process, answering 204 to every
POST); a subscription to everything, pointing at it; then one import of N certificates,
which records N changes. Two sides, in `--rounds` pairs, best of each counts:

- the worker (ecolabel_registry.delivery, as `deliver` runs it, default settings but the
  loopback address allowed): from its start until every delivery is recorded delivered
  (fan-out, claims, signing, sending and recording included);
- a bare httpx2 AsyncClient with as many requests in flight as the worker's concurrency,
  posting the same N bodies (built beforehand) to the same receiver.

For the record, not the bar: the same bodies posted through a bare httpcore2 connection
pool, the transport the worker sends on (httpx2's own, without the client's layers), so
the worker's share of its time is seen apart from the transport's.

The bar (docs/quality.md, "webhooks"): the worker's deliveries a second >= 0.5 of the bare
client's. Writes bench/results/webhooks-<size>-<engine>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore2
import httpx2 as httpx
from sqlalchemy import create_engine, exists, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from common import HOST, VAR, free_port, table, verdict, write_result
from ecolabel_registry.delivery import DeliveryWorker, message
from ecolabel_registry.domain.access import Role
from ecolabel_registry.persistence.changes import SqlChangeLog
from ecolabel_registry.persistence.migrate import upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.persistence.tables import WebhookDeliveryRow
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.services.ports.changes import ChangeFilter
from ecolabel_registry.settings import Settings
from generate import ADMIN_URL

RATIO_TARGET = 0.5
DB_NAME = "webhooks_changes"


def receive(port: int) -> None:
    """The receiver: 204 to every request (runs in its own process)."""
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            event = await receive()
            more = event.get("more_body", False)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--receive", str(port)])
    url = f"http://{HOST}:{port}/hook"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(url, content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def database(engine_name: str) -> str:
    if engine_name == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / f"{DB_NAME}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    from sqlalchemy import make_url

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_{DB_NAME}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def certificates_csv(n: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "number",
            "category_code",
            "holder_name",
            "holder_economy",
            "product_name",
            "valid_from",
            "valid_to",
        ]
    )
    for i in range(n):
        writer.writerow(
            [f"WH-{i:06d}", "paints", f"Holder {i}", "KR", f"Paint {i}", "2024-01-01", "2028-12-31"]
        )
    return out.getvalue().encode()


def arrange(url: str, receiver_url: str, n: int) -> Settings:
    """Migrate, a scheme with a category, a subscription to everything, and one import of n
    certificates (n changes)."""
    from fastapi.testclient import TestClient

    from ecolabel_registry.app import create_app

    engine = create_engine(url)
    with engine.begin() as conn:
        upgrade(conn)
    with Session(engine) as session:
        _, secret = ApiKeyService(SqlApiKeyRepository(session)).create(
            "bench", Role.OPERATOR, (), None
        )
        session.commit()
    engine.dispose()
    settings = Settings(
        database_url=url,
        webhook_allow_private_addresses=True,
        webhook_allow_http=True,
        log_json=True,
        log_level="WARNING",
    )
    key = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings)) as client:
        for path, body in (
            (
                "/v1/schemes",
                {
                    "id": "bench-label",
                    "name": "Bench label",
                    "operator": "Bench",
                    "type": "iso14024",
                    "home_economies": ["KR"],
                    "certificate_coverage": "complete",
                },
            ),
            (
                "/v1/schemes/bench-label/categories",
                {
                    "code": "paints",
                    "name": "Paints",
                    "criteria_version": "1",
                    "valid_from": "2020-01-01",
                    "hs_codes": ["3208"],
                },
            ),
            ("/v1/subscriptions", {"url": receiver_url}),
        ):
            response = client.post(path, json=body, headers=key)
            assert response.status_code == 201, response.text
        response = client.post(
            "/v1/schemes/bench-label/certificates/import",
            content=certificates_csv(n),
            headers={**key, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, response.text
    return settings


def all_delivered(sessions: sessionmaker[Session], n: int) -> bool:
    """Whether all n deliveries are recorded delivered: asked of the queue's index (is one
    still pending?) while any is, so that the measuring costs the worker next to nothing;
    counted once none is."""
    d = WebhookDeliveryRow
    with sessions() as s:
        if s.execute(select(exists().where(d.state == "pending"))).scalar_one():
            return False
        return s.execute(select(func.count()).where(d.state == "delivered")).scalar_one() >= n


async def worker_side(settings: Settings, sessions: sessionmaker[Session], n: int) -> float:
    """Seconds from the worker's start until all n deliveries are recorded delivered."""
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(DeliveryWorker(sessions, settings).run(stop))
    while not await asyncio.to_thread(all_delivered, sessions, n):
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    stop.set()
    await task
    return seconds


async def bare_side(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds for a bare async client to post every body, `concurrency` at a time."""
    queue = iter(bodies)

    async def post_all(client: httpx.AsyncClient) -> None:
        for body in queue:
            response = await client.post(url, content=body)
            assert response.status_code == 204

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(post_all(client) for _ in range(concurrency)))
    return time.perf_counter() - started


async def bare_pool_side(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds for a bare httpcore2 pool (the worker's transport) to post every body."""
    queue = iter(bodies)

    async def post_all(pool: httpcore2.AsyncConnectionPool) -> None:
        for body in queue:
            async with pool.stream("POST", url, content=body) as response:
                await response.aread()
            assert response.status == 204

    started = time.perf_counter()
    async with httpcore2.AsyncConnectionPool(max_connections=concurrency) as pool:
        await asyncio.gather(*(post_all(pool) for _ in range(concurrency)))
    return time.perf_counter() - started


def reset(sessions: sessionmaker[Session]) -> None:
    """Every delivery pending again (the next worker round sends them all again)."""
    with sessions() as s, s.begin():
        s.execute(
            update(WebhookDeliveryRow).values(
                state="pending", next_attempt_at=dt.datetime.now(dt.UTC), attempts=0
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", default="small", help="The results file's size label.")
    parser.add_argument("--receive", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        receive(args.receive)
        return
    n = args.changes
    url = database(args.engine)
    with receiver() as receiver_url:
        settings = arrange(url, receiver_url, n)
        engine = create_engine(url, pool_size=settings.db_pool_size)
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions() as s:
            changes = SqlChangeLog(s).after(0, ChangeFilter(), n + 1000)
        bodies = [message(c) for c in changes if c.entity_type == "certificate"]
        assert len(bodies) == n, (len(bodies), n)
        concurrency = settings.webhook_concurrency
        worker_s: list[float] = []
        bare_s: list[float] = []
        pool_s: list[float] = []
        for r in range(args.rounds):
            if r:
                reset(sessions)
            worker_s.append(asyncio.run(worker_side(settings, sessions, n)))
            bare_s.append(asyncio.run(bare_side(receiver_url, bodies, concurrency)))
            pool_s.append(asyncio.run(bare_pool_side(receiver_url, bodies, concurrency)))
        engine.dispose()
    worker_rate, bare_rate, pool_rate = n / min(worker_s), n / min(bare_s), n / min(pool_s)
    ratio = worker_rate / bare_rate
    table(
        f"webhooks, {n:,} changes ({args.engine})",
        [
            ("worker", ", ".join(f"{s:.2f} s" for s in worker_s), f"{worker_rate:,.0f}/s"),
            ("bare async client", ", ".join(f"{s:.2f} s" for s in bare_s), f"{bare_rate:,.0f}/s"),
            ("ratio (>= 0.5)", f"{ratio:.2f}", verdict(ratio, RATIO_TARGET, True)),
            ("bare httpcore2 pool", ", ".join(f"{s:.2f} s" for s in pool_s), f"{pool_rate:,.0f}/s"),
            ("worker / bare pool (not the bar)", f"{worker_rate / pool_rate:.2f}", ""),
        ],
        ("side", "rounds", "deliveries a second"),
    )
    write_result(
        f"webhooks-{args.size}-{args.engine}",
        {
            "engine": args.engine,
            "changes": n,
            "concurrency": concurrency,
            "worker_seconds": worker_s,
            "bare_seconds": bare_s,
            "worker_per_s": round(worker_rate),
            "bare_per_s": round(bare_rate),
            "bare_pool_seconds": pool_s,
            "bare_pool_per_s": round(pool_rate),
            "ratio": round(ratio, 3),
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
