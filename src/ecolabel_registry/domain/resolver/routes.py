"""Rules 4 and 5 of the resolver: routes through agreements and chains of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ecolabel_registry.domain.model import Condition, Level, Scheme, ScopeEntry, window_contains
from ecolabel_registry.domain.resolver.answers import Reason, ReasonCode, Route, RouteStep
from ecolabel_registry.domain.resolver.certificate import Query, entry_covers_hs
from ecolabel_registry.domain.resolver.links import Link, LinkIndex
from ecolabel_registry.domain.resolver.reasons import (
    link_failure,
    scheme_name,
    scope_miss,
    sentence,
)
from ecolabel_registry.domain.resolver.timeline import earliest, next_day_in


@dataclass(frozen=True, slots=True)
class Partial:
    """A chain prefix valid on the query date, from the certificate's scheme outward."""

    steps: tuple[RouteStep, ...]
    level: Level
    conditions: tuple[Condition, ...]
    until: dt.date | None
    equivalent: str | None


@dataclass(slots=True)
class Exploration:
    """Every route and miss from the certificate's scheme to any recognizing scheme."""

    routes: dict[str, list[Route]]
    reasons: dict[str, list[tuple[Reason, str]]]
    linked: set[str]
    bounds: dict[str, dt.date]

    def add_bound(self, scheme_id: str, day: dt.date | None) -> None:
        if day is not None:
            current = self.bounds.get(scheme_id)
            if current is None or day < current:
                self.bounds[scheme_id] = day


def weakest(a: Level, b: Level) -> Level:
    return a if a.strength <= b.strength else b


