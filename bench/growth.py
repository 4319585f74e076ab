"""Bar (d) growth: single-query throughput at 1M certificates vs. at 10k.

    python bench/growth.py --engine postgresql --seconds 10

Serves the `small` (10k) and the `large` (1M) registry one after the other (generating
them when missing: the large one takes a few minutes) and runs the same wrk load of
equivalence questions on each, with the trivial endpoint measured alongside as a check
that the machine did not change in between. `--from`/`--to` pick other sizes (the smoke
run compares `smoke` with `small`). Writes bench/results/growth-<engine>.json.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import equivalence_paths, serve, table, verdict, write_result, wrk
from generate import ensure

TARGET = 1.5


def throughput(manifest: dict[str, Any], seconds: float, rounds: int) -> dict[str, float]:
    paths = equivalence_paths(manifest, 20_000)
    best = {"trivial": 0.0, "equivalence": 0.0, "p99_ms": 0.0}
    with serve(manifest["database_url"]) as server:
        wrk(server.base, paths[:2000], 1)
        for _ in range(rounds):
            t = wrk(server.base, ["/bench/trivial"], seconds)
            q = wrk(server.base, paths, seconds)
            best["trivial"] = max(best["trivial"], t["rps"])
            if q["rps"] > best["equivalence"]:
                best["equivalence"], best["p99_ms"] = q["rps"], q["p99_ms"]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--from", dest="small", default="small")
    parser.add_argument("--to", dest="large", default="large")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    few, many = ensure(args.small, args.engine), ensure(args.large, args.engine)
    a = throughput(few, args.seconds, args.rounds)
    b = throughput(many, args.seconds, args.rounds)
    slower = a["equivalence"] / b["equivalence"]
    table(
        f"growth, {args.engine}",
        [
            (
                f"{few['certificates']:,}",
                f"{a['trivial']:,.0f}",
                f"{a['equivalence']:,.0f}",
                f"{a['p99_ms']:.2f}",
                "",
            ),
            (
                f"{many['certificates']:,}",
                f"{b['trivial']:,.0f}",
                f"{b['equivalence']:,.0f}",
                f"{b['p99_ms']:.2f}",
                f"{slower:.2f}x slower (<= {TARGET}) {verdict(slower, TARGET, False)}",
            ),
        ],
        ("certificates", "trivial req/s", "equivalence req/s", "p99 ms", "growth"),
    )
    write_result(
        f"growth-{args.engine}",
        {
            "engine": args.engine,
            "from": {"size": args.small, "certificates": few["certificates"], **a},
            "to": {"size": args.large, "certificates": many["certificates"], **b},
            "slowdown": round(slower, 3),
            "target": TARGET,
        },
    )


if __name__ == "__main__":
    main()
