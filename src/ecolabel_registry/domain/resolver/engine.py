"""The equivalence resolver: the rules of docs/resolution.md over in-memory facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from ecolabel_registry.domain.model import (
    Agreement,
    Certificate,
    CertificateTerms,
    Level,
    ProductCategory,
    window_contains,
)
from ecolabel_registry.domain.operative import OperativeRule, Reach
from ecolabel_registry.domain.resolver.answers import (
    Answer,
    PlanOption,
    Reason,
    RegistryFacts,
    Route,
)
from ecolabel_registry.domain.resolver.certificate import Query, check_certificate, planned_query
from ecolabel_registry.domain.resolver.links import LinkIndex
from ecolabel_registry.domain.resolver.reasons import (
    explain_route,
    negative_answer,
    no_agreement,
    scheme_name,
)
from ecolabel_registry.domain.resolver.routes import Exploration, RouteFinder, route_key
from ecolabel_registry.domain.resolver.timeline import day_before, earliest, next_day_in
from ecolabel_registry.domain.validation import hs_match


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
        self._index: LinkIndex = (
            LinkIndex.build(facts.agreements)
            if previous is None
            else previous._index.relinked(
                previous._agreements, self._agreements, frozenset(changed_agreements)
            )
        )
        self._routes = RouteFinder(self._index, self._schemes)

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
        return self._index.reach_of(agreement)

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
        checked = check_certificate(certificate, category, target, on, hs_code)
        if isinstance(checked, Answer):
            return checked
        operative = self._operative(target, on)
        native = operative.get(checked.scheme_id)
        if native is not None:
            return self._native_answer(checked, target, native)
        recognizers = frozenset(operative)
        exploration = self._routes.explore(checked, recognizers)
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
        certificate's scheme are worked out once and then mapped to the targets; a target
        where no scheme operative there has a route has no level, and its answer (the
        reasons of every miss, worded) is not made.
        """
        ordered = sorted(set(targets))
        if not ordered:
            return []
        checked = check_certificate(certificate, category, ordered[0], on, None)
        if isinstance(checked, Answer):
            return []
        exploration = self._routes.explore(checked, None)
        reached = exploration.routes
        result: list[tuple[str, Answer]] = []
        for target in ordered:
            operative = self._operative(target, on)
            native = operative.get(checked.scheme_id)
            if native is not None:
                answer = self._native_answer(checked, target, native)
            elif any(reached.get(scheme_id) for scheme_id in operative):
                answer = self._agreement_answer(checked, target, operative, exploration)
            else:
                continue
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
            query = planned_query(category, on, hs_code)
            exploration = self._routes.explore(query, recognizers)
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
            query = planned_query(category, on, hs_code)
            found = self._routes.explore(query, recognizers)
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

    # --- rule 3: native --------------------------------------------------------------------

    def _operative(self, economy: str, on: dt.date) -> Mapping[str, Reach]:
        return self._rule.reach(economy, on)

    def _native_answer(self, query: Query, target: str, reach: Reach) -> Answer:
        scheme_id = query.scheme_id
        until = earliest(query.until, reach.until)
        bound = query.bound
        if reach.group is not None or reach.every_country:
            bound = earliest(bound, next_day_in(self._rule.change_days(target), query.on))
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
        name = scheme_name(self._schemes, scheme_id)
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
            valid_until=earliest(until, day_before(bound) if bound is not None else None),
            explanation=explanation,
        )

    def _agreement_answer(
        self,
        query: Query,
        target: str,
        operative: Mapping[str, Reach],
        found: Exploration,
    ) -> Answer:
        on = query.on
        schemes = sorted(s for s in operative if s != query.scheme_id)
        routes: list[Route] = []
        misses: list[tuple[Reason, str]] = []
        bound = earliest(query.bound, next_day_in(self._rule.change_days(target), on))
        for scheme_id in schemes:
            reach_until = operative[scheme_id].until
            for route in found.routes.get(scheme_id, ()):
                until = earliest(route.valid_until, reach_until)
                routes.append(
                    route if until == route.valid_until else replace(route, valid_until=until)
                )
            misses.extend(found.reasons.get(scheme_id, ()))
            bound = earliest(bound, found.bounds.get(scheme_id))
        routes.sort(key=route_key)
        horizon = day_before(bound) if bound is not None else None
        if not routes:
            if not schemes or not any(s in found.linked for s in schemes):
                misses.append(no_agreement(self._schemes, target, schemes, query.scheme_id))
            return negative_answer(target, on, misses, bound)
        best = routes[0]
        return Answer(
            recognized=best.level.recognized,
            level=best.level,
            routes=tuple(routes),
            reasons=tuple(reason for reason, _clause in misses),
            conditions=best.conditions,
            valid_until=earliest(best.valid_until, horizon),
            explanation=explain_route(self._schemes, self._agreements, target, best),
        )
