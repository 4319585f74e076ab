"""What the pages keep between requests: everything keyed by the registry's fact revision.

A page made of the registry's small facts (economy names, agreement titles, schemes and
categories, the recognition matrix) is the same for every request at one fact revision (and
one certificate version, date, language and address); fact writes move the revision
(services/_common.audit), so a key holding the revision read for the request can never serve
a page older than a write acknowledged before the request (ADR 0006). Entries of older
revisions are simply never asked for again and fall out of the bounded LRU maps.

Uncached recognition matrices cost seconds of CPU each: `MatrixSlots` bounds how many are
worked out at once per process; past that a request is answered 503 with Retry-After (as
exports are, `api.streaming`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ecolabel_registry.domain.model import Economy

# Whatever the entry counts, the bodies kept per process stay within these (memory bar).
PAGES_MAX_BYTES = 32 * 1024 * 1024
MATRICES_MAX_BYTES = 48 * 1024 * 1024
QR_MAX_BYTES = 16 * 1024 * 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A map of at most `size` entries (and, for bytes, at most `max_bytes` of them),
    dropping the least recently used; safe across threads."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _weight(value: object) -> int:
        return len(value) if isinstance(value, bytes) else 0

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        weight = self._weight(value)
        if self.size <= 0 or (self.max_bytes is not None and weight > self.max_bytes):
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._weight(old)
            self._items[key] = value
            self._bytes += weight
            while len(self._items) > self.size or (
                self.max_bytes is not None and self._bytes > self.max_bytes
            ):
                _key, dropped = self._items.popitem(last=False)
                self._bytes -= self._weight(dropped)

    def __len__(self) -> int:
        return len(self._items)


class EconomyNames:
    """Every economy by code (countries too, which the resolver's snapshot does not hold),
    read once per fact revision."""

    def __init__(self) -> None:
        self._revision = -1
        self._names: dict[str, Economy] = {}
        self._lock = threading.Lock()

    def current(self, revision: int) -> dict[str, Economy] | None:
        """The economies when they hold every write up to `revision`; None otherwise."""
        return self._names if self._revision >= revision else None

    def at(self, revision: int, load: Callable[[], dict[str, Economy]]) -> dict[str, Economy]:
        """The economies as of `revision` or later (`load` reads them when the held ones are
        older: read after the revision was, so they hold every write up to it)."""
        if self._revision >= revision:
            return self._names
        with self._lock:
            if self._revision < revision:
                self._names = load()
                self._revision = revision
            return self._names


class MatrixSlots:
    """How many uncached recognition matrices one process works out at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._taken >= self.limit:
                return False
            self._taken += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._taken -= 1


class PageCache:
    """The pages' caches of one process (on `app.state.page_cache`)."""

    def __init__(self, pages: int, matrices: int, matrix_workers: int) -> None:
        self.names = EconomyNames()
        self.pages: Lru[Hashable, bytes] = Lru(pages, PAGES_MAX_BYTES)
        self.matrices: Lru[Hashable, bytes] = Lru(matrices, MATRICES_MAX_BYTES)
        self.matrix_slots = MatrixSlots(matrix_workers)
        self.qr: Lru[str, bytes] = Lru(pages, QR_MAX_BYTES)


def entity_tag(*parts: object) -> str:
    """A strong ETag naming everything a page is made of (so it is known before rendering)."""
    text = "\x1f".join(repr(p) for p in parts)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
