"""Run the real service as a subprocess on loopback, against a database made for the run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx2 as httpx
from sqlalchemy import create_engine, make_url, text

BIN = Path(sys.executable).parent
CLI = str(BIN / "ecolabel-registry")
ADMIN_POSTGRES_URL = os.environ.get(
    "ECOLABEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a registry process on `database_url`, JSON logs on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOLABEL_")}
    env.update(
        {
            "ECOLABEL_DATABASE_URL": database_url,
            "ECOLABEL_LOG_JSON": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def cli(database_url: str, *args: str) -> str:
    """Run `ecolabel-registry ARGS` on the database; its standard output."""
    done = subprocess.run(
        [CLI, *args],
        env=service_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ecolabel-registry {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def prepare_demo(database_url: str) -> str:
    """Migrate, load the demo registry and make an operator key; the key."""
    cli(database_url, "migrate")
    cli(database_url, "seed", "--demo")
    out = cli(database_url, "keys", "create", "--role", "operator", "--name", "reliability")
    return out.strip().splitlines()[-1]


@contextlib.contextmanager
def postgres_database(admin_url: str = ADMIN_POSTGRES_URL) -> Iterator[str]:
    """A new PostgreSQL database on the server of `admin_url`, dropped afterwards; its URL."""
    name = f"ecolabel_rel_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass
class Server:
    """A running `ecolabel-registry serve` process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text("utf-8", errors="replace")

    def rss_kib(self) -> int | None:
        """The server's resident set size from /proc, in KiB (None once it has exited)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return None


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the server at {base_url} was not ready within {seconds} s")


@contextlib.contextmanager
def serve(
    database_url: str,
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    ready_seconds: float = 120,
) -> Iterator[Server]:
    """`ecolabel-registry serve` on a free loopback port until the block ends.

    The wait for /readyz ends as soon as the server answers; its limit is generous because a
    start-up (imports, migration check, first snapshot) takes several times longer on a
    machine whose cores are busy with other test processes.
    """
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=service_env(database_url, **(env or {})),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port, log_path, log)
    try:
        wait_until_ready(server.base_url, process, ready_seconds)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
