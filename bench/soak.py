"""Soak: minutes of mixed load on loopback against a server this script starts.

    .venv/bin/python bench/soak.py                 # 300 s on a fresh SQLite file
    .venv/bin/python bench/soak.py --seconds 20    # a smoke run
    .venv/bin/python bench/soak.py --database-url postgresql+psycopg://postgres@127.0.0.1/soak

The database (a new SQLite file unless --database-url names an empty one) is migrated and
loaded with the demo registry; an operator key is made. Client threads then send single
equivalence questions, batches, certificate status events and certificate creates, until
--seconds or --max-requests is reached. The server's RSS is sampled from /proc every second.
It prints a table and writes bench/results/soak-<time>.json; the exit status is 1 when any
request failed (no answer, 5xx or an unexpected status) or RSS grew more than --max-growth
between the first and the last third of the run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

import httpx2 as httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CLI = str(Path(sys.executable).parent / "ecolabel-registry")
HOST = "127.0.0.1"  # loopback only

QUESTIONS = [
    ("eu-ecolabel", "DEMO/FR/044/017", "KR", "2025-03-01", "320810"),
    ("eu-ecolabel", "DEMO/FR/044/017", "JP", "2025-03-01", None),
    ("eu-ecolabel", "DEMO/FR/044/017", "DE", None, "3208"),
    ("korea-eco-label", "DEMO-KR-0001", "CN", "2024-06-01", None),
    ("blue-angel", "DEMO-BA-0001", "KR", None, None),
    ("eu-ecolabel", "NO-SUCH-CERTIFICATE", "KR", None, None),  # a 404 by design
]
EVENT_CERTIFICATES = [
    ("korea-eco-label", "DEMO-KR-0001"),
    ("blue-angel", "DEMO-BA-0001"),
]
# What each kind of request may answer; anything else is an error.
EXPECTED = {
    "equivalence": {200, 404},
    "batch": {200},
    "status_event": {201},
    "create_certificate": {201},
}
MIX = [("equivalence", 60), ("batch", 10), ("status_event", 15), ("create_certificate", 15)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ecolabel-registry {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def rss_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int | None, took: float, detail: str = "") -> None:
        with self.lock:
            self.counts[kind] += 1
            self.statuses[f"{kind} {status}"] += 1
            self.latencies.setdefault(kind, []).append(took)
            if status is None or status not in EXPECTED[kind]:
                if len(self.errors) < 50:
                    self.errors.append(f"{kind}: {status} {detail[:300]}")
                self.counts["errors"] += 1


class Worker:
    def __init__(self, base_url: str, key: str, tally: Tally, seed: int, numbers: Any) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.auth = {"Authorization": f"Bearer {key}"}
        self.tally = tally
        self.random = random.Random(seed)
        self.numbers = numbers
        self.kinds = [k for k, weight in MIX for _ in range(weight)]

    def once(self) -> None:
        kind = self.random.choice(self.kinds)
        started = time.perf_counter()
        try:
            response = getattr(self, kind)()
        except httpx.HTTPError as exc:
            self.tally.record(kind, None, time.perf_counter() - started, repr(exc))
            return
        took = time.perf_counter() - started
        self.tally.record(kind, response.status_code, took, response.text)

    def equivalence(self) -> httpx.Response:
        scheme, number, target, on, hs = self.random.choice(QUESTIONS)
        params = {"scheme": scheme, "certificate": number, "target": target}
        if on:
            params["on"] = on
        if hs:
            params["hs_code"] = hs
        return self.client.get("/v1/equivalence", params=params)

    def batch(self) -> httpx.Response:
        lines = []
        for i in range(200):
            scheme, number, target, on, hs = self.random.choice(QUESTIONS)
            lines.append(
                {"ref": str(i), "scheme": scheme, "certificate": number, "target": target}
                | ({"on": on} if on else {})
                | ({"hs_code": hs} if hs else {})
            )
        return self.client.post("/v1/equivalence/batch", json={"lines": lines})

    def status_event(self) -> httpx.Response:
        scheme, number = self.random.choice(EVENT_CERTIFICATES)
        status = self.random.choice(["active", "suspended"])
        return self.client.post(
            f"/v1/schemes/{scheme}/certificates/{number}/status-events",
            json={"status": status, "effective_date": "2025-01-01", "reason": "soak test"},
            headers=self.auth,
        )

    def create_certificate(self) -> httpx.Response:
        number = f"SOAK-{next(self.numbers)}"
        return self.client.post(
            "/v1/schemes/korea-eco-label/certificates",
            json={
                "number": number,
                "category_code": "paints",
                "holder_name": "Soak test holder (illustrative)",
                "holder_economy": "KR",
                "product_name": "Soak test paint",
                "hs_codes": ["3209"],
                "valid_from": "2024-01-01",
                "valid_to": "2027-12-31",
            },
            headers=self.auth,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--max-growth", type=float, default=0.20, help="RSS, last vs first third")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    console = Console()

    tmp = Path(tempfile.mkdtemp(prefix="ecolabel-soak-"))
    url = args.database_url or f"sqlite:///{tmp / 'soak.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOLABEL_")}
    env |= {"ECOLABEL_DATABASE_URL": url, "ECOLABEL_LOG_LEVEL": "WARNING"}
    run_cli(env, "migrate")
    run_cli(env, "seed", "--demo")
    key = run_cli(env, "keys", "create", "--role", "operator", "--name", "soak").split()[-1]

    port = free_port()
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen(
        [CLI, "serve", "--host", HOST, "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base_url = f"http://{HOST}:{port}"
    tally = Tally()
    samples: list[tuple[float, int]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not become ready")
            time.sleep(0.1)

        stop = threading.Event()
        numbers = itertools.count()
        started = time.monotonic()
        sent = itertools.count()

        def drive(seed: int) -> None:
            worker = Worker(base_url, key, tally, seed, numbers)
            while not stop.is_set() and next(sent) < args.max_requests:
                worker.once()
            worker.client.close()

        threads = [
            threading.Thread(target=drive, args=(args.seed + i,)) for i in range(args.threads)
        ]
        for thread in threads:
            thread.start()
        while time.monotonic() - started < args.seconds and any(t.is_alive() for t in threads):
            rss = rss_kib(server.pid)
            if rss is not None:
                samples.append((round(time.monotonic() - started, 1), rss))
            time.sleep(1)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    third = max(1, len(samples) // 3)
    first = mean(r for _, r in samples[:third]) if samples else 0.0
    last = mean(r for _, r in samples[-third:]) if samples else 0.0
    growth = (last - first) / first if first else 0.0
    total = sum(v for k, v in tally.counts.items() if k != "errors")
    errors = tally.counts["errors"]

    table = Table(title=f"soak: {elapsed:.0f} s, {total} requests, {errors} errors")
    table.add_column("request")
    table.add_column("count", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    latency: dict[str, dict[str, float]] = {}
    for kind, values in sorted(tally.latencies.items()):
        ordered = sorted(values)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        latency[kind] = {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2)}
        table.add_row(kind, str(tally.counts[kind]), f"{p50:.1f}", f"{p99:.1f}")
    console.print(table)

    rss_table = Table(
        title="server RSS",
        caption=f"mean of the first third {first / 1024:.1f} MiB, "
        f"of the last third {last / 1024:.1f} MiB: {growth:+.1%}",
    )
    rss_table.add_column("t (s)", justify="right")
    rss_table.add_column("RSS (MiB)", justify="right")
    step = max(1, len(samples) // 12)
    for t, rss in samples[::step] + ([samples[-1]] if samples else []):
        rss_table.add_row(f"{t:.0f}", f"{rss / 1024:.1f}")
    console.print(rss_table)
    for line in tally.errors[:10]:
        console.print(f"[red]{line}[/red]")

    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": url.split("@")[-1],
        "seconds": round(elapsed, 1),
        "threads": args.threads,
        "requests": total,
        "requests_per_second": round(total / elapsed, 1) if elapsed else 0,
        "errors": errors,
        "error_samples": tally.errors[:20],
        "statuses": dict(sorted(tally.statuses.items())),
        "latency": latency,
        "rss_kib": samples,
        "rss_first_third_kib": round(first),
        "rss_last_third_kib": round(last),
        "rss_growth": round(growth, 4),
        "max_growth": args.max_growth,
    }
    out = RESULTS / f"soak-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out.relative_to(ROOT)}")
    failed = errors > 0 or growth > args.max_growth or total == 0
    if failed:
        console.print("[red]soak failed[/red]: errors or memory growth over the bar")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
