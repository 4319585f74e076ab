"""What the benchmark scripts share: a server on loopback, wrk, tables and result files."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VAR = ROOT / "var" / "bench"
HOST = "127.0.0.1"  # load goes to loopback only
CLI = str(Path(sys.executable).with_name("ecolabel-registry"))
console = Console(width=150)

sys.path.insert(0, str(ROOT / "bench"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker processes, in MB."""
        total = 0
        for pid in [self.pid, *children(self.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024


def children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found.append(int(child))
            found.extend(children(int(child)))
    return found


@contextlib.contextmanager
def serve(database_url: str, workers: int = 1, **env_extra: str) -> Iterator[Server]:
    """`ecolabel-registry serve` with the bench endpoints on, until the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "ECOLABEL_DATABASE_URL": database_url,
        "ECOLABEL_BENCH_ENDPOINTS": "true",
        **env_extra,
    }
    VAR.mkdir(parents=True, exist_ok=True)
    log = (VAR / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [CLI, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120  # the resolver cache is built first: slow when busy
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        yield Server(process, base)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get (Debian package `wrk`) when missing."""
    return ensure_tool("wrk")


def ensure_tool(name: str, package: str | None = None) -> str:
    """A command from its Debian package (by default of the same name), installed with
    apt-get if missing.

    apt-get runs as root, or through `sudo -n` for another user; the package lists are
    refreshed only when the first try cannot find the package (a fresh machine has none).
    """
    found = shutil.which(name)
    if found:
        return found
    package = package or name
    console.print(f"{name} is missing: apt-get install -y {package}")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    said = ""
    for steps in ([["install", "-y", package]], [["update", "-q"], ["install", "-y", package]]):
        for step in steps:
            try:
                done = subprocess.run(
                    [*sudo, "apt-get", *step], check=False, capture_output=True, text=True, env=env
                )
            except FileNotFoundError as exc:  # no apt-get (or no sudo)
                said = str(exc)
                break
            said = (done.stderr or done.stdout).strip()
            if done.returncode != 0:
                break
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"{name} is missing and `{' '.join([*sudo, 'apt-get'])} install -y {package}` could not "
        f"install it ({said or 'no output'}); install the Debian package {package} and run again"
    )


_LUA_DONE = r"""
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %.6f, "rps": %.2f, "p50_ms": %.3f, ' ..
    '"p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
"""

LUA = (
    r"""
local lines = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  counter = math.random(#lines)
end
function request()
  counter = counter % #lines + 1
  if POST then return wrk.format("POST", POST, HEADERS, lines[counter]) end
  return wrk.format("GET", lines[counter])
end
"""
    + _LUA_DONE
)
"""GET of each line in turn, or with POST (a path) and HEADERS set before it, POST of each
line as the body."""


def wrk(
    base: str,
    lines: list[str],
    seconds: float,
    connections: int = 32,
    post: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """wrk with 1 thread: GET of each of the paths `lines` in turn, or with `post` (a path)
    POST of each of the bodies `lines` with `headers`; its throughput and latency
    percentiles."""
    binary = ensure_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    lua = VAR / f"wrk-{os.getpid()}.lua"
    table = (
        "{"
        + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
        + "}"
    )
    preamble = f"POST = {json.dumps(post)}\nHEADERS = {table}\n" if post else ""
    lua.write_text(preamble + LUA)
    listing = VAR / f"lines-{os.getpid()}.txt"
    listing.write_text("\n".join(lines) + "\n")
    try:
        out = subprocess.run(
            [
                binary,
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(lua),
                base,
                "--",
                str(listing),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        listing.unlink(missing_ok=True)
        lua.unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    return result


def alternate(
    base: str,
    load: Callable[[float], dict[str, Any]],
    seconds: float,
    rounds: int,
    each_round: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best of `rounds` wrk runs of /bench/trivial and of `load`, taking turns (then
    `each_round`, if any): both sides measured within seconds of each other."""
    trivial: dict[str, Any] = {}
    best: dict[str, Any] = {}
    for _ in range(rounds):
        t = wrk(base, ["/bench/trivial"], seconds)
        q = load(seconds)
        if t["rps"] > trivial.get("rps", 0):
            trivial = t
        if q["rps"] > best.get("rps", 0):
            best = q
        if each_round is not None:
            each_round()
    return trivial, best


def served_vs_trivial(
    database_url: str, workers: int, paths: list[str], seconds: float, rounds: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The server on `database_url` with `workers`, warmed (caches, prepared statements,
    page cache) with 2,000 of `paths`; then `alternate` of /bench/trivial and GETs of `paths`."""
    with serve(database_url, workers=workers) as server:
        wrk(server.base, paths[:2000], 1)
        wrk(server.base, ["/bench/trivial"], 1)
        return alternate(server.base, lambda s: wrk(server.base, paths, s), seconds, rounds)


def question(
    rng: random.Random, scheme: str, number: str, targets: list[str], hs_codes: bool = True
) -> dict[str, str]:
    """A question about one certificate: a target and a date drawn from `rng` (and, with
    `hs_codes`, an HS code for three in ten)."""
    asked = {
        "scheme": scheme,
        "certificate": number,
        "target": rng.choice(targets),
        "on": (dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(3600))).isoformat(),
    }
    if hs_codes and rng.random() < 0.3:
        asked["hs_code"] = rng.choice(("320810", "3209", "940360", "8418"))
    return asked


def equivalence_paths(manifest: dict[str, Any], n: int, seed: int = 1) -> list[str]:
    """`n` different questions over the manifest's sample of certificates."""
    rng = random.Random(seed)
    sample, targets = manifest["sample"], manifest["targets"]
    return [
        "/v1/equivalence?" + urlencode(question(rng, *sample[i % len(sample)], targets))
        for i in range(n)
    ]


def arguments(
    doc: str | None,
    *,
    size: str = "small",
    seconds: float | None = 10,
    rounds: int | None = 2,
    workers: list[int] | None = None,
) -> argparse.ArgumentParser:
    """The options of a bar's script: --size and --engine, and those of the defaults given
    (--seconds, --rounds, --workers); the script adds its own."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n", 1)[0])
    parser.add_argument("--size", default=size)
    parser.add_argument("--engine", choices=("postgresql", "sqlite"), default="postgresql")
    if seconds is not None:
        parser.add_argument("--seconds", type=float, default=seconds)
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds)
    if workers is not None:
        parser.add_argument("--workers", type=int, nargs="+", default=workers)
    return parser


def table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    t = Table(*header, title=title)
    for row in rows:
        t.add_row(*row)
    console.print(t)


def verdict(ratio: float | None, target: float, higher_is_better: bool) -> str:
    if ratio is None:
        return "n/a"
    ok = ratio >= target if higher_is_better else ratio <= target
    return "[green]met[/green]" if ok else "[red]not met[/red]"


def served_vs_trivial_table(
    title: str,
    runs: list[dict[str, Any]],
    key: str,
    label: str,
    ratio_target: float,
    tail_target: float | None = None,
) -> None:
    """The table of `served_vs_trivial` runs, one row a worker count: both rates, the ratio
    (`run["ratio"]`) against its target, p50 / p99 of `run[key]`, the tail
    (`run["p99_over_p50"]`) against its target when one is given, and the errors."""
    rows = []
    for run in runs:
        t, q = run["trivial"], run[key]
        tail = (
            ()
            if tail_target is None
            else (
                f"{run['p99_over_p50']:.1f} (<= {tail_target:.0f}) "
                f"{verdict(run['p99_over_p50'], tail_target, False)}",
            )
        )
        rows.append(
            (
                str(run["workers"]),
                f"{t['rps']:,.0f}",
                f"{q['rps']:,.0f}",
                f"{run['ratio']:.2f} (>= {ratio_target}) "
                f"{verdict(run['ratio'], ratio_target, True)}",
                f"{q['p50_ms']:.2f} / {q['p99_ms']:.2f}",
                *tail,
                str(q["non_2xx"] + q["socket_errors"]),
            )
        )
    header = ("workers", "trivial req/s", f"{label} req/s", "ratio", "p50 / p99 ms")
    if tail_target is not None:
        header += ("p99/p50",)
    table(title, rows, (*header, "errors"))


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    console.print(f"[dim]wrote {path.relative_to(ROOT)}[/dim]")
    return path


def write_bar(
    name: str, args: argparse.Namespace, manifest: dict[str, Any], **figures: Any
) -> Path:
    """A bar's result, `<name>-<size>-<engine>.json`: the registry and the run's options,
    then `figures`."""
    data: dict[str, Any] = {
        "size": args.size,
        "engine": args.engine,
        "certificates": manifest["certificates"],
    }
    if getattr(args, "seconds", None) is not None:
        data["seconds"] = args.seconds
    return write_result(f"{name}-{args.size}-{args.engine}", {**data, **figures})


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
