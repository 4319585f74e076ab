"""The equivalence resolver: the rules of docs/resolution.md over in-memory facts."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementStatus,
    Certificate,
    CertificateStatus,
    CertificateTerms,
    Chaining,
    Condition,
    Direction,
    Economy,
    Level,
    PartyStatus,
    ProductCategory,
    Purpose,
    Scheme,
    ScopeEntry,
    StatusRecord,
    status_on,
    window_contains,
)
from ecolabel_registry.domain.operative import OperativeRule, Reach
from ecolabel_registry.domain.validation import hs_match

__all__ = [
    "MAX_CHAIN_LENGTH",
    "Answer",
    "PlanOption",
    "Reason",
    "ReasonCode",
    "RegistryFacts",
    "Resolver",
    "Route",
    "RouteStep",
]

MAX_CHAIN_LENGTH = 3
"""The most agreements a chained route may pass through (docs/domain.md, rule 5)."""


class ReasonCode(StrEnum):
    """Why a certificate is not recognized, or why one agreement gives no route."""

    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_SUSPENDED = "CERTIFICATE_SUSPENDED"
    CERTIFICATE_WITHDRAWN = "CERTIFICATE_WITHDRAWN"
    CRITERIA_EXPIRED = "CRITERIA_EXPIRED"
    HS_CODE_NOT_COVERED_BY_CERTIFICATE = "HS_CODE_NOT_COVERED_BY_CERTIFICATE"
    NO_AGREEMENT = "NO_AGREEMENT"
    COOPERATION_ONLY = "COOPERATION_ONLY"
    AGREEMENT_NOT_IN_FORCE = "AGREEMENT_NOT_IN_FORCE"
    AGREEMENT_SUSPENDED = "AGREEMENT_SUSPENDED"
    PARTY_SUSPENDED = "PARTY_SUSPENDED"
    CATEGORY_NOT_IN_SCOPE = "CATEGORY_NOT_IN_SCOPE"
    HS_CODE_NOT_IN_SCOPE = "HS_CODE_NOT_IN_SCOPE"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a miss; `scheme_id` is the scheme it is about (see docs/resolution.md)."""

    code: ReasonCode
    message: str
    agreement_id: str | None = None
    scheme_id: str | None = None


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One agreement on a route: `recognizing_scheme_id` recognizes `recognized_scheme_id`."""

    agreement_id: str
    scope_entry_id: str
    recognizing_scheme_id: str
    recognized_scheme_id: str
    level: Level


@dataclass(frozen=True, slots=True)
class Route:
    """One way a certificate is accepted in the target.

    A native route has the certificate's own scheme as `recognizing_scheme_id`, no agreement
    and an empty path. An agreement route lists every agreement in `path`, starting with the
    one that recognizes the certificate's scheme; `agreement_id` and `scope_entry_id` are
    those of the last step, whose recognizing scheme is operative in the target.
    """

    basis: Literal["native", "agreement"]
    level: Level
    recognizing_scheme_id: str
    agreement_id: str | None
    scope_entry_id: str | None
    conditions: tuple[Condition, ...]
    valid_until: dt.date | None
    path: tuple[RouteStep, ...]
    equivalent_category_code: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to "is this certificate recognized in this economy on this date?"."""

    recognized: bool
    level: Level | None
    routes: tuple[Route, ...]
    reasons: tuple[Reason, ...]
    conditions: tuple[Condition, ...]
    valid_until: dt.date | None
    explanation: str


@dataclass(frozen=True, slots=True)
class PlanOption:
    """What a certificate of one scheme's category would give in each target market.

    `score` is the level strength summed over the targets (native 4, full 3, conditional 2,
    assessment results 1, none 0); options are ranked by the number of targets recognized,
    then by score, then by scheme id.
    """

    scheme_id: str
    category_code: str
    recognized_in: tuple[str, ...]
    levels: Mapping[str, Level | None]
    score: int


@dataclass(frozen=True)
class RegistryFacts:
    """The slowly changing facts the resolver reads: economies, schemes and agreements.

    `economies` holds at least every group with its memberships; countries may be absent.
    """

    economies: Mapping[str, Economy]
    schemes: Mapping[str, Scheme]
    agreements: Sequence[Agreement]


# --- dates ---------------------------------------------------------------------------------


def _day_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=1)


def _day_after(day: dt.date) -> dt.date | None:
    return None if day == dt.date.max else day + dt.timedelta(days=1)


def _earliest(*days: dt.date | None) -> dt.date | None:
    """The earliest of some optional dates; None (nothing known) when all are None."""
    earliest = None
    for day in days:
        if day is not None and (earliest is None or day < earliest):
            earliest = day
    return earliest


