"""The pages' bounded caches: entries and bytes both bounded, least recently used dropped."""

from __future__ import annotations

from ecolabel_registry.api.pages.cache import Lru


def test_the_least_recently_used_entry_goes_first_past_the_count() -> None:
    lru: Lru[str, bytes] = Lru(2)
    lru.put("a", b"1")
    lru.put("b", b"2")
    assert lru.get("a") == b"1"  # "a" is now the most recently used
    lru.put("c", b"3")
    assert lru.get("b") is None
    assert lru.get("a") == b"1"
    assert lru.get("c") == b"3"


def test_bodies_are_dropped_past_the_byte_budget_and_one_too_large_is_not_kept() -> None:
    lru: Lru[str, bytes] = Lru(100, max_bytes=10)
    lru.put("a", b"x" * 6)
    lru.put("b", b"y" * 4)
    assert len(lru) == 2
    lru.put("c", b"z" * 3)  # 13 bytes: "a" goes
    assert lru.get("a") is None
    assert lru.get("b") is not None
    lru.put("huge", b"h" * 11)
    assert lru.get("huge") is None
    lru.put("b", b"y")  # replacing an entry counts its new size only
    lru.put("d", b"d" * 6)
    assert lru.get("c") == b"zzz"
    assert lru.get("b") == b"y"


def test_a_size_of_zero_keeps_nothing() -> None:
    lru: Lru[str, bytes] = Lru(0)
    lru.put("a", b"1")
    assert lru.get("a") is None
