"""Bar "as recorded": GET /v1/equivalence?as_recorded= vs. /bench/trivial.

    python bench/as_recorded.py --size small --engine postgresql --seconds 10 --workers 1 2

Starts the server on the generated registry (bench/generate.py makes it when missing, with
its corrections recorded one by one after the load), then runs wrk (1 thread, 32
connections, loopback) on the trivial endpoint and on equivalence questions asked as
recorded at instants spread evenly over the registry's history of corrections (from the
end of its last bulk load to its last revision), cycling through thousands of different
certificates, targets, dates and instants, alternating the two `--rounds` times; the best
round of each counts. Writes bench/results/as-recorded-<size>-<engine>.json.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, text

from common import (
    arguments,
    equivalence_paths,
    served_vs_trivial,
    served_vs_trivial_table,
    write_bar,
)
from generate import ensure

AS_RECORDED_TARGET = 0.25


# The history asked about: from the end of the last bulk load (the last revision that changed
# more than 50 entities at once) to the last revision, the corrections' history. Before it,
# the sample's certificates are not all registered yet.
_HISTORY = (
    "SELECT min(l.recorded_at), max(l.recorded_at) FROM registry_revision_log l "
    "WHERE l.revision >= (SELECT coalesce(max(revision), 0) FROM (SELECT revision "
    "FROM registry_change GROUP BY revision HAVING count(*) > 50) loads)"
)


def instants(url: str, n: int) -> list[str]:
    """`n` instants evenly spread over the corrections' history (see _HISTORY)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            first, last = conn.execute(text(_HISTORY)).one()
    finally:
        engine.dispose()
    if isinstance(first, str):  # SQLite: naive UTC text
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    first, last = (v if v.tzinfo else v.replace(tzinfo=dt.UTC) for v in (first, last))
    step = (last - first) / max(n - 1, 1)
    return [(first + i * step).isoformat() for i in range(n)]


def measure(manifest: dict[str, Any], workers: int, seconds: float, rounds: int) -> dict[str, Any]:
    plain = equivalence_paths(manifest, 20_000)
    times = instants(manifest["database_url"], 5_000)
    paths = [
        f"{path}&{urlencode({'as_recorded': times[i % len(times)]})}"
        for i, path in enumerate(plain)
    ]
    trivial, query = served_vs_trivial(manifest["database_url"], workers, paths, seconds, rounds)
    return {
        "workers": workers,
        "trivial": trivial,
        "as_recorded": query,
        "ratio": query["rps"] / trivial["rps"],
    }


def main() -> None:
    args = arguments(__doc__, workers=[1, 2]).parse_args()
    manifest = ensure(args.size, args.engine)
    runs = [measure(manifest, w, args.seconds, args.rounds) for w in args.workers]
    served_vs_trivial_table(
        f"as recorded, {manifest['certificates']:,} certificates, "
        f"{manifest.get('corrections', 0):,} corrections, {args.engine}",
        runs,
        "as_recorded",
        "as-recorded",
        AS_RECORDED_TARGET,
    )
    write_bar(
        "as-recorded",
        args,
        manifest,
        corrections=manifest.get("corrections", 0),
        runs=runs,
        targets={"ratio": AS_RECORDED_TARGET},
    )


if __name__ == "__main__":
    main()
