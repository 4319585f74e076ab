"""Hostile and unlucky clients against a served process: stalled exports, big anonymous
bodies and slow uploads.

Each test serves the demo registry (on the engine under test) as a subprocess on loopback and
talks to it over raw sockets where a well-behaved HTTP client would not misbehave enough.
"""

from __future__ import annotations

import contextlib
import csv
import re
import select
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import ENGINE
from tests.reliability.serving import Server, cli, postgres_database, prepare_demo, serve

CLIENT_TIMEOUT = 10.0  # seconds; an answer that takes longer counts as a hang
SCHEME = "korea-eco-label"
EXPORT = f"/v1/schemes/{SCHEME}/certificates?format=jsonl"
LARGE = 20_000  # certificates: an export of ~13 MB, far more than the sockets' buffers
STALLED = 50
MAX_EXPORTS = 4
QUESTION = {
    "scheme": "eu-ecolabel",
    "certificate": "DEMO/FR/044/017",
    "target": "KR",
    "on": "2025-03-01",
}
MB = 1024 * 1024


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the engine under test with the demo registry; its URL."""
    if ENGINE == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'registry.sqlite3'}"


@pytest.fixture(scope="module")
def key(database: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An operator key, once the demo registry and LARGE more certificates are loaded."""
    secret = prepare_demo(database)
    path = tmp_path_factory.mktemp("hostile-import") / "large.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        columns = "number category_code holder_name holder_economy product_name"
        writer.writerow([*columns.split(), "certification_body_id", "valid_from", "valid_to"])
        holder, product = "Large export holder (illustrative)", "Large export paint " + "x" * 250
        body, dates = "demo-cert-body-kr", ("2024-01-01", "2027-12-31")
        for n in range(LARGE):
            writer.writerow([f"LARGE-{n:06d}", "paints", holder, "KR", product, body, *dates])
    cli(database, "import", "certificates", str(path), "--scheme", SCHEME)
    return secret


ENV = {
    "ECOLABEL_DB_POOL_TIMEOUT_SECONDS": "2",
    "ECOLABEL_MAX_CONCURRENT_EXPORTS": str(MAX_EXPORTS),
    "ECOLABEL_DB_LOCK_TIMEOUT_SECONDS": "1",
    "ECOLABEL_EXPORT_STALL_SECONDS": "2",
}


@pytest.fixture(scope="module")
def server(database: str, key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server shared by the tests that do not measure its memory."""
    with serve(database, tmp_path_factory.mktemp("hostile-log") / "server.log", env=ENV) as s:
        yield s


@pytest.fixture
def fresh_server(database: str, key: str, tmp_path: Path) -> Iterator[Server]:
    """A server of its own, for a test that measures its peak memory."""
    with serve(database, tmp_path / "server.log", env=ENV) as running:
        yield running


# Raw clients


def connect(server: Server, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(CLIENT_TIMEOUT)
    sock.connect(("127.0.0.1", server.port))
    return sock


def status_line(sock: socket.socket) -> int:
    """The status of the answer, reading no more than its first line."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"the server closed the connection after {head!r}")
        head += chunk
    return int(head.split()[1])


def vanish(sock: socket.socket) -> None:
    """Close as a crashed client does: a reset, no orderly goodbye."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def everyday_requests(server: Server, key: str) -> dict[str, int]:
    """A question, a write and /readyz, as any other client makes them; their statuses."""
    body = {
        "number": f"HOSTILE-{uuid.uuid4().hex[:12]}",
        "category_code": "paints",
        "holder_name": "Hostile test holder (illustrative)",
        "holder_economy": "KR",
        "product_name": "Hostile test paint",
        "valid_from": "2024-01-01",
        "valid_to": "2026-12-31",
    }
    with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
        return {
            "readyz": client.get("/readyz").status_code,
            "question": client.get("/v1/equivalence", params=QUESTION).status_code,
            "write": client.post(
                f"/v1/schemes/{SCHEME}/certificates",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            ).status_code,
        }


EVERYDAY_OK = {"readyz": 200, "question": 200, "write": 201}


def transactions_left_open(database: str) -> list[str]:
    """PostgreSQL: the states of this database's sessions that sit inside a transaction."""
    if not database.startswith("postgresql"):
        return []
    admin = create_engine(make_url(database).set(database="postgres"))
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT state FROM pg_stat_activity WHERE datname = :db "
                    "AND state LIKE 'idle in transaction%'"
                ),
                {"db": make_url(database).database},
            )
            return [r.state for r in rows]
    finally:
        admin.dispose()


