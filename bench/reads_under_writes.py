"""Reads under writes: single-query throughput while fact writes arrive vs. with none.

    python bench/reads_under_writes.py --size small --engine postgresql --seconds 10

Serves a copy of the generated registry (the writes never touch the registry itself: a
PostgreSQL database made from it as a template, or a copy of the SQLite file), then runs
wrk (1 thread, 32 connections, loopback) on the equivalence questions of single.py, in
`--rounds` pairs: once with no writes, once while a writer sends fact writes at `--rate`
a second (2: the bar's rate), each followed by a question; the quiet side sends the same
questions at the same times, without the writes. The writes take turns: a category changed
(its criteria closed, then reopened), a scheme renamed, an agreement renamed, a group's
membership changed (a member leaves, then joins again), on facts the writer adds to the
registry first; after each write's 2xx the writer asks a question whose answer depends on it, and
counts the answers that miss it (any such answer fails the script, in every mode). The best
round of each side counts. Writes bench/results/reads-under-writes-<size>-<engine>.json.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
from sqlalchemy import create_engine, make_url, text

from common import CLI, arguments, equivalence_paths, serve, table, verdict, write_bar, wrk
from generate import ADMIN_URL, ensure

RATIO_TARGET = 0.5
TAIL_TARGET = 4.0
ON = "2020-06-01"
HOME, PARTNER, LEAVER = "AQ", "BV", "HM"
"""Where the check questions are asked: the check scheme's home, its partner's group's member
and the member that joins and leaves that group. No generated agreement names a check scheme,
so each check answer depends on the check facts only."""


@contextlib.contextmanager
def registry_copy(manifest: dict[str, Any]) -> Iterator[str]:
    """A copy of the generated registry for the writes, removed afterwards; its URL."""
    url = manifest["database_url"]
    if url.startswith("sqlite"):
        source = url.removeprefix("sqlite:///")
        target = source.removesuffix(".sqlite3") + "-writes.sqlite3"
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        try:
            yield f"sqlite:///{target}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target + suffix)
        return
    name = make_url(url).database
    copy = f"{name}_writes"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
        try:
            yield make_url(url).set(database=copy).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
    finally:
        admin.dispose()


def operator_key(url: str) -> str:
    done = subprocess.run(
        [CLI, "keys", "create", "--role", "operator", "--name", "bench writer"],
        env={**os.environ, "ECOLABEL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


KINDS = ("category", "scheme", "agreement", "group")


class Writer:
    """Fact writes at a steady rate, each followed by a question that must see it.

    Each kind of write has a thread of its own, and the kinds take turns (at 2 writes a
    second, each kind writes every 2 s, a quarter period after the previous kind), so that the
    rate holds while a write waits for its answer, and a check sees its own kind's writes only.
    """

    def __init__(self, base: str, key: str, rate: float) -> None:
        self.client = httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"}
        )
        self.interval = 1 / rate
        self.versions: dict[str, int] = {}
        self.done = [0] * len(KINDS)
        self.stale: list[str] = []
        self.write_ms: list[float] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def count(self) -> int:
        """Writes done (each with its check)."""
        return sum(self.done)

    def _send(self, method: str, path: str, body: Any, versioned: bool = True) -> Any:
        headers = {}
        if versioned and path in self.versions:
            headers["If-Match"] = f'"{self.versions[path]}"'
        response = self.client.request(method, path, json=body, headers=headers)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        if "etag" in response.headers:
            self.versions[path] = int(response.headers["etag"].strip('W/"'))
        return response.json()

    def arrange(self) -> None:
        """The check facts: two schemes with a category each (the check scheme a second one, for
        the category writes), a group, an agreement and two certificates of the check scheme."""
        members = [{"member": PARTNER, "valid_from": "2000-01-01"}]
        self._send("PUT", "/v1/economies/RWCHK", {"name": "Bench check group", "members": members})
        self.versions["/v1/economies/RWCHK"] = 1
        for scheme_id, home in (("rw-check", HOME), ("rw-partner", "RWCHK")):
            self._send(
                "POST",
                "/v1/schemes",
                {
                    "id": scheme_id,
                    "name": f"{scheme_id} (bench check)",
                    "operator": "bench",
                    "type": "iso14024",
                    "home_economies": [home],
                    "certificate_coverage": "partial",
                },
            )
            self.versions[f"/v1/schemes/{scheme_id}"] = 1
            self._send(
                "POST",
                f"/v1/schemes/{scheme_id}/categories",
                {
                    "code": "paints",
                    "name": "Paints (bench check)",
                    "criteria_version": "1",
                    "valid_from": "2015-01-01",
                    "hs_codes": ["3208"],
                },
            )
            self.versions[f"/v1/schemes/{scheme_id}/categories/paints"] = 1
        agreement = self._send(
            "POST",
            "/v1/agreements",
            {
                "title": "Bench check agreement",
                "reference": "BENCH-CHECK",
                "direction": "mutual",
                "chaining": "not_allowed",
                "effective_from": "2015-01-01",
                "parties": ["rw-check", "rw-partner"],
                "scope_entries": [
                    {
                        "recognized_scheme_id": "rw-check",
                        "level": "full",
                        "valid_from": "2015-01-01",
                    }
                ],
            },
        )
        self.agreement = f"/v1/agreements/{agreement['id']}"
        self.versions[self.agreement] = 1
        self._send(
            "POST",
            "/v1/schemes/rw-check/categories",
            {
                "code": "boards",
                "name": "Boards (bench check)",
                "criteria_version": "1",
                "valid_from": "2015-01-01",
                "hs_codes": ["4418"],
            },
        )
        self.versions["/v1/schemes/rw-check/categories/boards"] = 1
        for number, category in (("RW-CHECK-1", "paints"), ("RW-CHECK-2", "boards")):
            self._send(
                "POST",
                "/v1/schemes/rw-check/certificates",
                {
                    "number": number,
                    "category_code": category,
                    "holder_name": "Bench holder",
                    "holder_economy": HOME,
                    "product_name": "Bench product",
                    "valid_from": "2015-01-01",
                    "valid_to": "2030-12-31",
                },
            )

    def ask(self, target: str, number: str = "RW-CHECK-1") -> dict[str, Any]:
        query = {"scheme": "rw-check", "certificate": number, "target": target, "on": ON}
        response = self.client.get("/v1/equivalence", params=query)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def one(self, kind: int) -> None:
        """One write of a kind and the question that must see it."""
        n = self.done[kind]
        started = time.perf_counter()
        if kind == 0:  # a category: its criteria closed before ON, then reopened
            closed = n % 2 == 0
            body = {"valid_to": "2016-12-31" if closed else None}
            self._send("PATCH", "/v1/schemes/rw-check/categories/boards", body)
            self.write_ms.append((time.perf_counter() - started) * 1000)
            codes = [r["code"] for r in self.ask(HOME, "RW-CHECK-2")["reasons"]]
            seen = ("CRITERIA_EXPIRED" in codes) == closed
        elif kind == 1:  # a scheme renamed
            name = f"rw-check (bench check, write {n})"
            self._send("PATCH", "/v1/schemes/rw-check", {"name": name})
            self.write_ms.append((time.perf_counter() - started) * 1000)
            seen = name in self.ask(HOME)["explanation"]
        elif kind == 2:  # an agreement renamed
            title = f"Bench check agreement, write {n}"
            self._send("PATCH", self.agreement, {"title": title})
            self.write_ms.append((time.perf_counter() - started) * 1000)
            seen = title in self.ask(PARTNER)["explanation"]
        else:  # a membership: LEAVER joins the group the partner scheme is homed in, then leaves
            joined = n % 2 == 0
            members = [{"member": PARTNER, "valid_from": "2000-01-01"}]
            if joined:
                members.append({"member": LEAVER, "valid_from": "2001-01-01"})
            body = {"name": "Bench check group", "members": members}
            self._send("PUT", "/v1/economies/RWCHK", body)
            self.write_ms.append((time.perf_counter() - started) * 1000)
            seen = self.ask(LEAVER)["recognized"] == joined
        if not seen:
            self.stale.append(f"{KINDS[kind]} write {n}")
        self.done[kind] += 1

    def probe(self, kind: int) -> None:
        """The question that follows a write of this kind, without the write."""
        if kind == 0:
            self.ask(HOME, "RW-CHECK-2")
        else:
            self.ask((HOME, PARTNER, LEAVER)[kind - 1])

    def _run(self, kind: int, due: float, writing: bool) -> None:
        period = self.interval * len(KINDS)
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            if writing:
                self.one(kind)
            else:
                self.probe(kind)
            due += period

    def start(self, writing: bool = True) -> None:
        """Writes (and their questions) at the rate; without `writing`, the questions alone."""
        self._stop.clear()
        now = time.monotonic()
        self._threads = [
            threading.Thread(
                target=self._run, args=(kind, now + kind * self.interval, writing), daemon=True
            )
            for kind in range(len(KINDS))
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def close(self) -> None:
        self.client.close()


def measure(
    manifest: dict[str, Any], workers: int, seconds: float, rounds: int, rate: float
) -> dict[str, Any]:
    paths = equivalence_paths(manifest, 20_000)
    with registry_copy(manifest) as url:
        key = operator_key(url)
        with serve(url, workers=workers) as server:
            writer = Writer(server.base, key, rate)
            try:
                writer.arrange()
                wrk(server.base, paths[:2000], 1)  # warm: caches, prepared statements
                quiet: dict[str, Any] = {}
                loaded: dict[str, Any] = {}
                writes = 0
                for _ in range(rounds):
                    # The same check questions on both sides (a trickle of requests from
                    # another client changes the served rate by itself); only the writes differ.
                    writer.start(writing=False)
                    try:
                        q = wrk(server.base, paths, seconds)
                    finally:
                        writer.stop()
                    before = writer.count
                    writer.start()
                    try:
                        w = wrk(server.base, paths, seconds)
                    finally:
                        writer.stop()
                    writes += writer.count - before
                    if q["rps"] > quiet.get("rps", 0):
                        quiet = q
                    if w["rps"] > loaded.get("rps", 0):
                        done = writer.count - before
                        loaded = {**w, "writes": done, "writes_per_second": done / w["seconds"]}
            finally:
                writer.close()
    ratio = loaded["rps"] / quiet["rps"]
    tail = loaded["p99_ms"] / loaded["p50_ms"] if loaded["p50_ms"] else None
    quiet_tail = quiet["p99_ms"] / quiet["p50_ms"] if quiet["p50_ms"] else None
    write_ms = sorted(writer.write_ms)
    return {
        "workers": workers,
        "quiet": quiet,
        "under_writes": loaded,
        "ratio": ratio,
        "p99_over_p50": tail,
        "quiet_p99_over_p50": quiet_tail,
        "writes": writes,
        "rate_asked": rate,
        "write_ms_median": write_ms[len(write_ms) // 2] if write_ms else None,
        "stale_answers": len(writer.stale),
        "stale": writer.stale[:20],
    }


def main() -> None:
    parser = arguments(__doc__, workers=[1])
    parser.add_argument("--rate", type=float, default=2.0, help="Fact writes a second.")
    args = parser.parse_args()
    manifest = ensure(args.size, args.engine)
    runs = [measure(manifest, w, args.seconds, args.rounds, args.rate) for w in args.workers]
    rows = []
    for run in runs:
        q, w = run["quiet"], run["under_writes"]
        rows.append(
            (
                str(run["workers"]),
                f"{q['rps']:,.0f} (p99/p50 {run['quiet_p99_over_p50']:.1f})",
                f"{w['rps']:,.0f} ({w['writes_per_second']:.1f} writes/s)",
                f"{run['ratio']:.2f} (>= {RATIO_TARGET}) "
                f"{verdict(run['ratio'], RATIO_TARGET, True)}",
                f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f}",
                f"{run['p99_over_p50']:.1f} (<= {TAIL_TARGET:.0f}) "
                f"{verdict(run['p99_over_p50'], TAIL_TARGET, False)}",
                f"{run['stale_answers']} of {run['writes']} "
                + ("[green]met[/green]" if run["stale_answers"] == 0 else "[red]not met[/red]"),
                str(w["non_2xx"] + w["socket_errors"]),
            )
        )
    table(
        f"reads under {args.rate:g} fact writes/s, {manifest['agreements']:,} agreements, "
        f"{args.engine}",
        rows,
        (
            "workers",
            "no writes req/s",
            "under writes req/s",
            "ratio",
            "p50 / p99 ms under writes",
            "p99/p50",
            "answers missing a write",
            "errors",
        ),
    )
    write_bar(
        "reads-under-writes",
        args,
        manifest,
        agreements=manifest["agreements"],
        runs=runs,
        targets={"ratio": RATIO_TARGET, "p99_over_p50": TAIL_TARGET, "stale_answers": 0},
    )
    if any(run["stale_answers"] for run in runs):  # a broken rule, not a slow run: fail
        raise SystemExit(f"answers missed an acknowledged write: {runs[0]['stale']}")


if __name__ == "__main__":
    main()
