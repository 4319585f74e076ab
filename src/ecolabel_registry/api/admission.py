"""What one client may take of a process: batch lines answered at once, decision lines a key
records in an hour.

`LineSlots` bounds the lines of batches and multi-line decisions answered at once by one
process. Each of them runs on a worker thread and holds the interpreter for a few hundred ms
per 10,000 lines: without a bound, forty clients sending full batches at once would take
every worker thread and most of the interpreter, and every other request (a question, a
write, `/readyz`) would wait behind them. Past the bound a batch waits its turn, first come
first served, for up to `wait_seconds`, then answers 503 with Retry-After, having done nothing.

`DecisionQuota` bounds the decision lines an API key asks for the record in an hour, per
process (`limits`' sliding window counter): each decision is stored with its receipt (about
900 bytes a line), so a key that recorded without end would fill the database. Lines count
when they are asked (a decision that then fails, say for want of a signing key, counts too).
Past the quota a decision answers 429 with Retry-After before it is answered: nothing is
stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from ecolabel_registry.domain.errors import QuotaExceeded, Unavailable

LINES_BUSY_RETRY_SECONDS = 5


class LineSlots:
    """Lines answered at once by one process (an event loop's own count).

    A request takes as many lines as it has (a request larger than the whole capacity takes
    all of it, alone). Requests are admitted in the order they came: a large one waiting is
    not overtaken by small ones behind it.
    """

    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.free = capacity
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @contextlib.asynccontextmanager
    async def taken(self, lines: int) -> AsyncIterator[None]:
        """Hold `lines` of the capacity for the block; Unavailable (503, Retry-After) when
        they are not free within `wait_seconds`."""
        weight = max(1, min(lines, self.capacity))
        await self._acquire(weight)
        try:
            yield
        finally:
            self._release(weight)

    async def _acquire(self, weight: int) -> None:
        if not self._waiting and self.free >= weight:
            self.free -= weight
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (weight, turn)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(turn), self.wait_seconds)
        except TimeoutError:
            if turn.done():  # admitted just as the wait ran out: keep the turn
                return
            self._waiting.remove(entry)
            self._admit()  # those behind it may fit now
            raise Unavailable(
                f"{self.capacity - self.free:,} batch lines are being answered already; "
                "retry shortly",
                retry_after=LINES_BUSY_RETRY_SECONDS,
            ) from None
        except asyncio.CancelledError:
            if turn.done():  # admitted, then the client went away: give the lines back
                self._release(weight)
            else:
                self._waiting.remove(entry)
                self._admit()
            raise

    def _release(self, weight: int) -> None:
        self.free += weight
        self._admit()

    def _admit(self) -> None:
        while self._waiting and self._waiting[0][0] <= self.free:
            weight, turn = self._waiting.popleft()
            self.free -= weight
            turn.set_result(None)


class DecisionQuota:
    """The decision lines each API key may ask for the record in an hour, in this process
    (0: no limit)."""

    def __init__(self, lines_per_hour: int) -> None:
        self._item = RateLimitItemPerHour(lines_per_hour) if lines_per_hour > 0 else None
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def take(self, key_id: str | None, lines: int) -> None:
        """Count `lines` against the key's quota for the hour, or, when they do not fit in
        what is left, count nothing and raise QuotaExceeded (429, Retry-After)."""
        item = self._item
        if item is None or key_id is None:
            return
        if self._limiter.hit(item, key_id, cost=lines):
            return
        stats = self._limiter.get_window_stats(item, key_id)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        raise QuotaExceeded(
            f"this API key may ask for the record {item.amount:,} decision lines an hour "
            f"({stats.remaining:,} left now; this decision has {lines:,}): nothing was "
            "recorded; send it again later, or in smaller parts",
            retry_after=wait,
        )
