"""Bar (e) import: certificates through `ecolabel-registry import certificates` vs. the floor.

    python bench/import_bar.py --rows 1000000     # the bar's size
    python bench/import_bar.py --rows 10000       # make bench

PostgreSQL only (the yardstick is PostgreSQL's own COPY). Writes the CSV with
bench/make_certificates_csv.py when missing, runs bench/import_benchmark.py (a fresh
database, the CLI import, `\\copy` of the same file into a bare table, and the floor: the
rows the import wrote `\\copy`ed into bare copies of the certificate tables, then their keys
and indexes built), and writes bench/results/import-<rows>.json. The bar: the import within
1.5 x the floor; the stretch: within 3 x the bare-table COPY, which needs a leaner schema.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import RESULTS, ROOT, VAR, table, verdict, write_result
from make_certificates_csv import write

TARGET = 1.5
STRETCH = 3.0


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
    ratio = result["import_over_floor"]
    table(
        f"import of {result['rows']:,} certificates, PostgreSQL",
        [
            ("ecolabel-registry import certificates", f"{result['import_seconds']:.2f}", ""),
            *(
                (f"  {phase}", f"{seconds:.2f}", "")
                for phase, seconds in result["import_phases_seconds"].items()
            ),
            (
                "floor: the written rows COPYed into the 4 tables + their indexes",
                f"{result['floor_seconds']:.2f}",
                f"{result['floor_ratio']:.2f} x COPY",
            ),
            ("import / floor", f"{ratio:.2f}", f"<= {TARGET} {verdict(ratio, TARGET, False)}"),
            ("COPY into a bare table", f"{result['copy_seconds']:.2f}", ""),
            (
                "import / COPY (the stretch)",
                f"{result['ratio']:.2f}",
                f"<= {STRETCH} {verdict(result['ratio'], STRETCH, False)}",
            ),
        ],
        ("", "seconds", "target"),
    )
    write_result(f"import-{args.rows}", {**result, "target": TARGET, "stretch": STRETCH})


if __name__ == "__main__":
    main()
