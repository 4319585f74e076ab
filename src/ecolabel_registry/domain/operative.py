"""Where a scheme is operative: groups, groups in groups, and a group's countries on a date.

The rules of domain.md ("Economy" and "Scheme"): a group's member may itself be a group, each
membership dated; a scheme is operative in economy E on date D when one of its home economies
is E or a group E belongs to on D (directly or through member groups), and, for a group E,
also when every country of E on D is one in which it is operative. The resolver
(`domain.resolver`) and every list filtered by economy read the rule from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ecolabel_registry.domain.model import Economy, EconomyKind, Membership, Scheme, window_contains

__all__ = ["GroupIndex", "OperativeRule", "Reach", "cyclic_members"]


def _earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The earlier of two optional last days (None: no end known)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _later(a: dt.date | None, b: dt.date | None) -> bool:
    """Whether last day `a` is later than `b` (an open end is the latest)."""
    if a is None:
        return b is not None
    return b is not None and a > b


class GroupIndex:
    """The groups' memberships indexed both ways, read on a date.

    Any code that is not a registered group is a country. Cycles are refused when memberships
    are written (`cyclic_members`); the walks here still never visit a group twice on a path.
    """

    def __init__(self, economies: Mapping[str, Economy]) -> None:
        parents: dict[str, list[tuple[str, Membership]]] = {}
        self._members: dict[str, tuple[Membership, ...]] = {}
        for economy in economies.values():
            if economy.kind != EconomyKind.GROUP:
                continue
            self._members[economy.code] = economy.members
            for membership in economy.members:
                parents.setdefault(membership.member, []).append((economy.code, membership))
        self._parents: dict[str, tuple[tuple[str, Membership], ...]] = {
            member: tuple(sorted(items, key=lambda i: (i[0], i[1].valid_from)))
            for member, items in parents.items()
        }

    def is_group(self, code: str) -> bool:
        """Whether `code` is a registered group."""
        return code in self._members

    def groups_of(self, code: str, on: dt.date) -> dict[str, dt.date | None]:
        """The groups `code` belongs to on `on`, directly or through member groups, each with
        the last day of the memberships that make it so (the path that lasts longest)."""
        direct = self._parents.get(code)
        if not direct:
            return {}
        found: dict[str, dt.date | None] = {}
        stack: list[tuple[str, dt.date | None, frozenset[str]]] = []
        for group, membership in direct:  # the common case: one level, no walk
            if not window_contains(membership.valid_from, membership.valid_to, on):
                continue
            last = membership.valid_to
            if group not in found or _later(last, found[group]):
                found[group] = last
                if group in self._parents:
                    stack.append((group, last, frozenset((code, group))))
        while stack:
            node, until, seen = stack.pop()
            for group, membership in self._parents[node]:
                if group in seen or not window_contains(
                    membership.valid_from, membership.valid_to, on
                ):
                    continue
                last = _earliest(until, membership.valid_to)
                if group not in found or _later(last, found[group]):
                    found[group] = last
                    if group in self._parents:
                        stack.append((group, last, seen | {group}))
        return found

    def countries_of(self, group: str, on: dt.date) -> dict[str, dt.date | None]:
        """The countries of `group` on `on` (through member groups on the dates both
        memberships hold), each with the last day of the memberships that make it so."""
        found: dict[str, dt.date | None] = {}
        stack: list[tuple[str, dt.date | None, frozenset[str]]] = [
            (group, None, frozenset({group}))
        ]
        best_group: dict[str, dt.date | None] = {}
        while stack:
            node, until, seen = stack.pop()
            for membership in self._members.get(node, ()):
                member = membership.member
                if member in seen or not window_contains(
                    membership.valid_from, membership.valid_to, on
                ):
                    continue
                last = _earliest(until, membership.valid_to)
                if member in self._members:
                    if member not in best_group or _later(last, best_group[member]):
                        best_group[member] = last
                        stack.append((member, last, seen | {member}))
                elif member not in found or _later(last, found[member]):
                    found[member] = last
        return found

    def contains(self, group: str, code: str) -> bool:
        """Whether `code` is a member of `group` on some date, directly or through member
        groups (dates ignored: used to refuse cycles)."""
        stack, seen = [group], {group}
        while stack:
            for membership in self._members.get(stack.pop(), ()):
                if membership.member == code:
                    return True
                if membership.member not in seen and membership.member in self._members:
                    seen.add(membership.member)
                    stack.append(membership.member)
        return False

    def memberships_around(
        self, code: str, groups: frozenset[str] | None = None
    ) -> list[Membership]:
        """The memberships an answer about `code` may depend on: those of `code` and of the
        groups above it (only through `groups` when given), and for a group also every
        membership below it and those of its members in other groups. Dates ignored."""
        found: list[Membership] = []
        seen: set[str] = set()
        starts = [code]
        if code in self._members:
            below, stack = {code}, [code]
            while stack:
                for membership in self._members.get(stack.pop(), ()):
                    found.append(membership)
                    if membership.member not in below:
                        below.add(membership.member)
                        stack.append(membership.member)
            starts = sorted(below)
        stack = list(starts)
        seen.update(starts)
        while stack:
            for group, membership in self._parents.get(stack.pop(), ()):
                if groups is not None and group not in groups:
                    continue
                found.append(membership)
                if group not in seen:
                    seen.add(group)
                    stack.append(group)
        return found

    def below(self, codes: Iterable[str]) -> frozenset[str]:
        """`codes` and every economy one of them contains, at any date."""
        found = set(codes)
        stack = list(found)
        while stack:
            for membership in self._members.get(stack.pop(), ()):
                if membership.member not in found:
                    found.add(membership.member)
                    stack.append(membership.member)
        return frozenset(found)


def cyclic_members(
    economies: Mapping[str, Economy], group: str, members: Iterable[str]
) -> set[str]:
    """The members that would make `group` contain itself (the group itself, or a group that
    contains it at any date): a membership is refused whatever its dates."""
    index = GroupIndex(economies)
    return {m for m in members if m == group or index.contains(m, group)}


@dataclass(frozen=True, slots=True)
class Reach:
    """How a scheme is operative in an economy on a date.

    `group` is None when the economy is one of the scheme's homes, else the home group the
    economy belongs to; `every_country` is true when the economy is a group all of whose
    countries are ones in which the scheme is operative. `until` is the last day of the
    memberships used (None: no end known).
    """

    group: str | None
    until: dt.date | None
    every_country: bool = False

    def sort_key(self) -> tuple[int, int, int, str]:
        return (
            2 if self.every_country else 0 if self.group is None else 1,
            0 if self.until is None else 1,
            0 if self.until is None else -self.until.toordinal(),
            self.group or "",
        )


_DIRECT = Reach(group=None, until=None)
_MEMO_SIZE = 4096
"""Economy-and-date answers kept by one OperativeRule before it starts afresh."""


class OperativeRule:
    """Which schemes are operative in an economy on a date, and through what."""

    def __init__(self, groups: GroupIndex, schemes: Iterable[Scheme]) -> None:
        self.groups = groups
        homes: dict[str, list[str]] = {}
        for scheme in schemes:
            for home in scheme.home_economies:
                homes.setdefault(home, []).append(scheme.id)
        self._by_home: dict[str, tuple[str, ...]] = {
            code: tuple(sorted(ids)) for code, ids in homes.items()
        }
        # Memberships matter only through groups at or below some scheme's home.
        self._homed_groups = frozenset(c for c in self._by_home if groups.is_group(c))
        self._relevant = groups.below(self._homed_groups)
        self._days: dict[str, tuple[dt.date, ...]] = {}
        self._memo: dict[tuple[str, dt.date], Mapping[str, Reach]] = {}

    @classmethod
    def of(cls, economies: Mapping[str, Economy], schemes: Iterable[Scheme]) -> OperativeRule:
        return cls(GroupIndex(economies), schemes)

    def schemes_in(self, economy: str, on: dt.date) -> frozenset[str]:
        """The ids of the schemes operative in `economy` on `on`."""
        return frozenset(self.reach(economy, on))

    def reach(self, economy: str, on: dt.date) -> Mapping[str, Reach]:
        """Every scheme operative in `economy` on `on`, with the best way it is (a home first,
        then a group, then every country; the longest lasting among equals).

        Answers are kept (a batch asks about the same economy and date again and again), so
        the mapping returned is shared: read it, never change it.
        """
        key = (economy, on)
        found = self._memo.get(key)
        if found is None:
            found = self._reach(economy, on)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def _reach(self, economy: str, on: dt.date) -> dict[str, Reach]:
        reach = self._homes_and_groups(economy, on)
        if not self.groups.is_group(economy):
            return reach
        countries = self.groups.countries_of(economy, on)
        if not countries:
            return reach
        common: dict[str, dt.date | None] | None = None
        for country, membership_until in sorted(countries.items()):
            of_country = self._homes_and_groups(country, on)
            if common is None:
                common = {s: _earliest(membership_until, r.until) for s, r in of_country.items()}
            else:
                common = {
                    s: _earliest(until, _earliest(membership_until, of_country[s].until))
                    for s, until in common.items()
                    if s in of_country
                }
            if not common:
                return reach
        for scheme_id, until in (common or {}).items():
            if scheme_id not in reach:
                reach[scheme_id] = Reach(group=None, until=until, every_country=True)
        return reach

    def _homes_and_groups(self, economy: str, on: dt.date) -> dict[str, Reach]:
        homes = self._by_home.get(economy)
        reach = dict.fromkeys(homes, _DIRECT) if homes else {}
        groups = self.groups.groups_of(economy, on)
        for group in sorted(groups) if len(groups) > 1 else groups:
            homed = self._by_home.get(group)
            if not homed:
                continue
            candidate = Reach(group=group, until=groups[group])
            for scheme_id in homed:
                current = reach.get(scheme_id)
                if current is None or candidate.sort_key() < current.sort_key():
                    reach[scheme_id] = candidate
        return reach

    def change_days(self, economy: str) -> tuple[dt.date, ...]:
        """Every day on which the schemes operative in `economy`, or how, may change: the
        starts and the days after the ends of the memberships around it (dates ignored)."""
        days = self._days.get(economy)
        if days is None:
            found: set[dt.date] = set()
            for membership in self.groups.memberships_around(economy, self._relevant):
                found.add(membership.valid_from)
                if membership.valid_to is not None and membership.valid_to < dt.date.max:
                    found.add(membership.valid_to + dt.timedelta(days=1))
            days = self._days[economy] = tuple(sorted(found))
        return days
