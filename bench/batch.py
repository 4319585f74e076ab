"""Bar (c) batch: POST /v1/equivalence/batch (10,000 lines) vs. the in-process resolver.

    python bench/batch.py --size small --engine postgresql

The same 10,000 lines (different certificates, targets and dates) are answered three ways:
by the domain resolver in this process over certificates already in memory (the bar's
yardstick), by the equivalence service in this process (reading the certificates from the
database the way the server does), and over HTTP on loopback (one request at a time, sent
by curl, whose own `time_total` is the request's time: a client in C, so that the figure is
the server's and not a Python client's parsing of the 5.5 MB answer). The three are timed in
turn in each of --rounds rounds, and the best of each counts. Writes
bench/results/batch-<size>-<engine>.json.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from common import arguments, ensure_tool, question, serve, table, verdict, write_result
from ecolabel_registry.cli import tuned_process
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.persistence.repositories import SqlCertificateRepository
from ecolabel_registry.services.equivalence import EquivalenceService, Question
from ecolabel_registry.services.snapshots import ResolverCache
from ecolabel_registry.settings import Settings
from generate import ensure

TARGET = 0.5
LINES = 10_000


def make_lines(manifest: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """`n` lines over certificates drawn from the manifest's sample, each with its ref."""
    rng = random.Random(3)
    sample, targets = manifest["sample"], manifest["targets"]
    return [
        {"ref": f"L{i}", **question(rng, *sample[rng.randrange(len(sample))], targets)}
        for i in range(n)
    ]


def measure(
    url: str, lines: list[dict[str, Any]], rounds: int
) -> tuple[float, float, float, dict[str, int]]:
    """Lines/s of the pure resolver, the in-process service and HTTP, best of each.

    The three are timed in turn within each round, so that every round sees the machine in
    the same state on all three sides (a busy machine slows all of them, not just one).
    """
    questions = [
        Question(
            x["ref"],
            x["scheme"],
            x["certificate"],
            x["target"],
            dt.date.fromisoformat(x["on"]),
            x.get("hs_code"),
        )
        for x in lines
    ]
    body = json.dumps({"lines": lines}, separators=(",", ":")).encode()
    curl = ensure_tool("curl")
    engine = create_engine(url)
    reads = HotReads(engine, held=False)  # as the server reads a batch
    facts = HotFacts(reads)
    cache = ResolverCache()
    snapshot = cache.get(facts)
    with reads.session() as session:  # whole certificates, as the domain holds them
        certificates = SqlCertificateRepository(session).get_many(
            [(q.scheme, q.certificate) for q in questions]
        )
    resolver, categories = snapshot.resolver, snapshot.categories
    service = EquivalenceService(facts, cache)
    best_pure = best_service = best_http = float("inf")
    summary: dict[str, int] = {}
    # The in-process side runs as a served process does (the collector tuned and the warm
    # cache frozen), as the server it is compared with.
    with serve(url) as server, tuned_process(Settings(database_url=url)):

        def post() -> float:
            nonlocal summary
            with tempfile.TemporaryDirectory() as tmp:
                request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
                request.write_bytes(body)
                # No "Expect: 100-continue" round trip before the body.
                command = [curl, "-sS", "--fail", "-H", "Content-Type: application/json"]
                command += ["-H", "Expect:", "--data-binary", f"@{request}", "-o", str(answer)]
                command += ["-w", "%{time_total}", f"{server.base}/v1/equivalence/batch"]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                summary = json.loads(answer.read_bytes())["summary"]
            return float(done.stdout)

        post()  # the first request builds the server's snapshot
        for _ in range(rounds):
            started = time.perf_counter()
            for q in questions:
                c = certificates[(q.scheme, q.certificate)]
                resolver.resolve(
                    c, categories[(c.scheme_id, c.category_code)], q.target, q.on, q.hs_code
                )
            best_pure = min(best_pure, time.perf_counter() - started)
            best_http = min(best_http, post())
            started = time.perf_counter()
            service.batch(questions)
            best_service = min(best_service, time.perf_counter() - started)
    asyncio.run(reads.aclose())
    engine.dispose()
    n = len(lines)
    return n / best_pure, n / best_service, n / best_http, summary


def main() -> None:
    args = arguments(__doc__, seconds=None, rounds=5).parse_args()
    manifest = ensure(args.size, args.engine)
    lines = make_lines(manifest, LINES)
    pure, service, http, summary = measure(manifest["database_url"], lines, args.rounds)
    ratio = http / pure
    table(
        f"batch of {LINES:,} lines, {manifest['certificates']:,} certificates, {args.engine}",
        [
            ("in-process resolver (certificates in memory)", f"{pure:,.0f}", "1.00", ""),
            (
                "in-process service (reads certificates)",
                f"{service:,.0f}",
                f"{service / pure:.2f}",
                "",
            ),
            (
                "POST /v1/equivalence/batch",
                f"{http:,.0f}",
                f"{ratio:.2f}",
                f">= {TARGET} {verdict(ratio, TARGET, True)}",
            ),
        ],
        ("path", "lines/s", "ratio", "target"),
    )
    write_result(
        f"batch-{args.size}-{args.engine}",
        {
            "size": args.size,
            "engine": args.engine,
            "lines": LINES,
            "in_process_resolver_lines_per_s": round(pure),
            "in_process_service_lines_per_s": round(service),
            "http_lines_per_s": round(http),
            "ratio": round(ratio, 3),
            "target": TARGET,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
