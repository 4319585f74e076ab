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

from common import (
    arguments,
    equivalence_paths,
    served_vs_trivial,
    served_vs_trivial_table,
    write_bar,
)
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
    served_vs_trivial_table(
        f"single query, {manifest['certificates']:,} certificates, {args.engine}",
        runs,
        "equivalence",
        "equivalence",
        SINGLE_TARGET,
        TAIL_TARGET,
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