def merge_conditions(
    first: tuple[Condition, ...], second: tuple[Condition, ...]
) -> tuple[Condition, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def route_key(route: Route) -> tuple[int, int, int, int, str, str, str, tuple[str, ...]]:
    until = route.valid_until
    return (
        -route.level.strength,
        len(route.path),
        0 if until is None else 1,
        0 if until is None else -until.toordinal(),
        route.agreement_id or "",
        route.scope_entry_id or "",
        route.recognizing_scheme_id,
        tuple(f"{s.agreement_id}/{s.scope_entry_id}" for s in route.path),
    )


class RouteFinder:
    """Routes and misses from a certificate's scheme, over one snapshot's link indexes."""

    __slots__ = ("_index", "_schemes")

    def __init__(self, index: LinkIndex, schemes: Mapping[str, Scheme]) -> None:
        self._index = index
        self._schemes = schemes

    def explore(self, query: Query, recognizers: frozenset[str] | None) -> Exploration:
        """Routes and misses from the query's scheme to `recognizers` (None: to every scheme)."""
        on = query.on
        scheme_id = query.scheme_id
        found = Exploration(routes={}, reasons={}, linked=set(), bounds={})
        by_recognizing = self._index.links.get(scheme_id, {})
        if recognizers is None:
            direct = sorted(by_recognizing)
        else:
            direct = sorted(r for r in recognizers if r in by_recognizing and r != scheme_id)
        for recognizing in direct:
            found.linked.add(recognizing)
            for link in by_recognizing[recognizing]:
                found.add_bound(recognizing, link.next_boundary(on))
                failure = link_failure(self._schemes, link, on)
                if failure is not None:
                    code, clause, about = failure
                    found.reasons.setdefault(recognizing, []).append(
                        (Reason(code, sentence(clause), link.agreement.id, about), clause)
                    )
                    continue
                covering, matches = entries_on(link, query, query.category.code)
                if not matches:
                    miss = scope_miss(self._schemes, link, query, covering)
                    found.reasons.setdefault(recognizing, []).append(miss)
                    continue
                for entry in matches:
                    level = Level(entry.level)
                    step = RouteStep(link.agreement.id, entry.id, recognizing, scheme_id, level)
                    found.routes.setdefault(recognizing, []).append(
                        Route(
                            basis="agreement",
                            level=level,
                            recognizing_scheme_id=recognizing,
                            agreement_id=link.agreement.id,
                            scope_entry_id=entry.id,
                            conditions=entry.conditions,
                            valid_until=earliest(query.until, link.end(entry, on)),
                            path=(step,),
                            equivalent_category_code=entry.equivalent_category_code,
                        )
                    )
        self._cooperation(query, recognizers, found)
        self._chains(query, recognizers, found)
        return found

    def _cooperation(
        self, query: Query, recognizers: frozenset[str] | None, found: Exploration
    ) -> None:
        """`COOPERATION_ONLY` for every recognizer linked to the certificate's scheme by
        cooperation agreements alone (whatever their dates: such an agreement never gives a
        route, so its status changes no answer)."""
        scheme_id = query.scheme_id
        by_recognizing = self._index.cooperation.get(scheme_id, {})
        with_recognition = self._index.links.get(scheme_id, {})
        for recognizing in sorted(by_recognizing):
            if recognizing in with_recognition:
                continue
            if recognizers is not None and recognizing not in recognizers:
                continue
            found.linked.add(recognizing)
            pair = (
                f"{scheme_name(self._schemes, recognizing)} and "
                f"{scheme_name(self._schemes, scheme_id)}"
            )
            for agreement in by_recognizing[recognizing]:
                clause = (
                    f"agreement '{agreement.title}' between {pair} is a cooperation agreement "
                    "(a memorandum of understanding or framework), which recognizes no certificate"
                )
                reason = Reason(
                    ReasonCode.COOPERATION_ONLY, sentence(clause), agreement.id, recognizing
                )
                found.reasons.setdefault(recognizing, []).append((reason, clause))

    def _chains(self, query: Query, recognizers: frozenset[str] | None, found: Exploration) -> None:
        """Chained routes (rule 5) along every chain of chaining-allowed agreements.

        The chains are the static ones (dates ignored) from the certificate's scheme to the
        recognizers; every link on them bounds the answer's valid_until for the recognizer at
        their end, since a change on any of them can open or close a route there.
        """
        on = query.on
        by_recognizing = self._index.chains_of(query.scheme_id)
        if not by_recognizing:
            return
        if recognizers is None:
            ends = sorted(by_recognizing)
        else:
            ends = sorted(r for r in recognizers if r in by_recognizing)
        start = Partial(
            steps=(),
            level=Level.NATIVE,  # the identity of "weakest of"
            conditions=(),
            until=query.until,
            equivalent=query.category.code,
        )
        failed: dict[int, bool] = {}
        for recognizing in ends:
            chains = by_recognizing[recognizing]
            found.add_bound(recognizing, next_day_in(chains.boundaries, on))
            for chain in chains.chains:
                partials = [start]
                for link in chain:
                    key = id(link)
                    if key not in failed:
                        failed[key] = link_failure(self._schemes, link, on) is not None
                    if failed[key]:
                        partials = []
                        break
                    partials = [
                        _extend(partial, link, entry, on)
                        for partial in partials
                        for entry in entries_on(link, query, partial.equivalent)[1]
                    ]
                    if not partials:
                        break
                for partial in partials:
                    found.routes.setdefault(recognizing, []).append(route_of(partial, recognizing))


def _extend(partial: Partial, link: Link, entry: ScopeEntry, on: dt.date) -> Partial:
    level = Level(entry.level)
    step = RouteStep(link.agreement.id, entry.id, link.recognizing, link.recognized, level)
    return Partial(
        steps=(*partial.steps, step),
        level=weakest(partial.level, level),
        conditions=merge_conditions(partial.conditions, entry.conditions),
        until=earliest(partial.until, link.end(entry, on)),
        equivalent=entry.equivalent_category_code,
    )


def entries_on(
    link: Link, query: Query, wanted_category: str | None
) -> tuple[list[ScopeEntry], list[ScopeEntry]]:
    """The scope entries valid on the query date that cover the category, and among
    them those that also cover the HS code.

    An entry covers the category when its category_code is None or `wanted_category`.
    """
    on = query.on
    covering = [
        e
        for e in link.entries
        if window_contains(e.valid_from, e.valid_to, on)
        and (e.category_code is None or e.category_code == wanted_category)
    ]
    return covering, [e for e in covering if entry_covers_hs(e, query)]


def route_of(partial: Partial, recognizing: str) -> Route:
    last = partial.steps[-1]
    return Route(
        basis="agreement",
        level=partial.level,
        recognizing_scheme_id=recognizing,
        agreement_id=last.agreement_id,
        scope_entry_id=last.scope_entry_id,
        conditions=partial.conditions,
        valid_until=partial.until,
        path=partial.steps,
        equivalent_category_code=partial.equivalent,
    )
