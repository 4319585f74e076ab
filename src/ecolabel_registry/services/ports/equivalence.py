"""The equivalence port: where the resolver's facts, certificates and history come from,
and the data types that cross it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ecolabel_registry.domain.model import (
    Agreement,
    CertificateTerms,
    Economy,
    ProductCategory,
    Scheme,
)
from ecolabel_registry.domain.resolver import RegistryFacts

TermsByKey = dict[tuple[str, str], CertificateTerms]
"""Certificates' terms by (scheme id, number)."""
CACHED_FACTS = frozenset({"economy", "scheme", "product_category", "agreement", "scope_entry"})
"""The kinds of facts the resolver's snapshot holds (a write of one moves the snapshot on)."""
DELTA_LIMIT = 200
"""Most facts applied to a snapshot one by one; more: a full load is as quick."""


@dataclass(frozen=True)
class FactChanges:
    """The cached facts that changed after a revision, as they are at `revision` (or later).

    Each maps the key of a fact written since to its current value, None when it is gone:
    `economies` by code (a group, or None when the code is not a group), `schemes` by id,
    `categories` by (scheme id, code), `agreements` by id (a scope entry's write names its
    agreement).
    """

    revision: int
    economies: Mapping[str, Economy | None]
    schemes: Mapping[str, Scheme | None]
    categories: Mapping[tuple[str, str], ProductCategory | None]
    agreements: Mapping[str, Agreement | None]


class FactsSource(Protocol):
    """The small facts a `ResolverCache` holds, and the counter of their writes."""

    def revision(self) -> int: ...
    def load(
        self,
    ) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]: ...
    def changes(self, since: int) -> FactChanges | None:
        """What changed after revision `since`; None when only a full `load` can tell."""
        ...


class CertificateSource(FactsSource, Protocol):
    """The facts and what the resolver reads of certificates (one reader of their terms)."""

    def terms_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """The revision counter and one certificate's terms, read together."""
        ...

    def certificate_terms(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CertificateTerms]:
        """The terms of the certificates of `keys` that exist: `fetch_terms(keys)()`."""
        ...

    def fetch_terms(self, keys: Iterable[tuple[str, str]]) -> Callable[[], TermsByKey]:
        """`certificate_terms` in two steps: the database's part now, and the terms made of
        what it returned when the function returned is called. The first step is safe on a
        second thread while the first answers (each call reads on a connection of its own)
        and holds the interpreter little; the second is the thread's that needs the terms."""
        ...


class RevisionLog(Protocol):
    """The registry's revisions by the instant they were recorded."""

    def recorded_revision(self, instant: dt.datetime) -> tuple[int, int] | None:
        """The last revision recorded at or before `instant` and the last revision at or
        before it that changed a fact; None when the registry recorded nothing by then."""
        ...

    def first_recorded(self) -> dt.datetime | None:
        """When the registry's first logged revision was recorded."""
        ...


@runtime_checkable
class RecordedSource(RevisionLog, Protocol):
    """The registry as recorded: revisions by instant, facts and certificates as of one."""

    def past_load(
        self, revision: int
    ) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        """Every fact as recorded at `revision`."""
        ...

    def past_changes(self, base: int, revision: int, limit: int) -> FactChanges | None:
        """The facts that differ between `base` and `revision`, as recorded at `revision`;
        None when more than `limit` do."""
        ...

    def terms_as_recorded(
        self, keys: Iterable[tuple[str, str]], revision: int
    ) -> dict[tuple[str, str], CertificateTerms]:
        """The terms of the certificates of `keys` as recorded at `revision` (those that
        existed then)."""
        ...


class FactsCache(Protocol):
    """What warms a process's resolver cache: a snapshot read from `source`."""

    def get(self, source: FactsSource) -> object:
        """The snapshot for the source's current revision (built when there is none)."""
        ...


@dataclass(frozen=True, slots=True)
class CertificateGroup:
    """Certificates that recognition treats alike on a date, and how many there are."""

    scheme_id: str
    category_code: str
    hs_codes: tuple[str, ...]
    count: int


class CertificateGroups(Protocol):
    def active_groups(
        self, scheme_ids: Iterable[str], on: dt.date, limit: int
    ) -> tuple[list[CertificateGroup], int]:
        """Up to `limit` groups of the certificates of `scheme_ids` valid and active on `on`,
        the largest first, and how many groups there are in all."""
        ...
