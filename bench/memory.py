"""Bar (f) memory: the server's RSS after the large load and a minute of queries.

    python bench/memory.py --size large --engine postgresql --seconds 60

Serves the generated registry (1 worker), samples RSS from /proc before any question, then
sends a minute of equivalence questions (wrk, 32 connections, thousands of certificates)
and a few 10,000-line batches, and samples again. Writes bench/results/memory-<size>-
<engine>.json.
"""

from __future__ import annotations

import json

import httpx2 as httpx

from batch import make_lines
from common import arguments, equivalence_paths, serve, table, verdict, write_bar, wrk
from generate import ensure

TARGET_MB = 300.0


def main() -> None:
    args = arguments(__doc__, size="large", seconds=60, rounds=None).parse_args()
    manifest = ensure(args.size, args.engine)
    paths = equivalence_paths(manifest, 50_000, seed=9)
    body = json.dumps({"lines": make_lines(manifest, 10_000)}, separators=(",", ":")).encode()
    with serve(manifest["database_url"]) as server:
        idle = server.rss_mb()
        load = wrk(server.base, paths, args.seconds)
        with httpx.Client(base_url=server.base, timeout=120) as client:
            for _ in range(3):
                client.post(
                    "/v1/equivalence/batch",
                    content=body,
                    headers={"content-type": "application/json"},
                ).raise_for_status()
        after = server.rss_mb()
    table(
        f"server memory, {manifest['certificates']:,} certificates, {args.engine}",
        [
            ("RSS at start, MB", f"{idle:.0f}", ""),
            (
                f"RSS after {args.seconds:.0f} s of queries and 3 batches, MB",
                f"{after:.0f}",
                f"<= {TARGET_MB:.0f} {verdict(after, TARGET_MB, False)}",
            ),
            ("questions answered", f"{load['requests']:,}", ""),
        ],
        ("", "figure", "target"),
    )
    write_bar(
        "memory",
        args,
        manifest,
        rss_start_mb=round(idle, 1),
        rss_after_mb=round(after, 1),
        requests=load["requests"],
        target_mb=TARGET_MB,
    )


if __name__ == "__main__":
    main()