def until(check: Callable[[], bool], seconds: float = CLIENT_TIMEOUT) -> None:
    """Poll `check()` until it is true (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not so after {seconds} s: {check}")
        time.sleep(0.1)


# Stalled exports

EXPORT_REQUEST = f"GET {EXPORT} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def stalled_exports(server: Server, count: int) -> list[socket.socket]:
    """`count` clients that ask for the export, read its status line and stop reading."""
    stalled: list[socket.socket] = []
    for _ in range(count):
        sock = connect(server, receive_buffer=4096)
        stalled.append(sock)
        sock.sendall(EXPORT_REQUEST)
    return stalled


def export_completes(server: Server) -> bool:
    """An export read through to its end (False: 503, every slot is taken)."""
    with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT * 3) as client:
        response = client.get(EXPORT)
    if response.status_code == 503:
        return False
    assert response.status_code == 200, response.text
    assert response.text.count("\n") >= LARGE
    return True


def test_stalled_exports_leave_every_other_request_and_no_connection_behind(
    server: Server, key: str, database: str
) -> None:
    stalled = stalled_exports(server, STALLED)
    try:
        # Every export is answered (its first line read), then nobody reads any further.
        statuses = [status_line(sock) for sock in stalled]
        assert set(statuses) <= {200, 503}, statuses
        assert 1 <= statuses.count(200) <= MAX_EXPORTS, statuses

        assert everyday_requests(server, key) == EVERYDAY_OK
        # An export reading a page is briefly inside a transaction; a stalled one is not.
        until(lambda: transactions_left_open(database) == [])
    finally:
        for sock in stalled:
            vanish(sock)

    # Once they are gone, their slots are free again and an export is read through.
    until(lambda: export_completes(server))
    assert everyday_requests(server, key) == EVERYDAY_OK
    until(lambda: transactions_left_open(database) == [])


def test_export_clients_that_stop_reading_but_stay_are_cut_off(server: Server) -> None:
    cut_before = server.log_text().count("stream stalled")
    stalled = stalled_exports(server, MAX_EXPORTS)
    try:
        assert [status_line(sock) for sock in stalled] == [200] * MAX_EXPORTS
        # They hold every slot until ECOLABEL_EXPORT_STALL_SECONDS (2 s) pass without them
        # taking data; then the server cuts them off and serves others again.
        until(lambda: server.log_text().count("stream stalled") >= cut_before + MAX_EXPORTS)
        assert export_completes(server)
        for sock in stalled:
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(1 << 16):
                    received += chunk  # what was in flight, then the end of the connection
            assert not received.endswith(b"0\r\n\r\n")  # the export was cut short
    finally:
        for sock in stalled:
            vanish(sock)


# Big bodies


def post_paths(server: Server) -> list[str]:
    """Every POST of the API, its path parameters filled in."""
    spec = httpx.get(server.base_url + "/openapi.json", timeout=CLIENT_TIMEOUT).json()
    paths = [path for path, operations in spec["paths"].items() if "post" in operations]
    paths = [re.sub(r"\{[^}]+\}", "x", p) for p in paths]
    assert paths
    return paths


def peak_rss_kib(server: Server) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))


def send_big_body(server: Server, path: str, total: int) -> int:
    """POST `total` bytes of empty JSON objects, chunked, without a key; the answer's status.

    Stops sending as soon as the server answers (it need not read what it refuses).
    """
    sock = connect(server)
    with contextlib.closing(sock):
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        opening = b'{"lines": [' if path.endswith("/batch") else b"["
        piece = b"{}," * (MB // 3)
        sent = 0
        data = opening
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                sent += len(data)
                data = piece
            if sent >= total:
                sock.sendall(b"2\r\n{}\r\n0\r\n\r\n")
        return status_line(sock)


def test_anonymous_big_bodies_are_refused_without_building_them(
    fresh_server: Server, key: str
) -> None:
    server = fresh_server
    paths = post_paths(server)
    assert "/v1/equivalence/batch" in paths
    before = server.rss_kib()
    assert before is not None
    statuses = {path: send_big_body(server, path, 50 * MB) for path in paths}
    growth_mb = (peak_rss_kib(server) - before) / 1024
    assert statuses.pop("/v1/equivalence/batch") == 413
    assert set(statuses.values()) == {401}, statuses
    assert growth_mb <= 100, f"the server grew by {growth_mb:.0f} MB"
    assert everyday_requests(server, key) == EVERYDAY_OK


def test_a_write_without_a_key_is_answered_before_its_body_is_sent(server: Server) -> None:
    sock = connect(server)
    with contextlib.closing(sock):
        sock.sendall(
            f"POST /v1/schemes/{SCHEME}/categories HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 500000\r\n\r\n".encode()
        )
        assert status_line(sock) == 401  # not one byte of the body was sent


def test_a_batch_of_too_many_small_lines_is_counted_not_built(fresh_server: Server) -> None:
    server = fresh_server
    lines = 2_500_000  # 7.5 MB, under the batch's limit; as dicts they would take ~200 MB
    body = b'{"lines": [' + b"{}," * (lines - 1) + b"{}]}"
    before = server.rss_kib()
    assert before is not None
    response = httpx.post(
        server.base_url + "/v1/equivalence/batch",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=CLIENT_TIMEOUT,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "lines"]
    assert f"{lines} lines; at most 10000" in response.json()["detail"]
    growth_mb = (peak_rss_kib(server) - before) / 1024
    assert growth_mb <= 100, f"the server grew by {growth_mb:.0f} MB"


# Slow uploads


def test_a_slow_import_upload_holds_no_lock_and_no_connection(
    server: Server, key: str, database: str
) -> None:
    rows = "number,category_code,holder_name,holder_economy,product_name,valid_from,valid_to\n"
    rows += "".join(
        f"SLOW-{n},paints,Slow upload holder (illustrative),KR,Slow paint,2024-01-01,2027-12-31\n"
        for n in range(3)
    )
    body = rows.encode()
    auth = {"Authorization": f"Bearer {key}"}
    sock = connect(server)
    with contextlib.closing(sock):
        sock.sendall(
            f"POST /v1/schemes/{SCHEME}/certificates/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in range(10):  # a trickle, one byte every 0.2 s
            sock.sendall(body[byte : byte + 1])
            time.sleep(0.2)
        # Meanwhile the scheme's operator changes the scheme: no lock stands in the way.
        with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
            etag = client.get(f"/v1/schemes/{SCHEME}").headers["ETag"]
            patched = client.patch(
                f"/v1/schemes/{SCHEME}",
                json={"website": "https://example.org/slow-upload"},
                headers={**auth, "If-Match": etag},
            )
        assert patched.status_code == 200, patched.text
        # The webhook worker's own short transactions may be caught between two statements;
        # a transaction held for the upload would stay open until its last byte, sent below.
        until(lambda: transactions_left_open(database) == [], seconds=5)
        assert everyday_requests(server, key) == EVERYDAY_OK
        sock.sendall(body[10:])
        assert status_line(sock) == 200
    with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
        imported = client.get(f"/v1/schemes/{SCHEME}/certificates/SLOW-2")
    assert imported.status_code == 200, imported.text


def test_a_lock_held_too_long_answers_409_with_retry_after(
    server: Server, key: str, database: str
) -> None:
    if not database.startswith("postgresql"):
        pytest.skip("PostgreSQL's lock_timeout; SQLite waits its busy_timeout, then answers 409")
    engine = create_engine(database)
    try:
        with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
            etag = client.get(f"/v1/schemes/{SCHEME}").headers["ETag"]
            with engine.connect() as conn, conn.begin():
                conn.execute(text("SELECT id FROM scheme WHERE id = :s FOR UPDATE"), {"s": SCHEME})
                patched = client.patch(
                    f"/v1/schemes/{SCHEME}",
                    json={"website": "https://example.org/locked"},
                    headers={"Authorization": f"Bearer {key}", "If-Match": etag},
                )
    finally:
        engine.dispose()
    assert patched.status_code == 409, patched.text
    assert patched.headers["Retry-After"]
    assert "retry shortly" in patched.json()["detail"]
    assert everyday_requests(server, key) == EVERYDAY_OK


# Many pages at once


def test_many_certificate_pages_at_once_all_answer_and_leave_the_pool_usable(
    server: Server, key: str
) -> None:
    """A page reads the certificate through its session and where it counts through the
    resolver's reader: on one connection, so 40 pages at once (more than the pool holds) never
    each hold one connection while waiting for a second."""

    def pages(n: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT) as client:
            for i in range(5):
                try:
                    statuses.append(
                        client.get(f"/certificates/{SCHEME}/LARGE-{n + i:06d}").status_code
                    )
                except httpx.TimeoutException:
                    statuses.append(0)
        return statuses

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = [s for done in pool.map(pages, range(0, 200, 5)) for s in done]
    assert statuses == [200] * 200
    assert everyday_requests(server, key) == EVERYDAY_OK
