"""The webhook worker: sends each subscription's changes, signed, retried until delivered.

`serve` runs one in each served process (unless ECOLABEL_WEBHOOK_WORKER=false);
`ecolabel-registry deliver` runs one alone. See docs/changes.md and ADR 0009.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com/): headers
`webhook-id` (the same on every retry of one message), `webhook-timestamp` (Unix seconds of
this attempt) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
`{id}.{timestamp}.{body}` under the subscription's secret), signed with the `standardwebhooks`
library.

Bounded: at most ECOLABEL_WEBHOOK_CONCURRENCY attempts at once; each attempt (resolving,
connecting, sending and reading the answer) is cut off after ECOLABEL_WEBHOOK_TIMEOUT_SECONDS;
no more than MAX_RESPONSE_BYTES of an answer are read; no redirect is followed and no proxy
from the environment is used. The receiver's host is resolved and checked before every
attempt, and the attempt connects to the address that was checked (a name that resolves to a
public address when checked and to a private one when connecting cannot be used to reach
the private one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpcore2
import httpx2
import orjson
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from ecolabel_registry.domain.errors import InvalidInput
from ecolabel_registry.persistence.webhooks import Claimed, Outcome, SqlDeliveryQueue
from ecolabel_registry.services.changes import change_item
from ecolabel_registry.services.ports.changes import Change
from ecolabel_registry.services.webhooks import Resolver, UnsafeAddress, UrlPolicy, resolve
from ecolabel_registry.settings import Settings

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 4096
"""The most of a receiver's answer read (its start is kept as the attempt's error)."""
MAX_ERROR_CHARS = 500
KEEPALIVE_SECONDS = 5.0
"""How long a connection to a receiver is kept open between attempts."""
HTTP_ERRORS = (
    httpcore2.NetworkError,
    httpcore2.ProtocolError,
    httpcore2.UnsupportedProtocol,
    httpcore2.ProxyError,
    httpcore2.ConnectionNotAvailable,
)
"""How an attempt fails on the way (no answer, or one that is not HTTP): kept as its error."""
CLAIM_ROUNDS = 8
"""A worker claims up to this many times its concurrency at once (and claims again when half
of that is left), so its lease covers this many attempts' timeouts, one after the other."""


def message(change: Change) -> bytes:
    """The body of a change's delivery: Standard Webhooks' `type`, `timestamp`, `data`."""
    item = change_item(change)
    return orjson.dumps(
        {
            "type": f"{change.entity_type}.{item['kind']}",
            "timestamp": item["recorded_at"],
            "data": item,
        }
    )


def message_id(claimed: Claimed) -> str:
    """The `webhook-id` of a delivery: the same on every attempt, so receivers can skip a
    message they already have."""
    return f"msg_{claimed.delivery_id}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    signature = Webhook(secret).sign(
        msg_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), body.decode()
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


