"""Streamed responses that let go of what they hold the moment they end, however they end."""

from __future__ import annotations

from collections.abc import Generator, Mapping

import anyio
import structlog
from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from ecolabel_registry.api.problems import problem_response

log = structlog.get_logger("ecolabel_registry.access")
SLICE_BYTES = 64 * 1024


class StreamSlots:
    """How many streams of one kind a process sends at once (the event loop's own count)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> bool:
        if self.taken >= self.limit:
            return False
        self.taken += 1
        return True

    def release(self) -> None:
        self.taken -= 1


class ClosingStream(StreamingResponse):
    """A response streamed from a blocking iterator, in one of a bounded number of slots.

    The iterator is closed as soon as the response ends: sent in full, failed, or abandoned
    by a client that went away (Starlette cancels the stream when the client disconnects),
    or cut off because the client took less than 64 KB in `stall_seconds`. Closing runs the
    iterator's `finally` and `with` blocks, which give back its database session at once
    rather than whenever the garbage collector finds the iterator. Past the limit the answer
    is a 503 with Retry-After, before anything is read.
    """

    def __init__(
        self,
        source: Generator[str, None, None],
        slots: StreamSlots,
        *,
        media_type: str,
        headers: Mapping[str, str],
        what: str,
        stall_seconds: float,
    ) -> None:
        super().__init__(source, media_type=media_type, headers=headers)
        self._source = source
        self._slots = slots
        self._what = what
        self._stall_seconds = stall_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._slots.take():
            self._source.close()  # never started: nothing to give back
            busy = problem_response(
                503,
                "unavailable",
                "Service unavailable",
                f"{self._slots.limit} {self._what} are being sent already; retry shortly",
                instance=scope["path"],
                headers={"Retry-After": "5"},
            )
            await busy(scope, receive, send)
            return

        async def send_in_time(message: Message) -> None:
            # In slices, so that the deadline is for the client taking 64 KB, not a page.
            body = message.get("body", b"")
            if message["type"] != "http.response.body" or len(body) <= SLICE_BYTES:
                with anyio.fail_after(self._stall_seconds):
                    await send(message)
                return
            more = message.get("more_body", False)
            for start in range(0, len(body), SLICE_BYTES):
                end = start + SLICE_BYTES
                part = {"type": message["type"], "body": body[start:end]}
                part["more_body"] = more or end < len(body)
                with anyio.fail_after(self._stall_seconds):
                    await send(part)

        try:
            await super().__call__(scope, receive, send_in_time)
        except ClientDisconnect:
            pass  # the client left: nothing more to send, and nothing to report
        except TimeoutError:
            # The response stays incomplete: the server closes the connection.
            log.warning("stream stalled", path=scope["path"], seconds=self._stall_seconds)
        finally:
            self._slots.release()
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]
                # Not while a thread runs it: a cancelled stream waits for its thread first.
                await anyio.to_thread.run_sync(self._source.close)
