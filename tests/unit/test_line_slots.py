"""Lines answered at once: first come, first served, a bounded wait, nothing lost."""

from __future__ import annotations

import asyncio

import pytest

from ecolabel_registry.api.admission import LineSlots
from ecolabel_registry.domain.errors import Unavailable


async def _run(
    slots: LineSlots, name: str, lines: int, order: list[str], hold: asyncio.Event
) -> None:
    async with slots.taken(lines):
        order.append(name)
        await hold.wait()


def test_a_large_request_waiting_is_not_overtaken_by_small_ones_behind_it() -> None:
    async def scenario() -> list[str]:
        slots = LineSlots(4, wait_seconds=5)
        order: list[str] = []
        first, rest = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(_run(slots, "a", 3, order, first))
        await asyncio.sleep(0)
        b = asyncio.create_task(_run(slots, "b", 3, order, rest))
        await asyncio.sleep(0)
        c = asyncio.create_task(_run(slots, "c", 1, order, rest))
        await asyncio.sleep(0.05)
        assert order == ["a"]  # c would fit beside a, but b came first
        first.set()
        await asyncio.sleep(0.05)
        assert order == ["a", "b", "c"]
        rest.set()
        await asyncio.gather(a, b, c)
        assert slots.free == 4
        return order

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_wait_that_runs_out_is_a_503_and_lets_those_behind_it_in() -> None:
    async def scenario() -> None:
        slots = LineSlots(4, wait_seconds=0.1)
        order: list[str] = []
        held = asyncio.Event()
        a = asyncio.create_task(_run(slots, "a", 2, order, held))
        await asyncio.sleep(0)
        big = asyncio.create_task(_run(slots, "big", 4, order, held))
        await asyncio.sleep(0)
        small = asyncio.create_task(_run(slots, "small", 2, order, held))
        with pytest.raises(Unavailable) as refused:
            await big
        assert refused.value.retry_after == 5
        await asyncio.sleep(0.01)
        assert order == ["a", "small"]  # admitted once the big one stopped waiting
        held.set()
        await asyncio.gather(a, small)
        assert slots.free == 4

    asyncio.run(scenario())


def test_a_client_that_goes_away_while_waiting_or_answered_gives_its_lines_back() -> None:
    async def scenario() -> None:
        slots = LineSlots(4, wait_seconds=5)
        order: list[str] = []
        held = asyncio.Event()
        a = asyncio.create_task(_run(slots, "a", 4, order, held))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(_run(slots, "waiting", 1, order, held))
        await asyncio.sleep(0.01)
        waiting.cancel()
        a.cancel()
        await asyncio.gather(a, waiting, return_exceptions=True)
        assert slots.free == 4
        assert order == ["a"]
        async with slots.taken(10_000):  # more than the capacity: alone
            assert slots.free == 0
        assert slots.free == 4

    asyncio.run(scenario())
