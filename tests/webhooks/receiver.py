"""A webhook receiver on loopback whose behaviour a test sets: down, 500, slow, a redirect,
an answer without end, or fine."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "error", "slow", "redirect", "endless"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers POSTs as `mode` says; `stop()` makes it unreachable (connection refused)."""

    port: int = 0
    mode: Mode = "ok"
    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    answered_ok: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                got = Received(
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                with receiver._lock:
                    receiver.received.append(got)
                    mode = receiver.mode
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                if mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"receiver broken" + b"x" * 100_000)
                    return
                if mode == "redirect":
                    self.send_response(307)
                    self.send_header("location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                    self.end_headers()
                    return
                if mode == "endless":
                    # 200 and a body that never ends: written until the worker hangs up.
                    self.send_response(200)
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    chunk = b"%x\r\n%b\r\n" % (65536, b"x" * 65536)
                    try:
                        while True:
                            self.wfile.write(chunk)
                    except OSError:
                        self.close_connection = True
                    return
                self.send_response(204)
                self.end_headers()
                if mode == "ok":
                    with receiver._lock:
                        receiver.answered_ok.append(got)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
