"""Schemathesis over every operation of openapi/openapi.json, against the real server.

For each engine (SQLite, PostgreSQL; the two side by side) the script makes a fresh database
(a SQLite file in a temporary folder; a PostgreSQL database it creates and drops), migrates
it, loads the demo registry, makes an operator key, starts `ecolabel-registry serve` on a free
loopback port and runs schemathesis with the key and an If-Match on every request. Checks: no
5xx, responses that conform to their schema and content type, declared status codes only.

    .venv/bin/python -m tests.fuzz.run_fuzz                 # both engines (make fuzz)
    .venv/bin/python -m tests.fuzz.run_fuzz --engine sqlite --max-examples 50

Exit status 0 only when every run passed; the server's log and schemathesis' JUnit report
stay in --report-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ecolabel_registry.services.signing import SigningKeyFile
from tests.reliability.serving import (
    ADMIN_POSTGRES_URL,
    BIN,
    postgres_database,
    prepare_demo,
    serve,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
    ]
)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def database(engine: str, folder: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'fuzz.sqlite3'}"
    else:
        with postgres_database(ADMIN_POSTGRES_URL) as url:
            yield url


def schemathesis_command(
    base_url: str, key: str, args: argparse.Namespace, report: Path
) -> list[str]:
    return [
        str(BIN / "schemathesis"),
        "run",
        str(SPEC),
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {key}",
        "--header",
        'If-Match: "1"',
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report),
    ]


def run_engine(engine: str, args: argparse.Namespace) -> int:
    report = args.report_dir / engine
    report.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="ecolabel-fuzz-") as tmp,
        database(engine, Path(tmp)) as url,
    ):
        key = prepare_demo(url)
        keys = SigningKeyFile(Path(tmp) / "signing-keys.json")
        keys.create()
        env = {"ECOLABEL_LOG_LEVEL": "WARNING", "ECOLABEL_SIGNING_KEY_FILE": str(keys.path)}
        with (
            serve(url, report / "server.log", env=env) as server,
            (report / "schemathesis.log").open("w") as output,
        ):
            say(f"== fuzzing on {engine}: {server.base_url}")
            done = subprocess.run(
                schemathesis_command(server.base_url, key, args, report),
                cwd=ROOT,
                timeout=args.timeout,
                check=False,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            log = server.log_text()
    took = time.monotonic() - started
    say(f"== {engine}: schemathesis output")
    say((report / "schemathesis.log").read_text())
    say(f"== {engine}: schemathesis exit {done.returncode} in {took:.0f} s")
    if '"level": "error"' in log:
        say(f"== {engine}: the server logged errors (see {report / 'server.log'})")
        return 1
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--max-examples", type=int, default=10, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=20251125)
    # One worker per engine: schemathesis' workers are threads, and on CPython 3.11 as shipped
    # here the AST constructor's recursion counter is shared by all threads
    # (python/cpython#106905), so two threads describing strategies at once fail with "AST
    # constructor recursion depth mismatch", a SystemError in the fuzzer, not in the server.
    # The two engines' runs are separate processes, side by side, instead.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=900, help="seconds a run may take")
    parser.add_argument(
        "--report-dir", type=Path, default=Path(tempfile.gettempdir()) / "ecolabel-fuzz"
    )
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    # The engines run side by side, each schemathesis in its own process (see --workers).
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        codes = dict(zip(engines, pool.map(lambda e: run_engine(e, args), engines), strict=True))
    failed = [engine for engine in engines if codes[engine] != 0]
    if failed:
        say(f"fuzzing failed on: {', '.join(failed)}")
        return 1
    say(f"fuzzing passed on: {', '.join(engines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
