"""Many full batches at once: the server's memory and a question's latency meanwhile.

    python bench/batch_flood.py --size small --engine sqlite --clients 40

Starts the server on the generated registry (bench/generate.py makes it when missing), then
posts `--clients` batches of 10,000 lines (bench/batch.py's lines) from as many threads at
the same moment, while a question is asked every 100 ms and the server's RSS is read every
50 ms. Prints the RSS before and at its peak, the batches' statuses (200, or 503 past
ECOLABEL_MAX_LINES_AT_ONCE) and the question's latency. Not a bar of quality.md: the threat
of docs/reliability.md ("many batches at once"), measured. Writes
bench/results/batch-flood-<size>-<engine>.json.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from urllib.parse import urlencode

import httpx2 as httpx

from batch import LINES, make_lines
from common import arguments, serve, table, write_bar
from generate import ensure


def main() -> None:
    parser = arguments(__doc__, seconds=None, rounds=None)
    parser.add_argument("--clients", type=int, default=40)
    args = parser.parse_args()
    manifest = ensure(args.size, args.engine)
    body = json.dumps({"lines": make_lines(manifest, LINES)}, separators=(",", ":")).encode()
    scheme, number = manifest["sample"][0]
    question = "/v1/equivalence?" + urlencode(
        {
            "scheme": scheme,
            "certificate": number,
            "target": manifest["targets"][0],
            "on": "2024-01-01",
        }
    )
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    peak = [0.0]
    with serve(manifest["database_url"]) as server:
        done = threading.Event()

        def post() -> None:
            try:
                answer = httpx.post(
                    server.base + "/v1/equivalence/batch",
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=600,
                )
                statuses[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], server.rss_mb())
                time.sleep(0.05)

        def ask() -> None:
            while not done.is_set():
                started = time.perf_counter()
                httpx.get(server.base + question, timeout=600)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.1)

        before = server.rss_mb()
        helpers = [threading.Thread(target=watch), threading.Thread(target=ask)]
        for t in helpers:
            t.start()
        started = time.perf_counter()
        clients = [threading.Thread(target=post) for _ in range(args.clients)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        took = time.perf_counter() - started
        done.set()
        for t in helpers:
            t.join()
    latencies.sort()
    p50, worst = latencies[len(latencies) // 2] * 1000, latencies[-1] * 1000
    table(
        f"{args.clients} batches of {LINES:,} lines at once, {manifest['certificates']:,} "
        f"certificates, {args.engine}",
        [
            (
                f"{before:.0f} -> {peak[0]:.0f}",
                ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
                f"{took:.1f}",
                f"{p50:.0f} / {worst:.0f} ({len(latencies)})",
            )
        ],
        ("RSS MB (peak)", "statuses", "seconds", "question ms p50 / max (n)"),
    )
    write_bar(
        "batch-flood",
        args,
        manifest,
        clients=args.clients,
        rss_mb_before=round(before),
        rss_mb_peak=round(peak[0]),
        statuses=dict(statuses),
        seconds=round(took, 1),
        question_ms_p50=round(p50),
        question_ms_max=round(worst),
    )


if __name__ == "__main__":
    main()
