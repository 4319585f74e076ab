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

import argparse
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
    _run_wrk,
    ensure_tool,
    ensure_wrk,
    serve,
    table,
    verdict,
    write_result,
    wrk,
)
from ecolabel_registry.persistence.hot import HotFacts, HotReads
from ecolabel_registry.persistence.repositories import SqlCertificateRepository
from ecolabel_registry.services.snapshots import ResolverCache
from generate import ensure

KEY_NAME = "bench decisions"
ONE_TARGET = 0.2
LINES_TARGET = 0.4

POST_LUA = r"""
local bodies = {}
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. KEY}
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  counter = math.random(#bodies)
end
function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/v1/decisions", headers, bodies[counter])
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %.6f, "rps": %.2f, "p50_ms": %.3f, ' ..
    '"p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
"""


def question_bodies(manifest: dict[str, Any], n: int, seed: int = 1) -> list[str]:
    """`n` different one-question decision bodies over the manifest's certificates."""
    rng = random.Random(seed)
    sample, targets = manifest["sample"], manifest["targets"]
    bodies = []
    for i in range(n):
        scheme, number = sample[i % len(sample)]
        question = {
            "scheme": scheme,
            "certificate": number,
            "target": rng.choice(targets),
            "on": (dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(3600))).isoformat(),
        }
        bodies.append(json.dumps({"question": question}, separators=(",", ":")))
    return bodies


def post_wrk(base: str, key: str, bodies: list[str], seconds: float) -> dict[str, Any]:
    """wrk posting `bodies` in turn to /v1/decisions with the API key."""
    binary = ensure_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    script = VAR / "decisions.lua"
    script.write_text(f"KEY = {json.dumps(key)}\n" + POST_LUA)
    listing = VAR / "decision-bodies.txt"
    listing.write_text("\n".join(bodies) + "\n")
    try:
        out = _run_wrk(binary, script, listing, base, seconds, 32)
    finally:
        listing.unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    return result


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
    env = {"ECOLABEL_SIGNING_KEY_FILE": str(key_file)}
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
    trivial: dict[str, Any] = {}
    one: dict[str, Any] = {}
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
            for _ in range(rounds):
                t = wrk(server.base, ["/bench/trivial"], seconds)
                q = post_wrk(server.base, key, bodies, seconds)
                if t["rps"] > trivial.get("rps", 0):
                    trivial = t
                if q["rps"] > one.get("rps", 0):
                    one = q
                best_pure = min(best_pure, pure())
                best_http = min(best_http, post_lines())
    finally:
        engine = create_engine(url)
        with engine.begin() as conn:
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
    write_result(
        f"decisions-{args.size}-{args.engine}",
        {
            "size": args.size,
            "engine": args.engine,
            "certificates": manifest["certificates"],
            "seconds": args.seconds,
            **run,
            "targets": {"one_ratio": ONE_TARGET, "lines_ratio": LINES_TARGET},
        },
    )


if __name__ == "__main__":
    main()
