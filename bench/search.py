"""Bar "search and pages": GET /v1/certificates?q= and the certificate page vs /bench/trivial.

    python bench/search.py --size small --engine postgresql --seconds 10 --workers 1

Starts the server on the generated registry (bench/generate.py makes it when missing), then
runs wrk (1 thread, 32 connections, loopback) on the trivial endpoint, on searches cycling
through thousands of different words (certificate numbers, holders, brands, products) and on
certificate pages of the manifest's sample, alternating them `--rounds` times; the best round
of each counts. Bar: each >= 0.25 of the trivial endpoint's requests per second, with
p99 <= 4 x p50. Writes bench/results/search-<size>-<engine>.json.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote, urlencode

from common import arguments, serve, table, verdict, write_bar, wrk
from generate import ensure

RATIO_TARGET = 0.25
TAIL_TARGET = 4.0


def search_paths(manifest: dict[str, Any], n: int, seed: int = 2) -> list[str]:
    """`n` different searches: numbers of the sample, holders, brands and products."""
    rng = random.Random(seed)
    sample = manifest["sample"]
    paths = []
    for i in range(n):
        dice = rng.random()
        if dice < 0.4:
            q = sample[i % len(sample)][1]
        elif dice < 0.7:
            q = f"holder {rng.randrange(50_000):05d}"
        elif dice < 0.85:
            q = f"brand {rng.randrange(2000)}"
        else:
            q = f"product {rng.randrange(1000, 100_000)}"
        paths.append("/v1/certificates?" + urlencode({"q": q, "limit": 20}))
    return paths


def page_paths(manifest: dict[str, Any], n: int, seed: int = 3) -> list[str]:
    """Certificate pages of the sample, in a seeded random order.

    The sample lists each scheme's certificates one after another, and a scheme's
    certificates often count in the same economies: a page that counts in some seventy
    economies costs ten to twenty times one that counts nowhere. In the sample's order,
    hundreds of costly pages would come one after another (as no crowd of visitors does),
    and the tail would measure that order rather than the pages.
    """
    sample = list(manifest["sample"])
    random.Random(seed).shuffle(sample)
    return [
        f"/certificates/{quote(scheme)}/{quote(number, safe='/')}"
        for scheme, number in (sample[i % len(sample)] for i in range(n))
    ]


def measure(manifest: dict[str, Any], workers: int, seconds: float, rounds: int) -> dict[str, Any]:
    searches = search_paths(manifest, 20_000)
    pages = page_paths(manifest, 5_000)
    with serve(manifest["database_url"], workers=workers) as server:
        wrk(server.base, searches[:2000], 1)  # warm: caches, prepared statements, page cache
        wrk(server.base, pages[:1000], 1)
        wrk(server.base, ["/bench/trivial"], 1)
        best: dict[str, dict[str, Any]] = {"trivial": {}, "search": {}, "page": {}}
        for _ in range(rounds):
            for name, paths in (
                ("trivial", ["/bench/trivial"]),
                ("search", searches),
                ("page", pages),
            ):
                r = wrk(server.base, paths, seconds)
                if r["rps"] > best[name].get("rps", 0):
                    best[name] = r
    trivial = best["trivial"]["rps"]
    result: dict[str, Any] = {"workers": workers, **best}
    for name in ("search", "page"):
        r = best[name]
        result[f"{name}_ratio"] = r["rps"] / trivial
        result[f"{name}_p99_over_p50"] = r["p99_ms"] / r["p50_ms"] if r["p50_ms"] else None
    return result


def main() -> None:
    args = arguments(__doc__, workers=[1]).parse_args()
    manifest = ensure(args.size, args.engine)
    runs = [measure(manifest, w, args.seconds, args.rounds) for w in args.workers]
    rows = []
    for run in runs:
        for name in ("search", "page"):
            r, ratio, tail = run[name], run[f"{name}_ratio"], run[f"{name}_p99_over_p50"]
            rows.append(
                (
                    f"{name} ({run['workers']} worker{'s' * (run['workers'] > 1)})",
                    f"{run['trivial']['rps']:,.0f}",
                    f"{r['rps']:,.0f}",
                    f"{ratio:.2f} (>= {RATIO_TARGET}) {verdict(ratio, RATIO_TARGET, True)}",
                    f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}",
                    f"{tail:.1f} (<= {TAIL_TARGET:.0f}) {verdict(tail, TAIL_TARGET, False)}",
                    str(r["non_2xx"] + r["socket_errors"]),
                )
            )
    table(
        f"search and pages, {manifest['certificates']:,} certificates, {args.engine}",
        rows,
        ("what", "trivial req/s", "req/s", "ratio", "p50 / p99 ms", "p99/p50", "errors"),
    )
    write_bar(
        "search",
        args,
        manifest,
        runs=runs,
        targets={"ratio": RATIO_TARGET, "p99_over_p50": TAIL_TARGET},
    )


if __name__ == "__main__":
    main()
