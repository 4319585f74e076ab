"""The resolver's cached indexes: agreements as links between schemes, and chains of them."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementStatus,
    Chaining,
    Direction,
    PartyStatus,
    Purpose,
    ScopeEntry,
)
from ecolabel_registry.domain.resolver.answers import MAX_CHAIN_LENGTH
from ecolabel_registry.domain.resolver.timeline import Timeline, day_after, day_before, earliest


@dataclass(frozen=True, slots=True)
class Link:
    """One agreement seen from one ordered pair: `recognizing` recognizes `recognized`."""

    agreement: Agreement
    recognizing: str
    recognized: str
    entries: tuple[ScopeEntry, ...]
    status: Timeline[AgreementStatus]
    recognizing_party: Timeline[PartyStatus]
    recognized_party: Timeline[PartyStatus]
    boundaries: tuple[dt.date, ...]

    def next_boundary(self, on: dt.date) -> dt.date | None:
        i = bisect_right(self.boundaries, on)
        return self.boundaries[i] if i < len(self.boundaries) else None

    def end(self, entry: ScopeEntry, on: dt.date) -> dt.date | None:
        """The last day on which this link still gives a route through `entry`."""
        changes = (
            self.status.next_change(on),
            self.recognizing_party.next_change(on),
            self.recognized_party.next_change(on),
        )
        return earliest(
            self.agreement.effective_to,
            entry.valid_to,
            *(day_before(c) for c in changes if c is not None),
        )


@dataclass(frozen=True, slots=True)
class Chains:
    """The static chains from one scheme to one far end, and every day any of them changes."""

    chains: tuple[tuple[Link, ...], ...]
    boundaries: tuple[dt.date, ...]


def relinked_cooperation(
    previous: dict[str, dict[str, tuple[Agreement, ...]]],
    changed: frozenset[str],
    old: list[Link],
    new: list[Link],
) -> dict[str, dict[str, tuple[Agreement, ...]]]:
    """The cooperation index of `previous` with the `changed` agreements' pairs worked out
    again from their `new` links (the `old` links say which pairs they held before)."""
    cooperation = dict(previous)
    copied: set[str] = set()
    for recognized, recognizing in sorted({(k.recognized, k.recognizing) for k in old + new}):
        if recognized not in copied:
            cooperation[recognized] = dict(cooperation.get(recognized, {}))
            copied.add(recognized)
        kept = [a for a in cooperation[recognized].get(recognizing, ()) if a.id not in changed]
        kept += [
            k.agreement for k in new if (k.recognized, k.recognizing) == (recognized, recognizing)
        ]
        if kept:
            cooperation[recognized][recognizing] = tuple(sorted(kept, key=lambda a: a.id))
        else:
            cooperation[recognized].pop(recognizing, None)
    for recognized in copied:
        if not cooperation[recognized]:
            del cooperation[recognized]
    return cooperation


def links_of(agreement: Agreement) -> list[Link]:
    """The links of `agreement`: one per ordered pair of its parties it recognizes along."""
    status = Timeline(agreement.status_events, AgreementStatus, AgreementStatus.IN_FORCE)
    no_events = Timeline((), PartyStatus, PartyStatus.ACTIVE)
    parties = {
        p.scheme_id: Timeline(p.status_events, PartyStatus, PartyStatus.ACTIVE)
        for p in agreement.parties
    }
    if agreement.direction == Direction.MUTUAL:
        ids = sorted(agreement.party_ids)
        pairs = [(r, s) for r in ids for s in ids if r != s]
    else:
        r_id, s_id = agreement.recognizing_scheme_id, agreement.recognized_scheme_id
        if r_id is None or s_id is None or r_id == s_id:
            return []
        pairs = [(r_id, s_id)]
    entries_by_recognized: dict[str, list[ScopeEntry]] = {}
    for entry in agreement.scope_entries:
        entries_by_recognized.setdefault(entry.recognized_scheme_id, []).append(entry)
    common: set[dt.date] = {agreement.effective_from, *status.changes}
    if agreement.effective_to is not None and (end := day_after(agreement.effective_to)):
        common.add(end)
    result = []
    for r_id, s_id in pairs:
        entries = tuple(
            e
            for e in entries_by_recognized.get(s_id, ())
            if e.recognizing_scheme_id is None or e.recognizing_scheme_id == r_id
        )
        recognizing_party = parties.get(r_id, no_events)
        recognized_party = parties.get(s_id, no_events)
        days = set(common)
        days.update(recognizing_party.changes, recognized_party.changes)
        for entry in entries:
            days.add(entry.valid_from)
            if entry.valid_to is not None and (after := day_after(entry.valid_to)):
                days.add(after)
        result.append(
            Link(
                agreement=agreement,
                recognizing=r_id,
                recognized=s_id,
                entries=entries,
                status=status,
                recognizing_party=recognizing_party,
                recognized_party=recognized_party,
                boundaries=tuple(sorted(days)),
            )
        )
    return result


class LinkIndex:
    """The agreements of one snapshot indexed by recognized scheme, then recognizing scheme.

    `links` holds the links of recognition agreements, `allowed` the chaining-allowed ones by
    recognized scheme, `cooperation` the cooperation agreements (never a route, only a reason
    when they are all there is); the chains from a scheme are worked out lazily and kept.
    """

    __slots__ = ("_chains_cache", "allowed", "cooperation", "links")

    def __init__(
        self,
        links: dict[str, dict[str, tuple[Link, ...]]],
        allowed: dict[str, tuple[Link, ...]],
        cooperation: dict[str, dict[str, tuple[Agreement, ...]]],
        chains_cache: dict[str, dict[str, Chains]],
    ) -> None:
        self.links = links
        self.allowed = allowed
        self.cooperation = cooperation
        self._chains_cache = chains_cache

    @classmethod
    def build(cls, agreements: Iterable[Agreement]) -> LinkIndex:
        """The indexes of `agreements`, worked out from scratch."""
        links: dict[str, dict[str, list[Link]]] = {}
        allowed: dict[str, list[Link]] = {}
        cooperation: dict[str, dict[str, list[Agreement]]] = {}
        for agreement in agreements:
            if agreement.purpose == Purpose.COOPERATION:
                # Never a route, never a link of a chain: only a reason when it is all there is.
                for link in links_of(agreement):
                    cooperation.setdefault(link.recognized, {}).setdefault(
                        link.recognizing, []
                    ).append(agreement)
                continue
            for link in links_of(agreement):
                links.setdefault(link.recognized, {}).setdefault(link.recognizing, []).append(link)
                if agreement.chaining == Chaining.ALLOWED:
                    allowed.setdefault(link.recognized, []).append(link)
        return cls(
            links={
                recognized: {
                    recognizing: tuple(sorted(items, key=lambda link: link.agreement.id))
                    for recognizing, items in by_recognizing.items()
                }
                for recognized, by_recognizing in links.items()
            },
            # Chaining-allowed links by recognized scheme; chains are worked out lazily.
            allowed={
                recognized: tuple(
                    sorted(items, key=lambda link: (link.agreement.id, link.recognizing))
                )
                for recognized, items in allowed.items()
            },
            cooperation={
                recognized: {
                    recognizing: tuple(sorted(items, key=lambda a: a.id))
                    for recognizing, items in by_recognizing.items()
                }
                for recognized, by_recognizing in cooperation.items()
            },
            chains_cache={},
        )

    def relinked(
        self,
        before: Mapping[str, Agreement],
        after: Mapping[str, Agreement],
        changed: frozenset[str],
    ) -> LinkIndex:
        """These indexes, with the links of the `changed` agreements (added, replaced or gone)
        taken out and worked out again: `before` and `after` are the agreements by id of the
        old and the new facts."""
        old_all = [
            link
            for agreement_id in changed
            if (agreement := before.get(agreement_id)) is not None
            for link in links_of(agreement)
        ]
        new_all = [
            link
            for agreement_id in changed
            if (agreement := after.get(agreement_id)) is not None
            for link in links_of(agreement)
        ]
        old = [k for k in old_all if k.agreement.purpose != Purpose.COOPERATION]
        new = [k for k in new_all if k.agreement.purpose != Purpose.COOPERATION]
        links = dict(self.links)
        copied: set[str] = set()
        for recognized, recognizing in sorted({(k.recognized, k.recognizing) for k in old + new}):
            if recognized not in copied:
                links[recognized] = dict(links.get(recognized, {}))
                copied.add(recognized)
            kept = [
                link
                for link in links[recognized].get(recognizing, ())
                if link.agreement.id not in changed
            ]
            kept += [k for k in new if (k.recognized, k.recognizing) == (recognized, recognizing)]
            if kept:
                links[recognized][recognizing] = tuple(
                    sorted(kept, key=lambda link: link.agreement.id)
                )
            else:
                links[recognized].pop(recognizing, None)
        for recognized in copied:
            if not links[recognized]:
                del links[recognized]

        allowed = dict(self.allowed)
        touched = {k.recognized for k in old + new if k.agreement.chaining == Chaining.ALLOWED}
        for recognized in touched:
            kept = [
                link for link in allowed.get(recognized, ()) if link.agreement.id not in changed
            ]
            kept += [
                k
                for k in new
                if k.recognized == recognized and k.agreement.chaining == Chaining.ALLOWED
            ]
            if kept:
                allowed[recognized] = tuple(
                    sorted(kept, key=lambda link: (link.agreement.id, link.recognizing))
                )
            else:
                allowed.pop(recognized, None)
        # The chains depend on the chaining-allowed links only.
        return LinkIndex(
            links=links,
            allowed=allowed,
            cooperation=relinked_cooperation(
                self.cooperation,
                changed,
                [k for k in old_all if k.agreement.purpose == Purpose.COOPERATION],
                [k for k in new_all if k.agreement.purpose == Purpose.COOPERATION],
            ),
            chains_cache={} if touched else dict(self._chains_cache),
        )

    def chains_of(self, recognized: str) -> dict[str, Chains]:
        """The chains of 2 to MAX_CHAIN_LENGTH chaining-allowed links from `recognized`, by
        the scheme at their far end.

        No scheme is visited twice and no agreement used twice; dates are not considered, so
        the result is computed once per scheme and kept.
        """
        cached = self._chains_cache.get(recognized)
        if cached is not None:
            return cached
        found: dict[str, list[tuple[Link, ...]]] = {}

        def walk(chain: tuple[Link, ...], visited: frozenset[str]) -> None:
            used = {link.agreement.id for link in chain}
            for link in self.allowed.get(chain[-1].recognizing, ()):
                if link.recognizing in visited or link.agreement.id in used:
                    continue
                longer = (*chain, link)
                found.setdefault(link.recognizing, []).append(longer)
                if len(longer) < MAX_CHAIN_LENGTH:
                    walk(longer, visited | {link.recognizing})

        for first in self.allowed.get(recognized, ()):
            walk((first,), frozenset({recognized, first.recognizing}))
        result = {}
        for end, chains in found.items():
            links = {id(link): link for chain in chains for link in chain}
            days = set().union(*(link.boundaries for link in links.values()))
            result[end] = Chains(chains=tuple(chains), boundaries=tuple(sorted(days)))
        self._chains_cache[recognized] = result
        return result

    def reach_of(self, agreement: Agreement) -> tuple[frozenset[str], frozenset[str]]:
        """The schemes whose certificates `agreement` may recognize (directly or down chains)
        and the schemes that may recognize through it (see `Resolver.reach_of`)."""
        links = links_of(agreement)
        sources = {link.recognized for link in links}
        ends = {link.recognizing for link in links}
        allowed = [link for items in self.allowed.values() for link in items]
        for _ in range(MAX_CHAIN_LENGTH - 1):
            sources |= {link.recognized for link in allowed if link.recognizing in sources}
            ends |= {link.recognizing for link in allowed if link.recognized in ends}
        return frozenset(sources), frozenset(ends)