def _window_change(valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> dt.date | None:
    """The first day after `on` on which being inside the window changes."""
    if on < valid_from:
        return valid_from
    if valid_to is not None and on <= valid_to:
        return _day_after(valid_to)
    return None


_E = TypeVar("_E", bound=StrEnum)


class _Timeline(Generic[_E]):
    """A status history compressed to the days on which the status actually changes."""

    __slots__ = ("_dates", "_initial", "_states")

    def __init__(self, events: Sequence[StatusRecord], kind: type[_E], initial: _E) -> None:
        dates: list[dt.date] = []
        states: list[_E] = []
        current = initial
        for day in sorted({event.effective_date for event in events}) if events else ():
            state = status_on(events, day, kind)
            if state is not None and state != current:
                dates.append(day)
                states.append(state)
                current = state
        self._dates = tuple(dates)
        self._states = tuple(states)
        self._initial = initial

    @property
    def changes(self) -> tuple[dt.date, ...]:
        return self._dates

    def at(self, on: dt.date) -> _E:
        i = bisect_right(self._dates, on)
        return self._initial if i == 0 else self._states[i - 1]

    def since(self, on: dt.date) -> dt.date | None:
        i = bisect_right(self._dates, on)
        return None if i == 0 else self._dates[i - 1]

    def next_change(self, on: dt.date) -> dt.date | None:
        i = bisect_right(self._dates, on)
        return self._dates[i] if i < len(self._dates) else None


# --- internal structures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Link:
    """One agreement seen from one ordered pair: `recognizing` recognizes `recognized`."""

    agreement: Agreement
    recognizing: str
    recognized: str
    entries: tuple[ScopeEntry, ...]
    status: _Timeline[AgreementStatus]
    recognizing_party: _Timeline[PartyStatus]
    recognized_party: _Timeline[PartyStatus]
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
        return _earliest(
            self.agreement.effective_to,
            entry.valid_to,
            *(_day_before(c) for c in changes if c is not None),
        )


@dataclass(frozen=True, slots=True)
class _Query:
    """A certificate that holds on the query date, with what the resolver needs of it."""

    certificate: Certificate | CertificateTerms
    category: ProductCategory
    on: dt.date
    hs_code: str | None
    hs_codes: tuple[str, ...]
    until: dt.date | None  # last day the certificate itself still holds
    bound: dt.date | None  # first day after `on` on which a certificate fact changes

    @property
    def scheme_id(self) -> str:
        return self.certificate.scheme_id


@dataclass(frozen=True, slots=True)
class _Chains:
    """The static chains from one scheme to one far end, and every day any of them changes."""

    chains: tuple[tuple[_Link, ...], ...]
    boundaries: tuple[dt.date, ...]


@dataclass(frozen=True, slots=True)
class _Partial:
    """A chain prefix valid on the query date, from the certificate's scheme outward."""

    steps: tuple[RouteStep, ...]
    level: Level
    conditions: tuple[Condition, ...]
    until: dt.date | None
    equivalent: str | None


@dataclass(slots=True)
class _Exploration:
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


def _weakest(a: Level, b: Level) -> Level:
    return a if a.strength <= b.strength else b


def _merge_conditions(
    first: tuple[Condition, ...], second: tuple[Condition, ...]
) -> tuple[Condition, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def _route_key(route: Route) -> tuple[int, int, int, int, str, str, str, tuple[str, ...]]:
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


def _sentence(clause: str) -> str:
    return clause[:1].upper() + clause[1:] + "."


def _codes(codes: Iterable[str]) -> str:
    return ", ".join(codes) or "none"


def _relinked_cooperation(
    previous: dict[str, dict[str, tuple[Agreement, ...]]],
    changed: frozenset[str],
    old: list[_Link],
    new: list[_Link],
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


class Resolver:
    """Answers equivalence questions over one snapshot of the registry's facts.

    Built once from RegistryFacts (agreements indexed by recognized scheme, schemes by home
    economy, group memberships by member) and then reused for many queries; the caller
    caches it and builds a new one when the facts change. A query never scans all
    agreements: it follows the index from the certificate's scheme.

    A resolver built with `previous` (a resolver over the same facts but for the schemes,
    economies and the agreements named in `changed_agreements`) reuses the agreement indexes
    of `previous` and works out only the changed agreements' again: the result is the same
    as a build from scratch, in time proportional to what changed.
    """

    def __init__(
        self,
        facts: RegistryFacts,
        previous: Resolver | None = None,
        changed_agreements: Collection[str] = (),
    ) -> None:
        self._facts = facts
        self._schemes = dict(facts.schemes)
        self._agreements: dict[str, Agreement] = {a.id: a for a in facts.agreements}

        self._rule = OperativeRule.of(facts.economies, facts.schemes.values())

        if previous is not None:
            self._relink(previous, frozenset(changed_agreements))
            return
        links: dict[str, dict[str, list[_Link]]] = {}
        allowed: dict[str, list[_Link]] = {}
        cooperation: dict[str, dict[str, list[Agreement]]] = {}
        for agreement in facts.agreements:
            if agreement.purpose == Purpose.COOPERATION:
                # Never a route, never a link of a chain: only a reason when it is all there is.
                for link in self._links_of(agreement):
                    cooperation.setdefault(link.recognized, {}).setdefault(
                        link.recognizing, []
                    ).append(agreement)
                continue
            for link in self._links_of(agreement):
                links.setdefault(link.recognized, {}).setdefault(link.recognizing, []).append(link)
                if agreement.chaining == Chaining.ALLOWED:
                    allowed.setdefault(link.recognized, []).append(link)
        self._links: dict[str, dict[str, tuple[_Link, ...]]] = {
            recognized: {
                recognizing: tuple(sorted(items, key=lambda link: link.agreement.id))
                for recognizing, items in by_recognizing.items()
            }
            for recognized, by_recognizing in links.items()
        }
        # Chaining-allowed links by recognized scheme; chains are worked out lazily, per scheme.
        self._allowed: dict[str, tuple[_Link, ...]] = {
            recognized: tuple(sorted(items, key=lambda link: (link.agreement.id, link.recognizing)))
            for recognized, items in allowed.items()
        }
        self._chains_cache: dict[str, dict[str, _Chains]] = {}
        self._cooperation: dict[str, dict[str, tuple[Agreement, ...]]] = {
            recognized: {
                recognizing: tuple(sorted(items, key=lambda a: a.id))
                for recognizing, items in by_recognizing.items()
            }
            for recognized, by_recognizing in cooperation.items()
        }

    def _relink(self, previous: Resolver, changed: frozenset[str]) -> None:
        """The agreement indexes of `previous`, with the links of the `changed` agreements
        (added, replaced or gone) taken out and worked out again from this one's facts."""
        old_all = [
            link
            for agreement_id in changed
            if (agreement := previous._agreements.get(agreement_id)) is not None
            for link in self._links_of(agreement)
        ]
        new_all = [
            link
            for agreement_id in changed
            if (agreement := self._agreements.get(agreement_id)) is not None
            for link in self._links_of(agreement)
        ]
        old = [k for k in old_all if k.agreement.purpose != Purpose.COOPERATION]
        new = [k for k in new_all if k.agreement.purpose != Purpose.COOPERATION]
        links = dict(previous._links)
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
        self._links = links

        allowed = dict(previous._allowed)
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
        self._allowed = allowed
        # The chains depend on the chaining-allowed links only.
        self._chains_cache = {} if touched else dict(previous._chains_cache)
        self._cooperation = _relinked_cooperation(
            previous._cooperation,
            changed,
            [k for k in old_all if k.agreement.purpose == Purpose.COOPERATION],
            [k for k in new_all if k.agreement.purpose == Purpose.COOPERATION],
        )

    @staticmethod
    def _links_of(agreement: Agreement) -> list[_Link]:
        status = _Timeline(agreement.status_events, AgreementStatus, AgreementStatus.IN_FORCE)
        no_events = _Timeline((), PartyStatus, PartyStatus.ACTIVE)
        parties = {
            p.scheme_id: _Timeline(p.status_events, PartyStatus, PartyStatus.ACTIVE)
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
        if agreement.effective_to is not None and (end := _day_after(agreement.effective_to)):
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
                if entry.valid_to is not None and (after := _day_after(entry.valid_to)):
                    days.add(after)
            result.append(
                _Link(
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

    # --- public API ------------------------------------------------------------------------

    @property
    def facts(self) -> RegistryFacts:
        """The facts this resolver was built from."""
        return self._facts

    def reach_of(self, agreement: Agreement) -> tuple[frozenset[str], frozenset[str]]:
        """Which answers `agreement` can take part in: the schemes whose certificates may be
        recognized through it (the ones it recognizes, and those that reach them through
        chaining-allowed links), and the schemes that may recognize through it (its
        recognizing ones, and those that reach on from them). A superset: chain rules and
        dates are not checked here; answers are compared by `resolve` and `markets`."""
        links = self._links_of(agreement)
        sources = {link.recognized for link in links}
        ends = {link.recognizing for link in links}
        allowed = [link for items in self._allowed.values() for link in items]
        for _ in range(MAX_CHAIN_LENGTH - 1):
            sources |= {link.recognized for link in allowed if link.recognizing in sources}
            ends |= {link.recognizing for link in allowed if link.recognized in ends}
        return frozenset(sources), frozenset(ends)

    def operative_schemes(self, economy: str, on: dt.date) -> frozenset[str]:
        """The schemes operative in `economy` on `on`: homed there, or in a group it is in
        (directly or through member groups), or, for a group, in every country of it."""
        return self._rule.schemes_in(economy, on)

    def resolve(
        self,
        certificate: Certificate | CertificateTerms,
        category: ProductCategory,
        target: str,
        on: dt.date,
        hs_code: str | None = None,
    ) -> Answer:
        """Whether `certificate` (of `category`) is recognized in `target` on `on`.

        Applies the rules of docs/domain.md in order; see docs/resolution.md. Raises ValueError
        when `category` is not the certificate's category.
        """
        checked = self._check_certificate(certificate, category, target, on, hs_code)
        if isinstance(checked, Answer):
            return checked
        operative = self._operative(target, on)
        native = operative.get(checked.scheme_id)
        if native is not None:
            return self._native_answer(checked, target, native)
        recognizers = frozenset(operative)
        exploration = self._explore(checked, recognizers)
        return self._agreement_answer(checked, target, operative, exploration)

    def markets(
        self,
        certificate: Certificate | CertificateTerms,
        category: ProductCategory,
        on: dt.date,
        targets: Iterable[str],
    ) -> list[tuple[str, Answer]]:
        """The answer for every target in which the certificate has a level on `on`.

        Each answer is the one `resolve` gives (without HS code); targets whose level is None
        are left out, and the list is sorted by economy code. The routes from the
        certificate's scheme are worked out once and then mapped to the targets.
        """
        ordered = sorted(set(targets))
        if not ordered:
            return []
        checked = self._check_certificate(certificate, category, ordered[0], on, None)
        if isinstance(checked, Answer):
            return []
        exploration = self._explore(checked, None)
        result: list[tuple[str, Answer]] = []
        for target in ordered:
            operative = self._operative(target, on)
            native = operative.get(checked.scheme_id)
            if native is not None:
                answer = self._native_answer(checked, target, native)
            else:
                answer = self._agreement_answer(checked, target, operative, exploration)
            if answer.level is not None:
                result.append((target, answer))
        return result

    def plan(
        self,
        hs_code: str,
        targets: Sequence[str],
        on: dt.date,
        categories: Iterable[ProductCategory],
    ) -> list[PlanOption]:
        """Which scheme to get certified under, for an exporter of `hs_code` not yet certified.

        Every category valid on `on` whose HS codes match `hs_code` (prefix either way) is
        evaluated as if a certificate of it held on `on`; the best category of each scheme is
        kept, and the options are ranked by the number of targets recognized, then by score
        (summed level strength), then by scheme id.
        """
        wanted = list(dict.fromkeys(targets))
        operative_by_target = {t: self._operative(t, on) for t in wanted}
        recognizers = frozenset(s for ops in operative_by_target.values() for s in ops)
        best: dict[str, tuple[tuple[int, int, str, str], PlanOption]] = {}
        for category in categories:
            if not window_contains(category.valid_from, category.valid_to, on):
                continue
            if not any(hs_match(hs_code, code) for code in category.hs_codes):
                continue
            query = _Query(
                certificate=_planned_certificate(category, on),
                category=category,
                on=on,
                hs_code=hs_code,
                hs_codes=category.hs_codes,
                until=None,
                bound=None,
            )
            exploration = self._explore(query, recognizers)
            levels: dict[str, Level | None] = {}
            for target, operative in operative_by_target.items():
                if category.scheme_id in operative:
                    levels[target] = Level.NATIVE
                else:
                    answer = self._agreement_answer(query, target, operative, exploration)
                    levels[target] = answer.level
            recognized_in = tuple(t for t in wanted if (lv := levels[t]) and lv.recognized)
            score = sum(lv.strength for lv in levels.values() if lv is not None)
            option = PlanOption(
                scheme_id=category.scheme_id,
                category_code=category.code,
                recognized_in=recognized_in,
                levels=levels,
                score=score,
            )
            key = (-len(recognized_in), -score, category.scheme_id, category.code)
            current = best.get(category.scheme_id)
            if current is None or key < current[0]:
                best[category.scheme_id] = (key, option)
        return [option for _key, option in sorted(best.values(), key=lambda item: item[0])]

    def best_levels(
        self,
        categories: Iterable[ProductCategory],
        targets: Sequence[str],
        on: dt.date,
        hs_code: str | None,
    ) -> dict[tuple[str, str], Level]:
        """The best level a certificate of each scheme would have in each target on `on`, over
        the scheme's categories valid then (with `hs_code`, only those matching it, as
        declared): the recognition matrix, keyed by (scheme id, target).

        The levels of `plan` (each category evaluated as if a certificate of it held on
        `on`), without the answers' reasons and explanations: each category's routes are
        explored once and every target only picks the strongest route of its operative
        schemes.
        """
        operative_by_target = {t: self._operative(t, on) for t in dict.fromkeys(targets)}
        recognizers = frozenset(s for ops in operative_by_target.values() for s in ops)
        best: dict[tuple[str, str], Level] = {}
        for category in categories:
            if not window_contains(category.valid_from, category.valid_to, on):
                continue
            if hs_code is not None and not any(hs_match(hs_code, c) for c in category.hs_codes):
                continue
            query = _Query(
                certificate=_planned_certificate(category, on),
                category=category,
                on=on,
                hs_code=hs_code,
                hs_codes=category.hs_codes,
                until=None,
                bound=None,
            )
            found = self._explore(query, recognizers)
            scheme_id = category.scheme_id
            strongest = {
                s: max(r.level.strength for r in routes)
                for s, routes in found.routes.items()
                if routes
            }
            levels = {r.level.strength: r.level for rs in found.routes.values() for r in rs}
            for target, operative in operative_by_target.items():
                if scheme_id in operative:
                    level: Level | None = Level.NATIVE
                else:
                    top = max(
                        (strongest[s] for s in operative if s != scheme_id and s in strongest),
                        default=None,
                    )
                    level = None if top is None else levels[top]
                if level is None:
                    continue
                key = (scheme_id, target)
                held = best.get(key)
                if held is None or level.strength > held.strength:
                    best[key] = level
        return best

    # --- rules 1 and 2: the certificate ----------------------------------------------------

    def _check_certificate(
        self,
        certificate: Certificate | CertificateTerms,
        category: ProductCategory,
        target: str,
        on: dt.date,
        hs_code: str | None,
    ) -> _Query | Answer:
        if (
            category.scheme_id != certificate.scheme_id
            or category.code != certificate.category_code
        ):
            msg = (
                f"category {category.scheme_id}/{category.code} is not the category of "
                f"certificate {certificate.scheme_id}/{certificate.number}"
            )
            raise ValueError(msg)
        status = _Timeline(certificate.status_events, CertificateStatus, CertificateStatus.ACTIVE)
        window_change = _window_change(certificate.valid_from, certificate.valid_to, on)
        status_change = status.next_change(on)
        category_change = _window_change(category.valid_from, category.valid_to, on)

        def miss(code: ReasonCode, clause: str, bound: dt.date | None) -> Answer:
            reason = Reason(code, _sentence(clause), scheme_id=certificate.scheme_id)
            return self._negative(target, on, [(reason, clause)], bound)

        if on < certificate.valid_from:
            return miss(
                ReasonCode.CERTIFICATE_NOT_YET_VALID,
                f"the certificate is valid only from {certificate.valid_from}",
                window_change,
            )
        if on > certificate.valid_to:
            return miss(
                ReasonCode.CERTIFICATE_EXPIRED,
                f"the certificate expired on {certificate.valid_to}",
                None,
            )
        current = status.at(on)
        if current != CertificateStatus.ACTIVE:
            code = (
                ReasonCode.CERTIFICATE_WITHDRAWN
                if current == CertificateStatus.WITHDRAWN
                else ReasonCode.CERTIFICATE_SUSPENDED
            )
            return miss(
                code,
                f"the certificate was {current.value} on {status.since(on)}",
                _earliest(window_change, status_change),
            )
        if not window_contains(category.valid_from, category.valid_to, on):
            criteria = (
                f"the criteria of category '{category.name}' (version {category.criteria_version})"
            )
            clause = (
                f"{criteria} apply only from {category.valid_from}"
                if on < category.valid_from
                else f"{criteria} expired on {category.valid_to}"
            )
            return miss(
                ReasonCode.CRITERIA_EXPIRED,
                clause,
                _earliest(window_change, status_change, category_change),
            )
        bound = _earliest(window_change, status_change, category_change)
        hs_codes = certificate.hs_codes or category.hs_codes
        if hs_code is not None and not any(hs_match(hs_code, c) for c in hs_codes):
            return miss(
                ReasonCode.HS_CODE_NOT_COVERED_BY_CERTIFICATE,
                f"HS code {hs_code} is not covered by the certificate (HS {_codes(hs_codes)})",
                bound,
            )
        until = _earliest(
            certificate.valid_to,
            category.valid_to,
            _day_before(status_change) if status_change is not None else None,
        )
        return _Query(certificate, category, on, hs_code, hs_codes, until, bound)

    # --- rule 3: native --------------------------------------------------------------------

    def _operative(self, economy: str, on: dt.date) -> Mapping[str, Reach]:
        return self._rule.reach(economy, on)

    def _native_answer(self, query: _Query, target: str, reach: Reach) -> Answer:
        scheme_id = query.scheme_id
        until = _earliest(query.until, reach.until)
        bound = query.bound
        if reach.group is not None or reach.every_country:
            bound = _earliest(bound, _next_day_in(self._rule.change_days(target), query.on))
        route = Route(
            basis="native",
            level=Level.NATIVE,
            recognizing_scheme_id=scheme_id,
            agreement_id=None,
            scope_entry_id=None,
            conditions=(),
            valid_until=until,
            path=(),
            equivalent_category_code=None,
        )
        name = self._name(scheme_id)
        if reach.every_country:
            explanation = (
                f"Native in {target}: {name} is operative in every country of {target} "
                f"on {query.on}."
            )
        elif reach.group is None:
            explanation = f"Native in {target}: {name} is operative in {target}."
        else:
            explanation = (
                f"Native in {target}: {name} is operative in {reach.group}, "
                f"of which {target} is a member."
            )
        return Answer(
            recognized=True,
            level=Level.NATIVE,
            routes=(route,),
            reasons=(),
            conditions=(),
            valid_until=_earliest(until, _day_before(bound) if bound is not None else None),
            explanation=explanation,
        )

    # --- rules 4 and 5: agreements and chains ----------------------------------------------

    def _explore(self, query: _Query, recognizers: frozenset[str] | None) -> _Exploration:
        """Routes and misses from the query's scheme to `recognizers` (None: to every scheme)."""
        on = query.on
        scheme_id = query.scheme_id
        found = _Exploration(routes={}, reasons={}, linked=set(), bounds={})
        by_recognizing = self._links.get(scheme_id, {})
        if recognizers is None:
            direct = sorted(by_recognizing)
        else:
            direct = sorted(r for r in recognizers if r in by_recognizing and r != scheme_id)
        for recognizing in direct:
            found.linked.add(recognizing)
            for link in by_recognizing[recognizing]:
                found.add_bound(recognizing, link.next_boundary(on))
                failure = self._link_failure(link, on)
                if failure is not None:
                    code, clause, about = failure
                    found.reasons.setdefault(recognizing, []).append(
                        (Reason(code, _sentence(clause), link.agreement.id, about), clause)
                    )
                    continue
                covering, matches = self._entries_on(link, query, query.category.code)
                if not matches:
                    miss = self._scope_miss(link, query, covering)
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
                            valid_until=_earliest(query.until, link.end(entry, on)),
                            path=(step,),
                            equivalent_category_code=entry.equivalent_category_code,
                        )
                    )
        self._explore_cooperation(query, recognizers, found)
        self._explore_chains(query, recognizers, found)
        return found

    def _explore_cooperation(
        self, query: _Query, recognizers: frozenset[str] | None, found: _Exploration
    ) -> None:
        """`COOPERATION_ONLY` for every recognizer linked to the certificate's scheme by
        cooperation agreements alone (whatever their dates: such an agreement never gives a
        route, so its status changes no answer)."""
        scheme_id = query.scheme_id
        by_recognizing = self._cooperation.get(scheme_id, {})
        with_recognition = self._links.get(scheme_id, {})
        for recognizing in sorted(by_recognizing):
            if recognizing in with_recognition:
                continue
            if recognizers is not None and recognizing not in recognizers:
                continue
            found.linked.add(recognizing)
            for agreement in by_recognizing[recognizing]:
                clause = (
                    f"agreement '{agreement.title}' between {self._name(recognizing)} and "
                    f"{self._name(scheme_id)} is a cooperation agreement (a memorandum of "
                    "understanding or framework), which recognizes no certificate"
                )
                reason = Reason(
                    ReasonCode.COOPERATION_ONLY, _sentence(clause), agreement.id, recognizing
                )
                found.reasons.setdefault(recognizing, []).append((reason, clause))

    def _explore_chains(
        self, query: _Query, recognizers: frozenset[str] | None, found: _Exploration
    ) -> None:
        """Chained routes (rule 5) along every chain of chaining-allowed agreements.

        The chains are the static ones (dates ignored) from the certificate's scheme to the
        recognizers; every link on them bounds the answer's valid_until for the recognizer at
        their end, since a change on any of them can open or close a route there.
        """
        on = query.on
        by_recognizing = self._chains_of(query.scheme_id)
        if not by_recognizing:
            return
        if recognizers is None:
            ends = sorted(by_recognizing)
        else:
            ends = sorted(r for r in recognizers if r in by_recognizing)
        start = _Partial(
            steps=(),
            level=Level.NATIVE,  # the identity of "weakest of"
            conditions=(),
            until=query.until,
            equivalent=query.category.code,
        )
        failed: dict[int, bool] = {}
        for recognizing in ends:
            chains = by_recognizing[recognizing]
            found.add_bound(recognizing, _next_day_in(chains.boundaries, on))
            for chain in chains.chains:
                partials = [start]
                for link in chain:
                    key = id(link)
                    if key not in failed:
                        failed[key] = self._link_failure(link, on) is not None
                    if failed[key]:
                        partials = []
                        break
                    partials = [
                        self._extend(partial, link, entry, on)
                        for partial in partials
                        for entry in self._entries_on(link, query, partial.equivalent)[1]
                    ]
                    if not partials:
                        break
                for partial in partials:
                    found.routes.setdefault(recognizing, []).append(_route_of(partial, recognizing))

    def _chains_of(self, recognized: str) -> dict[str, _Chains]:
        """The chains of 2 to MAX_CHAIN_LENGTH chaining-allowed links from `recognized`, by
        the scheme at their far end.

        No scheme is visited twice and no agreement used twice; dates are not considered, so
        the result is computed once per scheme and kept.
        """
        cached = self._chains_cache.get(recognized)
        if cached is not None:
            return cached
        found: dict[str, list[tuple[_Link, ...]]] = {}

        def walk(chain: tuple[_Link, ...], visited: frozenset[str]) -> None:
            used = {link.agreement.id for link in chain}
            for link in self._allowed.get(chain[-1].recognizing, ()):
                if link.recognizing in visited or link.agreement.id in used:
                    continue
                longer = (*chain, link)
                found.setdefault(link.recognizing, []).append(longer)
                if len(longer) < MAX_CHAIN_LENGTH:
                    walk(longer, visited | {link.recognizing})

        for first in self._allowed.get(recognized, ()):
            walk((first,), frozenset({recognized, first.recognizing}))
        result = {}
        for end, chains in found.items():
            links = {id(link): link for chain in chains for link in chain}
            days = set().union(*(link.boundaries for link in links.values()))
            result[end] = _Chains(chains=tuple(chains), boundaries=tuple(sorted(days)))
        self._chains_cache[recognized] = result
        return result

    @staticmethod
    def _extend(partial: _Partial, link: _Link, entry: ScopeEntry, on: dt.date) -> _Partial:
        level = Level(entry.level)
        step = RouteStep(link.agreement.id, entry.id, link.recognizing, link.recognized, level)
        return _Partial(
            steps=(*partial.steps, step),
            level=_weakest(partial.level, level),
            conditions=_merge_conditions(partial.conditions, entry.conditions),
            until=_earliest(partial.until, link.end(entry, on)),
            equivalent=entry.equivalent_category_code,
        )

    def _link_failure(self, link: _Link, on: dt.date) -> tuple[ReasonCode, str, str] | None:
        """Why an agreement gives no route on `on` for this pair, whatever its scope."""
        agreement = link.agreement
        title = f"agreement '{agreement.title}'"
        if on < agreement.effective_from:
            return (
                ReasonCode.AGREEMENT_NOT_IN_FORCE,
                f"{title} takes effect only on {agreement.effective_from}",
                link.recognizing,
            )
        if agreement.effective_to is not None and on > agreement.effective_to:
            return (
                ReasonCode.AGREEMENT_NOT_IN_FORCE,
                f"{title} ended on {agreement.effective_to}",
                link.recognizing,
            )
        status = link.status.at(on)
        if status == AgreementStatus.TERMINATED:
            return (
                ReasonCode.AGREEMENT_NOT_IN_FORCE,
                f"{title} was terminated on {link.status.since(on)}",
                link.recognizing,
            )
        if status == AgreementStatus.SUSPENDED:
            return (
                ReasonCode.AGREEMENT_SUSPENDED,
                f"{title} has been suspended since {link.status.since(on)}",
                link.recognizing,
            )
        for party_id, party in (
            (link.recognizing, link.recognizing_party),
            (link.recognized, link.recognized_party),
        ):
            party_status = party.at(on)
            if party_status != PartyStatus.ACTIVE:
                verb = (
                    "suspended from" if party_status == PartyStatus.SUSPENDED else "withdrawn from"
                )
                return (
                    ReasonCode.PARTY_SUSPENDED,
                    f"{self._name(party_id)} has been {verb} {title} since {party.since(on)}",
                    party_id,
                )
        return None

    @staticmethod
    def _entries_on(
        link: _Link, query: _Query, wanted_category: str | None
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
        return covering, [e for e in covering if _entry_covers_hs(e, query)]

    def _scope_miss(
        self, link: _Link, query: _Query, covering: Sequence[ScopeEntry]
    ) -> tuple[Reason, str]:
        title = f"agreement '{link.agreement.title}'"
        pair = f"{self._name(link.recognizing)} recognizes {self._name(link.recognized)}"
        category = f"the category '{query.category.name}' ({query.category.code})"
        if not covering:
            code = ReasonCode.CATEGORY_NOT_IN_SCOPE
            clause = f"the scope of {title}, under which {pair}, does not cover {category}"
        else:
            code = ReasonCode.HS_CODE_NOT_IN_SCOPE
            prefixes = sorted({p for e in covering for p in e.hs_prefixes})
            declared = (
                f"HS code {query.hs_code}"
                if query.hs_code is not None
                else f"the certificate's HS codes ({_codes(query.hs_codes)})"
            )
            clause = (
                f"the scope of {title}, under which {pair}, covers {category} only for "
                f"HS codes {_codes(prefixes)}, not {declared}"
            )
        return Reason(code, _sentence(clause), link.agreement.id, link.recognizing), clause

    def _agreement_answer(
        self,
        query: _Query,
        target: str,
        operative: Mapping[str, Reach],
        found: _Exploration,
    ) -> Answer:
        on = query.on
        schemes = sorted(s for s in operative if s != query.scheme_id)
        routes: list[Route] = []
        misses: list[tuple[Reason, str]] = []
        bound = _earliest(query.bound, _next_day_in(self._rule.change_days(target), on))
        for scheme_id in schemes:
            reach_until = operative[scheme_id].until
            for route in found.routes.get(scheme_id, ()):
                until = _earliest(route.valid_until, reach_until)
                routes.append(
                    route if until == route.valid_until else replace(route, valid_until=until)
                )
            misses.extend(found.reasons.get(scheme_id, ()))
            bound = _earliest(bound, found.bounds.get(scheme_id))
        routes.sort(key=_route_key)
        horizon = _day_before(bound) if bound is not None else None
        if not routes:
            if not schemes:
                clause = f"no scheme in the registry is operative in {target}"
                misses.append((Reason(ReasonCode.NO_AGREEMENT, _sentence(clause)), clause))
            elif not any(s in found.linked for s in schemes):
                names = ", ".join(self._name(s) for s in schemes)
                clause = (
                    f"no agreement is on record under which {names} "
                    f"recognizes {self._name(query.scheme_id)}"
                )
                reason = Reason(ReasonCode.NO_AGREEMENT, _sentence(clause), None, query.scheme_id)
                misses.append((reason, clause))
            return self._negative(target, on, misses, bound)
        best = routes[0]
        return Answer(
            recognized=best.level.recognized,
            level=best.level,
            routes=tuple(routes),
            reasons=tuple(reason for reason, _clause in misses),
            conditions=best.conditions,
            valid_until=_earliest(best.valid_until, horizon),
            explanation=self._explain_route(target, best),
        )

    # --- rule 6: the answer ----------------------------------------------------------------

    def _negative(
        self,
        target: str,
        on: dt.date,
        misses: Sequence[tuple[Reason, str]],
        bound: dt.date | None,
    ) -> Answer:
        """A negative answer; the explanation quotes the first miss."""
        first = misses[0][1]
        more = len(misses) - 1
        if more > 0:
            first += f" ({more} more reason{'s' if more > 1 else ''} listed)"
        return Answer(
            recognized=False,
            level=None,
            routes=(),
            reasons=tuple(reason for reason, _clause in misses),
            conditions=(),
            valid_until=_day_before(bound) if bound is not None else None,
            explanation=f"Not recognized in {target} on {on}: {first}.",
        )

    def _explain_route(self, target: str, route: Route) -> str:
        path = route.path
        agreement = self._agreements.get(route.agreement_id or "")
        title = agreement.title if agreement is not None else route.agreement_id
        chain = self._name(path[-1].recognizing_scheme_id)
        for step in reversed(path):
            chain += f"{' recognizes ' if step is path[-1] else ', which recognizes '}"
            chain += self._name(step.recognized_scheme_id)
        via = (
            f"agreement '{title}' ({chain})"
            if len(path) == 1
            else f"a chain of {len(path)} agreements ending with '{title}' ({chain})"
        )
        if route.level == Level.FULL:
            return f"Recognized in {target} as equivalent under {via}."
        if route.level == Level.CONDITIONAL:
            return f"Recognized in {target} on conditions under {via}."
        return (
            f"Not recognized in {target}, but the assessment results behind the certificate "
            f"are accepted under {via}: the product must still be certified there."
        )

    def _name(self, scheme_id: str) -> str:
        scheme = self._schemes.get(scheme_id)
        return scheme.name if scheme is not None else scheme_id


def _next_day_in(days: Sequence[dt.date], on: dt.date) -> dt.date | None:
    i = bisect_right(days, on)
    return days[i] if i < len(days) else None


def _entry_covers_hs(entry: ScopeEntry, query: _Query) -> bool:
    if not entry.hs_prefixes:
        return True
    if query.hs_code is not None:
        return any(hs_match(query.hs_code, p) for p in entry.hs_prefixes)
    return any(hs_match(c, p) for c in query.hs_codes for p in entry.hs_prefixes)


def _route_of(partial: _Partial, recognizing: str) -> Route:
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


def _planned_certificate(category: ProductCategory, on: dt.date) -> Certificate:
    return Certificate(
        scheme_id=category.scheme_id,
        number="(planned)",
        category_code=category.code,
        holder_name="",
        holder_economy="",
        product_name="",
        valid_from=on,
        valid_to=on,
    )
