"""Properties of the resolver over small random registries (hypothesis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Certificate,
    Chaining,
    Direction,
    Level,
    Membership,
    ProductCategory,
    Purpose,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import Answer, RegistryFacts, Resolver
from tests.unit.factories import (
    agreement,
    category,
    certificate,
    entry,
    event,
    group,
    membership,
    party,
    scheme,
)

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

BASE = dt.date(2024, 1, 1)
SPAN = 40
SCHEMES = {"s0": ("A",), "s1": ("B",), "s2": ("G",), "s3": ("C", "E")}
# G is a group of C and D; H a group of the group G and of E, all memberships dated.
TARGETS = ["A", "B", "C", "D", "E", "G", "H"]


def day(offset: int) -> dt.date:
    return BASE + dt.timedelta(days=offset)


# Strategies are built once and reused: building them inside draws dominates the run time.
offsets = st.integers(min_value=0, max_value=SPAN)
levels = st.sampled_from(list(Level)[1:])
booleans = st.booleans()
CATEGORY_CODES = st.sampled_from([None, None, None, "c0", "c1", "x"])
EQUIVALENT_CODES = st.sampled_from([None, "c0", "c1"])
HS_PREFIXES = st.sampled_from([(), (), ("32",), ("3208",), ("4802",)])
DIRECTIONS = st.sampled_from(list(Direction))
CHAININGS = st.sampled_from([Chaining.ALLOWED, *Chaining])
PURPOSES = st.sampled_from([Purpose.RECOGNITION, Purpose.RECOGNITION, *Purpose])
PARTY_STATUSES = ("active", "suspended", "withdrawn")
AGREEMENT_STATUSES = ("in_force", "suspended", "terminated")


@cache
def windows(
    start: tuple[int, int] = (-10, SPAN),
    length: tuple[int, int] = (0, 2 * SPAN),
    *,
    open_end: bool = True,
) -> st.SearchStrategy[tuple[dt.date, dt.date | None]]:
    """Windows starting in `start` (offsets), often open-ended, otherwise of some length."""
    closed = st.builds(
        lambda first, size: (day(first), day(first + size)),
        st.integers(*start),
        st.integers(*length),
    )
    if not open_end:
        return closed
    return closed | st.builds(lambda first: (day(first), None), st.integers(*start))


@cache
def histories(statuses: tuple[str, ...]) -> st.SearchStrategy[tuple[StatusEvent, ...]]:
    """Up to two events; the first status listed (the normal one) is drawn most often."""
    weighted = st.sampled_from([statuses[0], statuses[0], *statuses])
    return st.lists(st.tuples(weighted, offsets), max_size=2).map(
        lambda events: tuple(event(status, day(offset)) for status, offset in events)
    )


@cache
def rare_events(statuses: tuple[str, ...]) -> st.SearchStrategy[tuple[StatusEvent, ...]]:
    """Usually no event; sometimes one or two, late in the span."""
    return st.lists(st.tuples(st.sampled_from(statuses), offsets), max_size=2).map(
        lambda events: tuple(
            event(status, day(offset)) for status, offset in events if offset > SPAN // 2
        )
    )


@cache
def among(values: tuple[str | None, ...]) -> st.SearchStrategy[str | None]:
    return st.sampled_from(values)


@st.composite
def scope_entries(
    draw: st.DrawFn, index: int, parties: tuple[str, ...], recognized: str | None = None
) -> ScopeEntry:
    valid_from, valid_to = draw(windows((-SPAN, SPAN)))
    return entry(
        id=f"e{index}",
        recognized_scheme_id=recognized or str(draw(among(parties))),
        recognizing_scheme_id=draw(among((None, None, None, *parties))),
        level=draw(levels),
        valid_from=valid_from,
        valid_to=valid_to,
        category_code=draw(CATEGORY_CODES),
        hs_prefixes=draw(HS_PREFIXES),
        equivalent_category_code=draw(EQUIVALENT_CODES),
    )


@st.composite
def agreements(draw: st.DrawFn, index: int) -> Agreement:
    direction = draw(DIRECTIONS)
    size = 2 if direction == Direction.UNILATERAL else draw(st.integers(2, 3))
    parties = tuple(draw(st.permutations(sorted(SCHEMES)))[:size])
    members = [party(p, *draw(histories(PARTY_STATUSES))) for p in parties]
    effective_from, effective_to = draw(windows((-20, 20)))
    # One entry per recognized party, so that most pairs have some scope, then a few more.
    recognized = parties[1:2] if direction == Direction.UNILATERAL else parties
    entries = [draw(scope_entries(index * 10 + i, parties, p)) for i, p in enumerate(recognized)]
    entries += [
        draw(scope_entries(index * 10 + 5 + i, parties)) for i in range(draw(st.integers(0, 2)))
    ]
    return agreement(
        id=f"a{index}",
        title=f"Agreement {index}",
        parties=members,
        direction=direction,
        chaining=draw(CHAININGS),
        effective_from=effective_from,
        effective_to=effective_to,
        scope_entries=entries,
        status_events=draw(histories(AGREEMENT_STATUSES)),
        recognizing_scheme_id=parties[0] if direction == Direction.UNILATERAL else None,
        recognized_scheme_id=parties[1] if direction == Direction.UNILATERAL else None,
        purpose=draw(PURPOSES),
    )


@st.composite
def registries(draw: st.DrawFn) -> RegistryFacts:
    def members(*codes: str) -> list[Membership]:
        found = []
        for member in codes:
            for _ in range(draw(st.integers(1, 2))):
                valid_from, valid_to = draw(windows())
                found.append(membership(member, valid_from, valid_to))
        return found

    count = draw(st.integers(0, 6))
    drawn = [draw(agreements(i)) for i in range(count)]
    return RegistryFacts(
        economies={
            "G": group(code="G", name="Group", members=members("C", "D")),
            "H": group(code="H", name="Group of groups", members=members("G", "E")),
        },
        schemes={s: scheme(id=s, home_economies=homes) for s, homes in SCHEMES.items()},
        agreements=(*draw(chains()), *drawn),
    )


CHAIN_WINDOWS = windows((-SPAN, SPAN // 2), (SPAN, 3 * SPAN))
CERTIFICATE_WINDOWS = windows((-SPAN, 5), (SPAN + SPAN // 2, 4 * SPAN), open_end=False)
CATEGORY_WINDOWS = windows((-SPAN, 5), (SPAN + SPAN // 2, 4 * SPAN))
CERTIFICATE_HS_CODES = st.sampled_from([(), ("3208",), ("320810",)])
DECLARED_HS_CODES = among((None, None, None, "3208", "320810", "4802"))


@st.composite
def chains(draw: st.DrawFn) -> list[Agreement]:
    """Often a chain s0 <- s1 <- s2 <- s3 of chaining-allowed agreements, with random facts."""
    links = draw(st.sampled_from([0, 0, 1, 2, 3]))
    result = []
    for k in range(links):
        recognizing, recognized = f"s{k + 1}", f"s{k}"
        effective_from, effective_to = draw(CHAIN_WINDOWS)
        valid_from, valid_to = draw(CHAIN_WINDOWS)
        scope = entry(
            id=f"e{100 + k}",
            recognized_scheme_id=recognized,
            level=draw(levels),
            valid_from=valid_from,
            valid_to=valid_to,
            category_code=draw(among((None, None, None, "c0"))),
            equivalent_category_code=draw(among((None, "c0", "c0"))),
            hs_prefixes=draw(HS_PREFIXES),
        )
        result.append(
            agreement(
                id=f"chain{k}",
                title=f"Chain {k}",
                parties=[
                    party(recognizing, *draw(rare_events(("suspended", "active")))),
                    recognized,
                ],
                direction=Direction.UNILATERAL,
                chaining=Chaining.ALLOWED,
                effective_from=effective_from,
                effective_to=effective_to,
                scope_entries=[scope],
                status_events=draw(rare_events(AGREEMENT_STATUSES)),
                recognizing_scheme_id=recognizing,
                recognized_scheme_id=recognized,
            )
        )
    return result


@dataclass(frozen=True)
class Case:
    facts: RegistryFacts
    certificate: Certificate
    category: ProductCategory
    target: str
    on: dt.date
    hs_code: str | None

    def resolve(self, facts: RegistryFacts | None = None, on: dt.date | None = None) -> Answer:
        resolver = Resolver(facts or self.facts)
        return resolver.resolve(
            self.certificate, self.category, self.target, on or self.on, self.hs_code
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    facts = draw(registries())
    scheme_id = draw(st.sampled_from(sorted(SCHEMES)))
    target = draw(st.sampled_from(TARGETS))
    along_agreement = draw(booleans)
    if facts.agreements and along_agreement:
        # Most interesting: a certificate of one party, asked about in another party's home.
        linked = draw(st.sampled_from(facts.agreements))
        scheme_id, other = draw(st.permutations(sorted(linked.party_ids)))[:2]
        target = draw(st.sampled_from(SCHEMES[other]))
    chain_length = sum(1 for a in facts.agreements if a.id.startswith("chain"))
    if chain_length > 1 and draw(booleans):
        # Along a chain: a certificate of s0, asked about in the home of its far end.
        scheme_id = "s0"
        target = SCHEMES[f"s{draw(st.integers(2, chain_length))}"][0]
    code = str(draw(among(("c0", "c1"))))
    valid_from, valid_to = draw(CERTIFICATE_WINDOWS)
    assert valid_to is not None
    cat_from, cat_to = draw(CATEGORY_WINDOWS)
    cert = certificate(
        scheme_id=scheme_id,
        category_code=code,
        valid_from=valid_from,
        valid_to=valid_to,
        hs_codes=draw(CERTIFICATE_HS_CODES),
        status_events=draw(histories(PARTY_STATUSES)),
    )
    cat = category(
        scheme_id=scheme_id,
        code=code,
        valid_from=cat_from,
        valid_to=cat_to,
    )
    return Case(
        facts=facts,
        certificate=cert,
        category=cat,
        target=target,
        on=day(draw(st.integers(-2, SPAN + 2))),
        hs_code=draw(DECLARED_HS_CODES),
    )


def comparable(answer: Answer) -> tuple[object, ...]:
    """Everything in an answer except the explanation, which names the query date."""
    return (
        answer.recognized,
        answer.level,
        answer.routes,
        answer.reasons,
        answer.conditions,
        answer.valid_until,
    )


def _window(valid_from: dt.date, valid_to: dt.date | None) -> list[dt.date]:
    return [valid_from] + ([] if valid_to is None else [valid_to + dt.timedelta(days=1)])


def _events(events: Iterable[StatusEvent]) -> list[dt.date]:
    return [e.effective_date for e in events]


def fact_dates(case: Case) -> list[dt.date]:
    """Every day on which some fact of the case starts, ends (the day after) or changes."""
    days = _window(case.certificate.valid_from, case.certificate.valid_to)
    days += _events(case.certificate.status_events)
    days += _window(case.category.valid_from, case.category.valid_to)
    for economy in case.facts.economies.values():
        for m in economy.members:
            days += _window(m.valid_from, m.valid_to)
    for a in case.facts.agreements:
        days += _window(a.effective_from, a.effective_to) + _events(a.status_events)
        for p in a.parties:
            days += _events(p.status_events)
        for e in a.scope_entries:
            days += _window(e.valid_from, e.valid_to)
    return sorted(set(days))


@PROPERTY_SETTINGS
@given(cases())
def test_recognized_implies_native_full_or_conditional(case: Case) -> None:
    answer = case.resolve()

    assert answer.recognized == (answer.level in {Level.NATIVE, Level.FULL, Level.CONDITIONAL})
    assert (answer.level is None) == (answer.routes == ())
    if answer.routes:
        assert answer.level is answer.routes[0].level
        assert answer.conditions == answer.routes[0].conditions
        assert all(r.level.strength <= answer.level.strength for r in answer.routes)
    else:
        assert answer.reasons


@PROPERTY_SETTINGS
@given(cases(), st.integers(min_value=1, max_value=SPAN))
def test_answer_does_not_change_between_two_dates_when_no_fact_changes(
    case: Case, gap: int
) -> None:
    later = case.on + dt.timedelta(days=gap)
    changes = [d for d in fact_dates(case) if case.on < d <= later]
    if changes:
        later = changes[0] - dt.timedelta(days=1)

    assert comparable(case.resolve(on=later)) == comparable(case.resolve())


@PROPERTY_SETTINGS
@given(cases(), st.integers(min_value=0, max_value=2 * SPAN))
def test_answer_holds_unchanged_through_its_valid_until(case: Case, gap: int) -> None:
    answer = case.resolve()
    later = case.on + dt.timedelta(days=gap)
    if answer.valid_until is not None:
        assert answer.valid_until >= case.on
        later = min(later, answer.valid_until)

    assert comparable(case.resolve(on=later)) == comparable(answer)


@PROPERTY_SETTINGS
@given(cases(), st.data())
def test_ending_or_terminating_an_agreement_never_turns_a_no_into_a_yes(
    case: Case, data: st.DataObject
) -> None:
    if not case.facts.agreements:
        return
    index = data.draw(st.integers(0, len(case.facts.agreements) - 1))
    ended_on = day(data.draw(offsets))
    original = case.facts.agreements[index]
    if data.draw(booleans):
        changed = replace(
            original, status_events=(*original.status_events, event("terminated", ended_on))
        )
    else:
        end = ended_on if original.effective_to is None else min(ended_on, original.effective_to)
        changed = replace(original, effective_to=end)
    changed_facts = replace(
        case.facts,
        agreements=tuple(changed if i == index else a for i, a in enumerate(case.facts.agreements)),
    )

    before = case.resolve()
    after = case.resolve(facts=changed_facts)

    if not before.recognized:
        assert not after.recognized
    before_strength = before.level.strength if before.level else 0
    assert (after.level.strength if after.level else 0) <= before_strength


@PROPERTY_SETTINGS
@given(cases())
def test_markets_give_the_answer_of_the_single_query(case: Case) -> None:
    resolver = Resolver(case.facts)
    markets = dict(resolver.markets(case.certificate, case.category, case.on, TARGETS))

    for target in TARGETS:
        single = resolver.resolve(case.certificate, case.category, target, case.on)
        assert markets.get(target) == (single if single.level is not None else None)


@st.composite
def symmetric_cases(
    draw: st.DrawFn,
) -> tuple[
    RegistryFacts,
    tuple[Certificate, ProductCategory],
    tuple[Certificate, ProductCategory],
    dt.date,
    str | None,
]:
    """One mutual agreement between s0 (home A) and s1 (home B), with mirrored scope."""
    parties: list[AgreementParty] = [
        party(p, *draw(histories(PARTY_STATUSES))) for p in ("s0", "s1")
    ]
    entries: list[ScopeEntry] = []
    for i in range(draw(st.integers(0, 3))):
        valid_from, valid_to = draw(windows())
        template = entry(
            id=f"e{i}",
            level=draw(levels),
            valid_from=valid_from,
            valid_to=valid_to,
            category_code=draw(among((None, "c", "x"))),
            hs_prefixes=draw(st.sampled_from([(), ("3208",), ("4802",)])),
        )
        entries.append(replace(template, id=f"e{i}-0", recognized_scheme_id="s0"))
        entries.append(replace(template, id=f"e{i}-1", recognized_scheme_id="s1"))
    effective_from, effective_to = draw(windows((-20, 20)))
    mutual = agreement(
        id="m",
        parties=parties,
        effective_from=effective_from,
        effective_to=effective_to,
        scope_entries=entries,
        status_events=draw(histories(AGREEMENT_STATUSES)),
    )
    facts = RegistryFacts(
        economies={},
        schemes={
            "s0": scheme(id="s0", home_economies=("A",)),
            "s1": scheme(id="s1", home_economies=("B",)),
        },
        agreements=(mutual,),
    )
    valid_from, valid_to = draw(CERTIFICATE_WINDOWS)
    assert valid_to is not None
    events = draw(histories(PARTY_STATUSES))
    hs_codes = draw(st.sampled_from([(), ("3208",)]))

    def side(scheme_id: str) -> tuple[Certificate, ProductCategory]:
        return (
            certificate(
                scheme_id=scheme_id,
                category_code="c",
                valid_from=valid_from,
                valid_to=valid_to,
                status_events=events,
                hs_codes=hs_codes,
            ),
            category(scheme_id=scheme_id, code="c", valid_from=day(0)),
        )

    on = day(draw(st.integers(-2, SPAN + 2)))
    return facts, side("s0"), side("s1"), on, draw(among((None, "3208", "3209")))


@PROPERTY_SETTINGS
@given(symmetric_cases())
def test_mutual_agreement_answers_the_same_both_ways(
    case: tuple[
        RegistryFacts,
        tuple[Certificate, ProductCategory],
        tuple[Certificate, ProductCategory],
        dt.date,
        str | None,
    ],
) -> None:
    facts, (cert_a, cat_a), (cert_b, cat_b), on, hs_code = case
    resolver = Resolver(facts)

    a_in_b = resolver.resolve(cert_a, cat_a, "B", on, hs_code)
    b_in_a = resolver.resolve(cert_b, cat_b, "A", on, hs_code)

    assert a_in_b.recognized == b_in_a.recognized
    assert a_in_b.level == b_in_a.level
    assert a_in_b.valid_until == b_in_a.valid_until
    assert [r.code for r in a_in_b.reasons] == [r.code for r in b_in_a.reasons]
    assert [(r.level, r.valid_until) for r in a_in_b.routes] == [
        (r.level, r.valid_until) for r in b_in_a.routes
    ]
