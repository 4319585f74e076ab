"""The resolver's snapshots: the current one per process (`ResolverCache`), the recorded
ones kept for `as_recorded` questions (`PastSnapshots`), and how changes update them."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TypeVar

from ecolabel_registry.domain.errors import InvalidInput
from ecolabel_registry.domain.messages import recorded_before_message, recorded_future_message
from ecolabel_registry.domain.model import Agreement, EconomyKind, ProductCategory
from ecolabel_registry.domain.resolver import RegistryFacts, Resolver
from ecolabel_registry.services.ports.equivalence import (
    DELTA_LIMIT,
    FactChanges,
    FactsSource,
    RecordedSource,
    RevisionLog,
)


@dataclass(frozen=True, slots=True)
class AsRecorded:
    """An instant a question is asked as recorded at, and the revisions it names."""

    instant: dt.datetime
    revision: int
    facts_revision: int

    @property
    def day(self) -> dt.date:
        """The instant's date in UTC: `on` when the question names none."""
        return self.instant.astimezone(dt.UTC).date()


def as_recorded(
    source: RevisionLog, instant: dt.datetime, loc: tuple[str | int, ...]
) -> AsRecorded:
    """The revisions an `as_recorded` instant names; 422 for an instant in the future or
    before the registry's first recorded revision (`out_of_history`)."""
    now = dt.datetime.now(dt.UTC)
    found = None if instant > now else source.recorded_revision(instant)
    if found is None:
        raise out_of_history(source, instant, now, loc)
    return AsRecorded(instant, found[0], found[1])


def out_of_history(
    source: RevisionLog, instant: dt.datetime, now: dt.datetime, loc: tuple[str | int, ...]
) -> InvalidInput:
    """The 422 of an instant that names no recorded revision: one after `now` (when the
    revision was looked for), or one before the registry's first."""
    if instant > now:
        return InvalidInput.single(loc, recorded_future_message(instant))
    return InvalidInput.single(loc, recorded_before_message(instant, source.first_recorded()))


PAST_SNAPSHOTS = 32
"""Resolver snapshots of earlier facts a process keeps (the ones used last)."""


class PastSnapshots:
    """Resolver snapshots of the facts as recorded at earlier revisions, the last used kept.

    Keyed by the facts' state (the last revision that changed a fact, `AsRecorded.
    facts_revision`): the many revisions that changed only certificates share one. A missing
    one is built from the nearest kept snapshot by applying the fact versions that differ
    (`Resolver(facts, previous, changed_agreements)`, as the current snapshot's updates),
    and loaded whole only when none is near (ADR 0007).
    """

    def __init__(self, size: int = PAST_SNAPSHOTS) -> None:
        self._size = size
        self._kept: OrderedDict[int, Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def kept(self, facts_revision: int) -> Snapshot | None:
        """The snapshot of `facts_revision` when one is kept (no query, no waiting)."""
        return self._kept.get(facts_revision)

    def at(self, source: RecordedSource, facts_revision: int) -> Snapshot:
        kept = self._kept.get(facts_revision)
        if kept is not None:
            return kept
        with self._lock:
            kept = self._kept.get(facts_revision)
            if kept is not None:
                self._kept.move_to_end(facts_revision)
                return kept
            snapshot: Snapshot | None = None
            if self._kept:
                base = min(self._kept.values(), key=lambda k: abs(k.revision - facts_revision))
                changes = source.past_changes(base.revision, facts_revision, DELTA_LIMIT)
                if changes is not None:
                    snapshot = _updated(base, changes)
            if snapshot is None:
                facts, categories, codes = source.past_load(facts_revision)
                snapshot = Snapshot(facts_revision, Resolver(facts), facts, categories, codes)
            self._kept[facts_revision] = snapshot
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
            return snapshot


@dataclass(frozen=True)
class Snapshot:
    """The resolver and its facts as of one registry revision."""

    revision: int
    resolver: Resolver
    facts: RegistryFacts
    categories: dict[tuple[str, str], ProductCategory]
    economy_codes: frozenset[str]

    @cached_property
    def sorted_codes(self) -> tuple[str, ...]:
        """`economy_codes` in order (worked out once per snapshot)."""
        return tuple(sorted(self.economy_codes))

    @cached_property
    def agreements_by_id(self) -> Mapping[str, Agreement]:
        """The agreements of `facts` by id."""
        return {a.id: a for a in self.facts.agreements}


class ResolverCache:
    """One process's copy of the small facts, brought up to date when the registry's
    revision moves: by the changes logged since its revision when the source can tell them
    (a few small reads and the changed agreements' links), else by a full reload (ADR 0006).
    """

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def get(self, source: FactsSource) -> Snapshot:
        """The snapshot for the current revision (one small query when nothing changed)."""
        return self.at(source, source.revision())

    def current(self, revision: int) -> Snapshot | None:
        """The snapshot when it holds every write up to `revision`; None when it must be
        brought up to date first (no query)."""
        snapshot = self._snapshot
        return snapshot if snapshot is not None and snapshot.revision >= revision else None

    def at(self, source: FactsSource, revision: int) -> Snapshot:
        """A snapshot holding every write up to `revision`, read by the caller (no query when
        the current one does).

        Revisions commit in their order, so a snapshot at a later revision holds every write
        an earlier one does: a question never waits for a snapshot older than the current
        one. One update runs at a time; the questions that wait for it take its result when
        it holds their revision, instead of starting another. An update reads the counter
        again before the facts, and labels the snapshot with that value: facts at least as
        new as their label, so a later write is never missed.
        """
        snapshot = self._snapshot
        if snapshot is not None and snapshot.revision >= revision:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.revision >= revision:
                return snapshot
            changes = source.changes(snapshot.revision) if snapshot is not None else None
            if snapshot is not None and changes is not None:
                snapshot = _updated(snapshot, changes)
                self._snapshot = snapshot
                return snapshot
            revision = source.revision()
            facts, categories, codes = source.load()
            snapshot = Snapshot(revision, Resolver(facts), facts, categories, codes)
            self._snapshot = snapshot
            return snapshot

    def clear(self) -> None:
        """Forget the snapshot (the next question reloads)."""
        self._snapshot = None


def _updated(snapshot: Snapshot, changes: FactChanges) -> Snapshot:
    """`snapshot` with `changes` applied: what a full load at `changes.revision` gives."""
    if not (changes.economies or changes.schemes or changes.categories or changes.agreements):
        return replace(snapshot, revision=changes.revision)  # certificates only: same facts
    facts = snapshot.facts
    economies = dict(facts.economies)
    codes = set(snapshot.economy_codes)
    for code, economy in changes.economies.items():
        if economy is not None and economy.kind is EconomyKind.GROUP:
            economies[code] = economy
        else:
            economies.pop(code, None)
        if economy is None:
            codes.discard(code)
        else:
            codes.add(code)
    schemes = _applied(facts.schemes, changes.schemes)
    categories = _applied(snapshot.categories, changes.categories)
    agreements = _applied({a.id: a for a in facts.agreements}, changes.agreements)
    updated = replace(
        facts,
        economies=economies,
        schemes=schemes,
        agreements=[agreements[k] for k in sorted(agreements)],
    )
    resolver = Resolver(updated, snapshot.resolver, changes.agreements.keys())
    return Snapshot(changes.revision, resolver, updated, categories, frozenset(codes))


_K = TypeVar("_K")
_V = TypeVar("_V")


def _applied(current: Mapping[_K, _V], changes: Mapping[_K, _V | None]) -> dict[_K, _V]:
    """A copy of `current` with `changes` applied: a value replaces, None takes the key out."""
    result = dict(current)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
