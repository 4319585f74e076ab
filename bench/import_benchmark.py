"""Time `ecolabel-registry import certificates` against PostgreSQL's own COPY of the same rows.

    python bench/import_benchmark.py --csv var/bench-1m.csv
    (make the file first: python bench/make_certificates_csv.py --rows 1000000)

Creates a fresh PostgreSQL database (ECOLABEL_BENCH_POSTGRES_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres), migrates it, seeds the scheme,
categories and body the generated file refers to, times the import through the command
line, then times `\\copy` of the same file into a bare table (same columns, no index, no
constraint) with psql, and the floor of any import into this schema: `\\copy` of the rows
the import wrote (dumped first) into empty copies of the registry's four certificate tables,
then building those tables' keys and indexes, with no checking and no foreign keys at all.
Drops the database, prints the times and the ratios
(the bar: import <= 1.5 x the floor; the stretch: import <= 3 x the bare COPY) and writes
them to bench/results/import.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Authorization,
    CertificationBody,
    Coverage,
    ProductCategory,
    Scheme,
    SchemeType,
)
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.schemes import SchemeService

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ensure_tool  # noqa: E402
from make_certificates_csv import BODY, CATEGORIES, HEADER, SCHEME  # noqa: E402

ADMIN_URL = os.environ.get(
    "ECOLABEL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BARE_TABLE = """
CREATE TABLE bare_certificate (
    number text, category_code text, holder_name text, holder_economy text,
    product_name text, brand text, model text, gtins text, hs_codes text,
    certification_body_id text, valid_from date, valid_to date, status text,
    status_effective_date date, status_reason text
)
"""


def seed(url: str) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        registry = SqlRegistry(session)
        schemes = SchemeService(registry)
        schemes.create(
            SYSTEM,
            Scheme(SCHEME, "Bench label", "bench", SchemeType.ISO14024, ("KR",), Coverage.PARTIAL),
        )
        for code, hs in CATEGORIES.items():
            schemes.create_category(
                SYSTEM,
                ProductCategory(SCHEME, code, code, "1", dt.date(2010, 1, 1), None, (hs,)),
            )
        CertificationBodyService(registry).create(
            SYSTEM,
            CertificationBody(
                BODY, "Bench body", "KR", None, (Authorization(SCHEME, dt.date(2010, 1, 1)),)
            ),
        )
        session.commit()
    engine.dispose()


_TABLES = ("certificate", "certificate_gtin", "certificate_hs_code", "certificate_status_event")


def floor_seconds(url: str, work: Path) -> float:
    """Seconds to COPY the imported rows into bare copies of the four certificate tables
    and build their keys and indexes: what any import into this schema costs at least."""
    engine = create_engine(url)
    with engine.begin() as conn:
        indexes = [
            conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
            ).scalars()
            for table in _TABLES
        ]
        builds = [
            definition.replace(f" ON public.{table} ", f" ON public.floor_{table} ").replace(
                "INDEX ", "INDEX floor_", 1
            )
            for table, defs in zip(_TABLES, indexes, strict=True)
            for definition in defs
        ]
        for table in _TABLES:
            conn.execute(text(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING DEFAULTS)"))
    engine.dispose()
    for table in _TABLES:
        dump = f"\\copy {table} TO '{work / table}'"
        subprocess.run(["psql", psql_url(url), "-q", "-c", dump], check=True)
    script = work / "floor.sql"
    lines = [f"\\copy floor_{table} FROM '{work / table}'" for table in _TABLES]
    script.write_text("\n".join([*lines, *(f"{b};" for b in builds)]) + "\n", "utf-8")
    started = time.perf_counter()
    subprocess.run(
        ["psql", psql_url(url), "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script)], check=True
    )
    return time.perf_counter() - started


def psql_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--csv", type=Path, default=Path("var/bench-certificates.csv"))
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    ensure_tool("psql", "postgresql-client")  # \copy and the floor's scripts
    csv_path = args.csv.resolve()
    rows = sum(1 for _ in csv_path.open("rb")) - 1
    name = f"ecolabel_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "ECOLABEL_DATABASE_URL": url, "ECOLABEL_LOG_JSON": "false"}
    cli = [str(Path(sys.executable).with_name("ecolabel-registry"))]
    try:
        subprocess.run([*cli, "migrate"], env=env, check=True)
        seed(url)
        started = time.perf_counter()
        done = subprocess.run(
            [*cli, "import", "certificates", str(csv_path), "--scheme", SCHEME, "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        import_seconds = time.perf_counter() - started
        phases = json.loads(done.stdout.strip().splitlines()[-1])["phases"]
        engine = create_engine(url)
        with engine.connect() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                for table in (
                    "certificate",
                    "certificate_gtin",
                    "certificate_hs_code",
                    "certificate_status_event",
                )
            }
            conn.execute(text(BARE_TABLE))
            conn.commit()
        engine.dispose()
        columns = ", ".join(HEADER)
        started = time.perf_counter()
        subprocess.run(
            [
                "psql",
                psql_url(url),
                "-q",
                "-c",
                f"\\copy bare_certificate ({columns}) FROM '{csv_path}' WITH (FORMAT csv, HEADER)",
            ],
            check=True,
        )
        copy_seconds = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as work:
            floor = floor_seconds(url, Path(work))
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    result = {
        "rows": rows,
        "import_seconds": round(import_seconds, 2),
        "copy_seconds": round(copy_seconds, 2),
        "ratio": round(import_seconds / copy_seconds, 2),
        "floor_seconds": round(floor, 2),
        "floor_ratio": round(floor / copy_seconds, 2),
        "import_over_floor": round(import_seconds / floor, 2),
        "import_phases_seconds": phases,
        "target_import_over_floor": 1.5,
        "stretch_ratio": 3.0,
        "written": counts,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print(f"{'rows':<28}{rows:>14,}")
    print(f"{'import (CLI), seconds':<28}{import_seconds:>14.2f}")
    print(f"{'COPY into bare table, s':<28}{copy_seconds:>14.2f}")
    print(f"{'floor: COPY + indexes, s':<28}{floor:>14.2f}")
    print(f"{'import / floor (<= 1.5)':<28}{result['import_over_floor']:>14.2f}")
    print(f"{'import / COPY (<= 3)':<28}{result['ratio']:>14.2f}")
    print(f"{'floor / COPY':<28}{result['floor_ratio']:>14.2f}")
    for phase, seconds in phases.items():
        print(f"{'  ' + phase + ', s':<28}{seconds:>14.2f}")
    for table, n in counts.items():
        print(f"{table:<28}{n:>14,}")
    out = HERE / "results" / "import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
