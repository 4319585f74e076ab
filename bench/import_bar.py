"""Bar (e) import: certificates through `ecolabel-registry import certificates` vs. COPY.

    python bench/import_bar.py --rows 1000000     # the bar's size
    python bench/import_bar.py --rows 10000       # make bench

PostgreSQL only (the yardstick is PostgreSQL's own COPY). Writes the CSV with
bench/make_certificates_csv.py when missing, runs bench/import_benchmark.py (a fresh
database, the CLI import, then `\\copy` of the same file into a bare table), and writes
bench/results/import-<rows>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import RESULTS, ROOT, VAR, table, verdict, write_result
from make_certificates_csv import write

TARGET = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    csv_path = VAR / f"import-{args.rows}-{args.seed}.csv"
    if not csv_path.exists():
        write(csv_path, args.rows, args.seed)
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "import_benchmark.py"), "--csv", str(csv_path)],
        check=True,
        capture_output=True,
    )
    result = json.loads((RESULTS / "import.json").read_text("utf-8"))
    ratio = result["ratio"]
    table(
        f"import of {result['rows']:,} certificates, PostgreSQL",
        [
            ("ecolabel-registry import certificates", f"{result['import_seconds']:.2f}", ""),
            *(
                (f"  {phase}", f"{seconds:.2f}", "")
                for phase, seconds in result["import_phases_seconds"].items()
            ),
            ("COPY into a bare table", f"{result['copy_seconds']:.2f}", ""),
            ("ratio", f"{ratio:.2f}", f"<= {TARGET} {verdict(ratio, TARGET, False)}"),
            (
                "floor: the written rows COPYed into the 4 tables + their indexes",
                f"{result['floor_seconds']:.2f}",
                f"{result['floor_ratio']:.2f} x COPY",
            ),
        ],
        ("", "seconds", "target"),
    )
    write_result(f"import-{args.rows}", {**result, "target": TARGET})


if __name__ == "__main__":
    main()
