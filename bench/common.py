"""What the benchmark scripts share: a server on loopback, wrk, tables and result files."""

from __future__ import annotations

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
from collections.abc import Iterator
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


LUA = r"""
local paths = {}
local counter = 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  counter = math.random(#paths)
end
function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
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


def wrk(base: str, paths: list[str], seconds: float, connections: int = 32) -> dict[str, Any]:
    """wrk with 1 thread over `paths` in turn; its throughput and latency percentiles."""
    binary = ensure_wrk()
    VAR.mkdir(parents=True, exist_ok=True)
    script = VAR / "cycle.lua"
    script.write_text(LUA)
    listing = VAR / f"paths-{os.getpid()}.txt"
    listing.write_text("\n".join(paths) + "\n")
    try:
        out = _run_wrk(binary, script, listing, base, seconds, connections)
    finally:
        listing.unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    return result


def _run_wrk(
    binary: str, script: Path, listing: Path, base: str, seconds: float, connections: int
) -> str:
    return subprocess.run(
        [
            binary,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
            "--",
            str(listing),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def equivalence_paths(manifest: dict[str, Any], n: int, seed: int = 1) -> list[str]:
    """`n` different questions over the manifest's sample of certificates."""
    rng = random.Random(seed)
    sample, targets = manifest["sample"], manifest["targets"]
    paths = []
    for i in range(n):
        scheme, number = sample[i % len(sample)]
        query = {
            "scheme": scheme,
            "certificate": number,
            "target": rng.choice(targets),
            "on": (dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(3600))).isoformat(),
        }
        if rng.random() < 0.3:
            query["hs_code"] = rng.choice(("320810", "3209", "940360", "8418"))
        paths.append("/v1/equivalence?" + urlencode(query))
    return paths


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


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    console.print(f"[dim]wrote {path.relative_to(ROOT)}[/dim]")
    return path


def read_result(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data
