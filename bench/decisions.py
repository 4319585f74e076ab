"""Bar "decisions": POST /v1/decisions of one question vs. /bench/trivial, and of 10,000
lines vs. the in-process resolver.

    python bench/decisions.py --size small --engine postgresql

Starts the server on the generated registry (bench/generate.py makes it when missing) with a
signing key file and an API key of its own. One-question decisions: wrk (1 thread, 32
connections, loopback) posts questions cycling through thousands of certificates, targets
and dates, alternating with the trivial endpoint `--rounds` times; the best round of each
counts. The 10,000-line decision: the batch benchmark's lines (bench/batch.py), answered by
the domain resolver in this process over certificates already in memory (the yardstick) and
recorded over HTTP (sent by curl, whose `time_total` is the request's time), in turn, best of
each. Every decision is signed and stored, as in use; the benchmark's decisions and its key
are deleted at the end. Writes bench/results/decisions-<size>-<engine>.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from batch import LINES, make_lines
from common import (
    CLI,
    VAR,
    alternate,
    arguments,
    ensure_tool,
    question,
    serve,
    table,
    verdict,
    write_bar,
    wrk,
)
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.persistence.repositories import SqlCertificateRepository
from ecolabel_registry.services.snapshots import ResolverCache
from generate import ensure

KEY_NAME = "bench decisions"
ONE_TARGET = 0.2
LINES_TARGET = 0.4


def question_bodies(manifest: dict[str, Any], n: int, seed: int = 1) -> list[str]:
    """`n` different one-question decision bodies over the manifest's certificates."""
    rng = random.Random(seed)
    sample, targets = manifest["sample"], manifest["targets"]
    return [
        json.dumps(
            {"question": question(rng, *sample[i % len(sample)], targets, hs_codes=False)},
            separators=(",", ":"),
        )
        for i in range(n)
    ]


def post_wrk(base: str, key: str, bodies: list[str], seconds: float) -> dict[str, Any]:
    """wrk posting `bodies` in turn to /v1/decisions with the API key."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return wrk(base, bodies, seconds, post="/v1/decisions", headers=headers)


def api_key(url: str) -> str:
    env = {"ECOLABEL_DATABASE_URL": url, "ECOLABEL_LOG_JSON": "false"}
    done = subprocess.run(
        [CLI, "keys", "create", "--role", "operator", "--name", KEY_NAME],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def resolver_pass(url: str, lines: list[dict[str, Any]]) -> Callable[[], float]:
    """The seconds of one pass of the domain resolver over `lines`, with the certificates
    already in memory (read here, once)."""
    engine = create_engine(url)
    reads = HotReads(engine, held=False)
    snapshot = ResolverCache().get(HotFacts(reads))
    with reads.session() as session:
        certificates = SqlCertificateRepository(session).get_many(
            [(x["scheme"], x["certificate"]) for x in lines]
        )
    engine.dispose()
    resolve, categories = snapshot.resolver.resolve, snapshot.categories
    questions = [
        (
            certificates[(x["scheme"], x["certificate"])],
            x["target"],
            dt.date.fromisoformat(x["on"]),
            x.get("hs_code"),
        )
        for x in lines
    ]

    def one_pass() -> float:
        started = time.perf_counter()
        for c, target, on, hs_code in questions:
            resolve(c, categories[(c.scheme_id, c.category_code)], target, on, hs_code)
        return time.perf_counter() - started

    return one_pass


def measure(manifest: dict[str, Any], seconds: float, rounds: int) -> dict[str, Any]:
    url = manifest["database_url"]
    key_file = VAR / f"signing-keys-{manifest['size']}-{manifest['engine']}.json"
    key_file.unlink(missing_ok=True)
    # The run records far more lines than a key's hourly quota lets a client: no quota here.
    env = {
        "ECOLABEL_SIGNING_KEY_FILE": str(key_file),
        "ECOLABEL_DECISION_LINES_PER_KEY_PER_HOUR": "0",
    }
    subprocess.run(
        [CLI, "signing-key", "create"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    key = api_key(url)
    bodies = question_bodies(manifest, 20_000)
    lines = make_lines(manifest, LINES)
    body = json.dumps({"lines": lines}, separators=(",", ":")).encode()
    curl = ensure_tool("curl")
    pure = resolver_pass(url, lines)
    best_pure = best_http = float("inf")
    receipt_bytes = 0
    try:
        with serve(url, **env) as server, tempfile.TemporaryDirectory() as tmp:
            request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
            request.write_bytes(body)

            def post_lines() -> float:
                nonlocal receipt_bytes
                command = [curl, "-sS", "--fail", "-H", "Content-Type: application/json"]
                command += ["-H", f"Authorization: Bearer {key}", "-H", "Expect:"]
                command += ["--data-binary", f"@{request}", "-o", str(answer)]
                command += ["-w", "%{time_total}", f"{server.base}/v1/decisions"]
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                receipt_bytes = len(json.loads(answer.read_bytes())["receipt"])
                return float(done.stdout)

            post_wrk(server.base, key, bodies[:2000], 1)  # warm
            wrk(server.base, ["/bench/trivial"], 1)
            post_lines()

            def lines_round() -> None:
                nonlocal best_pure, best_http
                best_pure = min(best_pure, pure())
                best_http = min(best_http, post_lines())

            trivial, one = alternate(
                server.base,
                lambda s: post_wrk(server.base, key, bodies, s),
                seconds,
                rounds,
                lines_round,
            )
    finally:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM decision_credential"))
            conn.execute(text("DELETE FROM decision"))
            conn.execute(text("DELETE FROM api_key WHERE name = :name"), {"name": KEY_NAME})
        engine.dispose()
        key_file.unlink(missing_ok=True)
    n = len(lines)
    return {
        "trivial": trivial,
        "one_question": one,
        "one_ratio": one["rps"] / trivial["rps"],
        "in_process_resolver_lines_per_s": round(n / best_pure),
        "http_lines_per_s": round(n / best_http),
        "lines_ratio": best_pure / best_http,
        "lines": n,
        "receipt_bytes": receipt_bytes,
    }


def main() -> None:
    args = arguments(__doc__, rounds=3).parse_args()
    manifest = ensure(args.size, args.engine)
    run = measure(manifest, args.seconds, args.rounds)
    t, q = run["trivial"], run["one_question"]
    table(
        f"decisions, {manifest['certificates']:,} certificates, {args.engine}",
        [
            (
                "one question: POST /v1/decisions vs /bench/trivial",
                f"{q['rps']:,.0f} vs {t['rps']:,.0f} req/s, p50/p99 "
                f"{q['p50_ms']:.1f}/{q['p99_ms']:.1f} ms, errors "
                f"{q['non_2xx'] + q['socket_errors']}",
                f"{run['one_ratio']:.2f}",
                f">= {ONE_TARGET} {verdict(run['one_ratio'], ONE_TARGET, True)}",
            ),
            (
                f"{run['lines']:,} lines: POST /v1/decisions vs in-process resolver",
                f"{run['http_lines_per_s']:,} vs {run['in_process_resolver_lines_per_s']:,} "
                f"lines/s, receipt {run['receipt_bytes'] / 1e6:.1f} MB",
                f"{run['lines_ratio']:.2f}",
                f">= {LINES_TARGET} {verdict(run['lines_ratio'], LINES_TARGET, True)}",
            ),
        ],
        ("bar", "figures", "ratio", "target"),
    )
    write_bar(
        "decisions",
        args,
        manifest,
        **run,
        targets={"one_ratio": ONE_TARGET, "lines_ratio": LINES_TARGET},
    )


if __name__ == "__main__":
    main()
