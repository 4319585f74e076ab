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
import logging
import time
from collections.abc import Callable

import anyio
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
CLAIM_ROUNDS = 4
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

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            timeout=httpx2.Timeout(self._timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx2.Limits(max_connections=self._concurrency),
            headers={
                "user-agent": "ecolabel-registry-webhooks",
                "content-type": "application/json",
            },
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then finish the attempts in flight (each bounded by the
        timeout), record them, give back the claims not yet sent, and return.

        Claims are made in batches of up to CLAIM_ROUNDS times the concurrency, whenever at
        most half of that is still claimed and unfinished; at most `concurrency` attempts are
        sending at once; finished attempts are recorded together.
        """
        slots = asyncio.Semaphore(self._concurrency)
        batch = CLAIM_ROUNDS * self._concurrency
        async with self.client() as client:
            flying: set[asyncio.Task[Outcome | Claimed]] = set()
            while True:
                if not stop.is_set() and len(flying) <= batch // 2:
                    try:
                        claimed, targets = await self._claim(batch - len(flying))
                    except Exception:
                        log.exception("webhook claim failed; trying again")
                        claimed, targets = [], {}
                    flying |= {
                        asyncio.create_task(self._send_in_slot(slots, stop, client, c, targets))
                        for c in claimed
                    }
                if not flying:
                    if stop.is_set():
                        return
                    await _wait(stop, self._poll)
                    continue
                done, flying = await asyncio.wait(
                    flying, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                )
                results = [t.result() for t in done]
                unsent = [r for r in results if isinstance(r, Claimed)]
                if unsent:
                    await anyio.to_thread.run_sync(self._queue.release, unsent)
                await self._finish([r for r in results if isinstance(r, Outcome)])

    async def _send_in_slot(
        self,
        slots: asyncio.Semaphore,
        stop: asyncio.Event,
        client: httpx2.AsyncClient,
        claimed: Claimed,
        targets: dict[str, list[str] | Exception],
    ) -> Outcome | Claimed:
        """The attempt's outcome; the claim itself when the worker stopped before sending."""
        async with slots:
            if stop.is_set():
                return claimed
            return await self.send(client, claimed, targets.get(claimed.url))

    async def step(self, client: httpx2.AsyncClient) -> int:
        """One round: claim what is due (up to the concurrency), send it all, record it;
        how many attempts were made. (The tests' driver.)"""
        claimed, targets = await self._claim(self._concurrency)
        if claimed:
            outcomes = await asyncio.gather(
                *(self.send(client, c, targets.get(c.url)) for c in claimed)
            )
            await self._finish(list(outcomes))
        return len(claimed)

    async def _claim(self, limit: int) -> tuple[list[Claimed], dict[str, list[str] | Exception]]:
        """Due deliveries, and where each of their URLs may be reached right now: every URL
        resolved and checked once per claim, just before its attempts."""
        now = self._clock()
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
        client: httpx2.AsyncClient,
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
        except TimeoutError:
            return Outcome(claimed, False, None, f"no answer within {self._timeout:g} s")
        except (UnsafeAddress, InvalidInput) as exc:
            return Outcome(claimed, False, None, str(exc)[:MAX_ERROR_CHARS])
        except httpx2.HTTPError as exc:
            return Outcome(claimed, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
        except Exception as exc:  # an attempt never stops the worker
            log.exception("webhook attempt failed")
            return Outcome(claimed, False, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])

    async def _post(
        self, client: httpx2.AsyncClient, claimed: Claimed, addresses: list[str]
    ) -> Outcome:
        url = httpx2.URL(claimed.url)
        body = message(claimed.change)
        headers = signed_headers(claimed.secret, message_id(claimed), int(time.time()), body)
        headers["host"] = url.netloc.decode("ascii")
        request = client.build_request(
            "POST",
            url.copy_with(host=addresses[0]),
            content=body,
            headers=headers,
            extensions={"sni_hostname": url.host},
        )
        response = await client.send(request, stream=True)
        try:
            read = bytearray()
            async for chunk in response.aiter_raw():
                read += chunk
                if len(read) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(claimed, True, status, None)
        text = bytes(read[:MAX_ERROR_CHARS]).decode("utf-8", "replace")
        return Outcome(claimed, False, status, f"HTTP {status}: {text}"[:MAX_ERROR_CHARS])


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
