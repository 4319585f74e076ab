"""What a suspension or an end would do: the answers that change, counted by economy.

The resolver answers twice over the same snapshot of facts: as they are, and with the
hypothetical change applied to a copy of the one agreement it touches (an agreement
suspended from `on`, a party suspended from `on`, a scope entry ended the day before `on`).
On `on` an agreement that ends the day before answers as one suspended from `on`, so one
figure serves both.

Set-based: only certificates of the schemes the agreement can reach (Resolver.reach_of) are
read, grouped in the database by what recognition depends on (scheme, category, HS codes),
counting those valid and active on `on`; each group is asked once per engine state for every
economy in which a scheme the agreement can reach is operative (Resolver.markets), not once
per certificate and economy. Bounded: at most MAX_GROUPS groups, the largest first; past that
the answer says it is incomplete.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from ecolabel_registry.domain.errors import NotFound
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementStatus,
    CertificateTerms,
    Level,
    PartyStatus,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import Resolver
from ecolabel_registry.services.ports.equivalence import CertificateGroup, CertificateGroups
from ecolabel_registry.services.snapshots import Snapshot

MAX_GROUPS = 2_000
"""The most certificate groups (scheme, category, HS codes) one impact question evaluates."""

REASON = "impact estimate"


@dataclass(frozen=True, slots=True)
class EconomyImpact:
    economy: str
    certificates: int
    """Certificates whose answer in this economy changes (recognized or not, or the level)."""
    no_longer_recognized: int
    """Of those, the ones recognized now and not after the change."""


@dataclass(frozen=True, slots=True)
class Impact:
    on: dt.date
    certificates: int
    """Certificates whose answer changes in at least one economy."""
    economies: list[EconomyImpact]
    groups: int
    complete: bool


class Hypothesis(Protocol):
    @property
    def agreement_id(self) -> str: ...

    def apply(self, agreement: Agreement, on: dt.date) -> Agreement: ...


@dataclass(frozen=True, slots=True)
class AgreementSuspended:
    agreement_id: str

    def apply(self, agreement: Agreement, on: dt.date) -> Agreement:
        event = StatusEvent(AgreementStatus.SUSPENDED.value, on, REASON)
        return dataclasses.replace(agreement, status_events=(*agreement.status_events, event))


@dataclass(frozen=True, slots=True)
class PartySuspended:
    agreement_id: str
    scheme_id: str

    def apply(self, agreement: Agreement, on: dt.date) -> Agreement:
        if not any(p.scheme_id == self.scheme_id for p in agreement.parties):
            raise NotFound(f"{self.scheme_id} is not a party to agreement {agreement.id}")
        event = StatusEvent(PartyStatus.SUSPENDED.value, on, REASON)
        parties = tuple(
            dataclasses.replace(p, status_events=(*p.status_events, event))
            if p.scheme_id == self.scheme_id
            else p
            for p in agreement.parties
        )
        return dataclasses.replace(agreement, parties=parties)


@dataclass(frozen=True, slots=True)
class ScopeEntryEnded:
    agreement_id: str
    entry_id: str

    def apply(self, agreement: Agreement, on: dt.date) -> Agreement:
        entries = []
        found = False
        for entry in agreement.scope_entries:
            if entry.id != self.entry_id:
                entries.append(entry)
                continue
            found = True
            last = on - dt.timedelta(days=1)
            if entry.valid_from <= last and (entry.valid_to is None or entry.valid_to > last):
                entries.append(dataclasses.replace(entry, valid_to=last))
            elif entry.valid_to is not None and entry.valid_to <= last:
                entries.append(entry)  # already over by then: nothing changes
        if not found:
            raise NotFound(f"agreement {agreement.id} has no scope entry {self.entry_id!r}")
        return dataclasses.replace(agreement, scope_entries=tuple(entries))


def _levels(
    resolver: Resolver, snapshot: Snapshot, group: CertificateGroup, on: dt.date, targets: list[str]
) -> dict[str, tuple[bool, Level | None]]:
    category = snapshot.categories.get((group.scheme_id, group.category_code))
    if category is None:
        return {}
    terms = CertificateTerms(group.scheme_id, "", group.category_code, on, on, group.hs_codes, ())
    return {
        target: (answer.recognized, answer.level)
        for target, answer in resolver.markets(terms, category, on, targets)
    }


def impact(
    snapshot: Snapshot, groups: CertificateGroups, hypothesis: Hypothesis, on: dt.date
) -> Impact:
    """How many registered certificates' answers change, in which economies, if
    `hypothesis` held from `on`."""
    current = next((a for a in snapshot.facts.agreements if a.id == hypothesis.agreement_id), None)
    if current is None:
        raise NotFound(f"no agreement {hypothesis.agreement_id!r}")
    changed = hypothesis.apply(current, on)
    facts = dataclasses.replace(
        snapshot.facts,
        agreements=[changed if a.id == current.id else a for a in snapshot.facts.agreements],
    )
    after = Resolver(facts, snapshot.resolver, {current.id})
    before = snapshot.resolver
    sources, ends = before.reach_of(current)
    targets = sorted(
        code for code in snapshot.economy_codes if before.operative_schemes(code, on) & ends
    )
    found, total = groups.active_groups(sources, on, MAX_GROUPS) if targets else ([], 0)
    changed_in: dict[str, list[int]] = {}
    certificates = 0
    for group in found:
        was = _levels(before, snapshot, group, on, targets)
        becomes = _levels(after, snapshot, group, on, targets)
        differ = [t for t in targets if was.get(t) != becomes.get(t)]
        if differ:
            certificates += group.count
        for target in differ:
            counts = changed_in.setdefault(target, [0, 0])
            counts[0] += group.count
            if was.get(target, (False, None))[0] and not becomes.get(target, (False, None))[0]:
                counts[1] += group.count
    economies = sorted(
        (EconomyImpact(code, n, lost) for code, (n, lost) in changed_in.items()),
        key=lambda e: (-e.certificates, e.economy),
    )
    return Impact(on, certificates, economies, len(found), len(found) == total)
