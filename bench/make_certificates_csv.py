"""Write an import CSV of N certificates for one scheme, deterministic from a seed.

    python bench/make_certificates_csv.py --rows 1000000 --seed 7 --output var/bench-1m.csv

The rows fit the registry that `bench/import_benchmark.py` seeds: scheme `bench-label`,
categories `cat-00` .. `cat-09` (HS codes 3208, 3209, ...), body `bench-body`. About 7 % of
the certificates are suspended and 3 % withdrawn (status columns); the rest stay active.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

from ecolabel_registry.services.imports import COLUMNS

SCHEME = "bench-label"
BODY = "bench-body"
CATEGORIES = {f"cat-{i:02d}": f"{3208 + i}" for i in range(10)}
ECONOMIES = ("KR", "JP", "CN", "DE", "FR", "IT", "ES", "NL", "SE", "TH", "VN", "US", "GB", "IN")
HEADER = tuple(c for c in COLUMNS if c != "status_events")  # the import columns, events aside


def gtin13(body12: int) -> str:
    """A GTIN-13 with its GS1 check digit."""
    body = f"{body12:012d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def write(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    start = dt.date(2018, 1, 1).toordinal()
    codes = list(CATEGORIES)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(1, n + 1):
            category = codes[rng.randrange(len(codes))]
            prefix = CATEGORIES[category]
            valid_from = dt.date.fromordinal(start + rng.randrange(2500))
            valid_to = valid_from + dt.timedelta(days=365 * (3 + rng.randrange(3)))
            gtins = ";".join(gtin13(400000000000 + i * 3 + k) for k in range(rng.randrange(3)))
            hs = ";".join(sorted({prefix + f"{rng.randrange(100):02d}" for _ in range(2)}))
            status = date = reason = ""
            dice = rng.random()
            if dice < 0.10:
                status = "suspended" if dice < 0.07 else "withdrawn"
                date = (valid_from + dt.timedelta(days=30 + rng.randrange(300))).isoformat()
                reason = "audit finding" if status == "suspended" else "holder request"
            writer.writerow(
                (
                    f"BENCH-{i:07d}",
                    category,
                    f"Holder {rng.randrange(50_000):05d} Co., Ltd.",
                    ECONOMIES[rng.randrange(len(ECONOMIES))],
                    f"Product {i} ({category})",
                    f"Brand {rng.randrange(2000)}",
                    f"M-{rng.randrange(100_000)}",
                    gtins,
                    hs,
                    BODY,
                    valid_from.isoformat(),
                    valid_to.isoformat(),
                    status,
                    date,
                    reason,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=Path("var/bench-certificates.csv"))
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write(args.output, args.rows, args.seed)
    print(f"wrote {args.rows:,} certificates to {args.output}")


if __name__ == "__main__":
    main()