_Attempt = tuple[Claimed, list[str] | Exception | None]
"""A claimed delivery and where its URL may be reached (or why not), waiting for a sender."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def policy_of(settings: Settings) -> UrlPolicy:
    return UrlPolicy(
        allow_private=settings.webhook_allow_private_addresses,
        allow_http=settings.webhook_allow_http,
    )


class DeliveryWorker:
    """Claims due deliveries, sends them, records how they went; until told to stop."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = _now,
        resolver: Resolver = resolve,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._timeout = settings.webhook_timeout_seconds
        self._concurrency = settings.webhook_concurrency
        self._poll = settings.webhook_poll_seconds
        self._queue = SqlDeliveryQueue(
            sessions,
            lease=dt.timedelta(seconds=CLAIM_ROUNDS * self._timeout + 30),
            disable_after=dt.timedelta(hours=settings.webhook_disable_after_hours),
            rand=rand,
        )
        self._policy = policy_of(settings)
        self._resolver = resolver
        self._clock = clock

    def client(self) -> httpcore2.AsyncConnectionPool:
        """The connections the attempts are sent on: at most the concurrency, kept alive
        for 5 s between attempts, TLS verified against the system's roots (as httpx2's
        client does, the environment's proxy and certificate settings ignored)."""
        return httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=self._concurrency,
            max_keepalive_connections=self._concurrency,
            keepalive_expiry=KEEPALIVE_SECONDS,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the attempts in flight (each bounded by the
        timeout), record them, give back the claims not yet sent, and return.

        Three kinds of task share one queue of claimed attempts: `concurrency` senders, each
        sending one attempt at a time; a claimer, which claims up to CLAIM_ROUNDS times the
        concurrency whenever at most half of that is still claimed and not yet recorded;
        and a recorder, which records every outcome finished since its last write in one
        transaction (one at a time, so the busier the worker, the larger each write). An
        outcome counts as claimed until it is recorded: a slow database holds the claims
        back, not only the sending.
        """
        batch = CLAIM_ROUNDS * self._concurrency
        queue: asyncio.Queue[_Attempt | None] = asyncio.Queue()
        outcomes: list[Outcome] = []
        finished = asyncio.Event()  # outcomes are waiting to be recorded
        low = asyncio.Event()  # at most half a batch is claimed and not yet recorded
        sending = recording = 0
        closing = False

        def unrecorded() -> int:
            return queue.qsize() + sending + len(outcomes) + recording

        async def sender(client: httpcore2.AsyncConnectionPool) -> None:
            nonlocal sending
            while (attempt := await queue.get()) is not None:
                sending += 1
                outcomes.append(await self.send(client, *attempt))
                sending -= 1
                finished.set()

        async def claimer() -> None:
            fanned_at = -math.inf
            dry = True  # the last claim found fewer due deliveries than it asked for
            while not stop.is_set():
                room = batch - unrecorded()
                if room < batch - batch // 2:
                    low.clear()
                    await _first(low, stop)
                    continue
                # New changes become deliveries when the due ones run short, and at least
                # once a poll interval while they do not (a busy queue is not held back by
                # a look for changes before every claim).
                fan_out = dry or time.monotonic() - fanned_at >= self._poll
                try:
                    claimed, targets = await self._claim(room, fan_out=fan_out)
                except Exception:
                    log.exception("webhook claim failed; trying again")
                    claimed, targets = [], {}
                if fan_out:
                    fanned_at = time.monotonic()
                dry = len(claimed) < room
                for c in claimed:
                    queue.put_nowait((c, targets.get(c.url)))
                if not claimed and fan_out:
                    await _wait(stop, self._poll)

        async def recorder() -> None:
            nonlocal recording
            while not (closing and not outcomes):
                if not outcomes:
                    await finished.wait()
                    finished.clear()
                    continue
                taken = outcomes.copy()
                outcomes.clear()
                recording = len(taken)
                await self._finish(taken)
                recording = 0
                if unrecorded() <= batch // 2:
                    low.set()

        async with self.client() as client, asyncio.TaskGroup() as tasks:
            recording_task = tasks.create_task(recorder())
            senders = [tasks.create_task(sender(client)) for _ in range(self._concurrency)]
            await claimer()
            unsent = [queue.get_nowait() for _ in range(queue.qsize())]
            for _ in senders:
                queue.put_nowait(None)
            if unsent:
                await anyio.to_thread.run_sync(
                    self._queue.release, [a[0] for a in unsent if a is not None]
                )
            await asyncio.gather(*senders)
            closing = True
            finished.set()
            await recording_task

    async def step(self, client: httpcore2.AsyncConnectionPool) -> int:
        """One round: claim what is due (up to the concurrency), send it all, record it;
        how many attempts were made. (The tests' driver.)"""
        claimed, targets = await self._claim(self._concurrency)
        if claimed:
            outcomes = await asyncio.gather(
                *(self.send(client, c, targets.get(c.url)) for c in claimed)
            )
            await self._finish(list(outcomes))
        return len(claimed)

    async def _claim(
        self, limit: int, *, fan_out: bool = True
    ) -> tuple[list[Claimed], dict[str, list[str] | Exception]]:
        """Due deliveries (after turning new changes into deliveries, when `fan_out`), and
        where each of their URLs may be reached right now: every URL resolved and checked
        once per claim, just before its attempts."""
        now = self._clock()
        if fan_out:
            await anyio.to_thread.run_sync(self._queue.fan_out, now)
        claimed = await anyio.to_thread.run_sync(self._queue.claim, now, limit)
        targets: dict[str, list[str] | Exception] = {}
        for url in {c.url for c in claimed}:
            try:
                targets[url] = await anyio.to_thread.run_sync(
                    self._policy.addresses, url, self._resolver
                )
            except (UnsafeAddress, InvalidInput) as exc:
                targets[url] = exc
        return claimed, targets

    async def _finish(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        for attempt in range(5):
            try:
                await anyio.to_thread.run_sync(self._queue.finish, outcomes, self._clock())
                return
            except Exception:
                # Not recorded: the leases run out and the deliveries are sent again.
                log.exception("recording webhook attempts failed (try %d)", attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))

    async def send(
        self,
        client: httpcore2.AsyncConnectionPool,
        claimed: Claimed,
        target: list[str] | Exception | None = None,
    ) -> Outcome:
        """One attempt, never longer than the timeout; its outcome (never an exception).
        `target`: the addresses the URL was resolved to and checked for this attempt (or why
        it may not be reached); None: resolved and checked here."""
        try:
            async with asyncio.timeout(self._timeout):
                if target is None:
                    target = await anyio.to_thread.run_sync(
                        self._policy.addresses, claimed.url, self._resolver
                    )
                if isinstance(target, Exception):
                    raise target
                return await self._post(client, claimed, target)
        except (TimeoutError, httpcore2.TimeoutException):
            return Outcome(claimed, False, None, f"no answer within {self._timeout:g} s")
        except (UnsafeAddress, InvalidInput) as exc:
            return Outcome(claimed, False, None, str(exc)[:MAX_ERROR_CHARS])
        except HTTP_ERRORS as exc:
            return Outcome(claimed, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
        except Exception as exc:  # an attempt never stops the worker
            log.exception("webhook attempt failed")
            return Outcome(claimed, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])

    async def _post(
        self, client: httpcore2.AsyncConnectionPool, claimed: Claimed, addresses: list[str]
    ) -> Outcome:
        url, headers, extensions = _target(claimed.url, addresses[0], self._timeout)
        body = message(claimed.change)
        signed = signed_headers(claimed.secret, message_id(claimed), int(time.time()), body)
        async with client.stream(
            "POST",
            url,
            headers=[*headers, *((k.encode(), v.encode()) for k, v in signed.items())],
            content=body,
            extensions=extensions,
        ) as response:
            read = bytearray()
            async for chunk in response.aiter_stream():
                read += chunk
                if len(read) >= MAX_RESPONSE_BYTES:
                    break
        status = response.status
        if 200 <= status < 300:
            return Outcome(claimed, True, status, None)
        text = bytes(read[:MAX_ERROR_CHARS]).decode("utf-8", "replace")
        return Outcome(claimed, False, status, f"HTTP {status}: {text}"[:MAX_ERROR_CHARS])


@functools.lru_cache(maxsize=1024)
def _target(
    url: str, address: str, timeout: float
) -> tuple[httpcore2.URL, tuple[tuple[bytes, bytes], ...], dict[str, Any]]:
    """Where an attempt at `url` goes when its host was checked to be `address`: the URL
    with the address for its host, the headers that name the host (`Host`, and TLS's SNI
    through the extensions) and the fixed ones, and the timeouts."""
    parsed = httpx2.URL(url)
    return (
        httpcore2.URL(
            scheme=parsed.raw_scheme,
            host=address.encode("ascii"),
            port=parsed.port,
            target=parsed.raw_path,
        ),
        (
            (b"host", parsed.netloc),
            (b"user-agent", b"ecolabel-registry-webhooks"),
            (b"content-type", b"application/json"),
        ),
        {
            "sni_hostname": parsed.host,
            "timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout),
        },
    )


async def _first(*events: asyncio.Event) -> None:
    """Until one of `events` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
