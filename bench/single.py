"""Bars (a) single query and (b) tail latency: GET /v1/equivalence vs. /bench/trivial.

    python bench/single.py --size small --engine postgresql --seconds 10 --workers 1 2

Starts the server on the generated registry (bench/generate.py makes it when missing), then
runs wrk (1 thread, 32 connections, loopback) on the trivial endpoint and on equivalence
questions cycling through thousands of different certificates, targets and dates, and
alternates the two `--rounds` times; the best round of each counts. Writes
bench/results/single-<size>-<engine>.json.
"""

from __future__ import annotations

from typing import Any

from common import arguments, equivalence_paths, served_vs_trivial, table, verdict, write_bar
from generate import ensure

SINGLE_TARGET = 0.5
TAIL_TARGET = 4.0


def measure(manifest: dict[str, Any], workers: int, seconds: float, rounds: int) -> dict[str, Any]:
    paths = equivalence_paths(manifest, 20_000)
    trivial, query = served_vs_trivial(manifest["database_url"], workers, paths, seconds, rounds)
    ratio = query["rps"] / trivial["rps"]
    tail = query["p99_ms"] / query["p50_ms"] if query["p50_ms"] else None
    return {
        "workers": workers,
        "trivial": trivial,
        "equivalence": query,
        "ratio": ratio,
        "p99_over_p50": tail,
    }


def main() -> None:
    args = arguments(__doc__, workers=[1, 2]).parse_args()
    manifest = ensure(args.size, args.engine)
    runs = [measure(manifest, w, args.seconds, args.rounds) for w in args.workers]
    rows = []
    for run in runs:
        t, q = run["trivial"], run["equivalence"]
        rows.append(
            (
                str(run["workers"]),
                f"{t['rps']:,.0f}",
                f"{q['rps']:,.0f}",
                f"{run['ratio']:.2f} (>= {SINGLE_TARGET}) "
                f"{verdict(run['ratio'], SINGLE_TARGET, True)}",
                f"{q['p50_ms']:.2f} / {q['p99_ms']:.2f}",
                f"{run['p99_over_p50']:.1f} (<= {TAIL_TARGET:.0f}) "
                f"{verdict(run['p99_over_p50'], TAIL_TARGET, False)}",
                str(q["non_2xx"] + q["socket_errors"]),
            )
        )
    table(
        f"single query, {manifest['certificates']:,} certificates, {args.engine}",
        rows,
        (
            "workers",
            "trivial req/s",
            "equivalence req/s",
            "ratio",
            "p50 / p99 ms",
            "p99/p50",
            "errors",
        ),
    )
    write_bar(
        "single",
        args,
        manifest,
        runs=runs,
        targets={"ratio": SINGLE_TARGET, "p99_over_p50": TAIL_TARGET},
    )


if __name__ == "__main__":
    main()
