"""Plain factory functions for domain objects, with keyword defaults, for the unit tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Certificate,
    Chaining,
    Condition,
    Direction,
    Economy,
    EconomyKind,
    Level,
    Membership,
    ProductCategory,
    Purpose,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import RegistryFacts, Resolver

D = dt.date

EU_ECOLABEL = "eu-ecolabel"
KOREA = "korea-eco-label"
CHINA = "china-env-label"
JAPAN = "japan-eco-mark"
NORDIC = "nordic-swan"
BLUE_ANGEL = "blue-angel"

SCHEME_NAMES = {
    EU_ECOLABEL: "EU Ecolabel",
    KOREA: "Korea Eco-label",
    CHINA: "China Environmental Labelling",
    JAPAN: "Japan Eco Mark",
    NORDIC: "Nordic Swan",
    BLUE_ANGEL: "Blue Angel",
}
SCHEME_HOMES = {
    EU_ECOLABEL: ("EU",),
    KOREA: ("KR",),
    CHINA: ("CN",),
    JAPAN: ("JP",),
    NORDIC: ("SE", "NO", "DK", "FI", "IS"),
    BLUE_ANGEL: ("DE",),
}


def event(status: str, on: dt.date, *, reason: str = "") -> StatusEvent:
    """A status event effective on `on`."""
    return StatusEvent(status=status, effective_date=on, reason=reason)


def membership(
    member: str, valid_from: dt.date = D(1958, 1, 1), valid_to: dt.date | None = None
) -> Membership:
    """A group membership."""
    return Membership(member=member, valid_from=valid_from, valid_to=valid_to)


def group(
    *,
    code: str = "EU",
    name: str = "European Union",
    members: Iterable[Membership] | None = None,
) -> Economy:
    """An economy group; by default the EU with DE, FR and GB (GB until 2020-01-31)."""
    if members is None:
        members = (
            membership("DE"),
            membership("FR"),
            membership("GB", D(1973, 1, 1), D(2020, 1, 31)),
        )
    return Economy(code=code, name=name, kind=EconomyKind.GROUP, members=tuple(members))


def scheme(
    *,
    id: str = EU_ECOLABEL,
    name: str | None = None,
    home_economies: Sequence[str] | None = None,
) -> Scheme:
    """A scheme; the name and homes default to those of the well-known slugs above."""
    return Scheme(
        id=id,
        name=name if name is not None else SCHEME_NAMES.get(id, id),
        operator=f"{id} operator",
        type=SchemeType.ISO14024,
        home_economies=tuple(
            home_economies if home_economies is not None else SCHEME_HOMES.get(id, ())
        ),
    )


def category(
    *,
    scheme_id: str = EU_ECOLABEL,
    code: str = "paints",
    name: str = "Paints and varnishes",
    criteria_version: str = "2014/312/EU",
    valid_from: dt.date = D(2014, 1, 1),
    valid_to: dt.date | None = None,
    hs_codes: Sequence[str] = ("3208", "3209"),
) -> ProductCategory:
    """A product category (criteria document)."""
    return ProductCategory(
        scheme_id=scheme_id,
        code=code,
        name=name,
        criteria_version=criteria_version,
        valid_from=valid_from,
        valid_to=valid_to,
        hs_codes=tuple(hs_codes),
    )


def certificate(
    *,
    scheme_id: str = EU_ECOLABEL,
    number: str = "FR/044/017",
    category_code: str = "paints",
    valid_from: dt.date = D(2023, 1, 1),
    valid_to: dt.date = D(2027, 12, 31),
    hs_codes: Sequence[str] = (),
    status_events: Sequence[StatusEvent] = (),
) -> Certificate:
    """A certificate; its HS codes default to none (the category's apply)."""
    return Certificate(
        scheme_id=scheme_id,
        number=number,
        category_code=category_code,
        holder_name="Peintures Dupont SA",
        holder_economy="FR",
        product_name="Dupont Mat Interior",
        valid_from=valid_from,
        valid_to=valid_to,
        hs_codes=tuple(hs_codes),
        status_events=tuple(status_events),
    )


def entry(
    *,
    id: str = "e1",
    recognized_scheme_id: str = EU_ECOLABEL,
    level: Level = Level.FULL,
    valid_from: dt.date = D(2020, 1, 1),
    valid_to: dt.date | None = None,
    recognizing_scheme_id: str | None = None,
    category_code: str | None = None,
    hs_prefixes: Sequence[str] = (),
    equivalent_category_code: str | None = None,
    conditions: Sequence[Condition] = (),
) -> ScopeEntry:
    """A scope entry; by default all categories of the EU Ecolabel, at level full."""
    return ScopeEntry(
        id=id,
        recognized_scheme_id=recognized_scheme_id,
        level=level,
        valid_from=valid_from,
        valid_to=valid_to,
        recognizing_scheme_id=recognizing_scheme_id,
        category_code=category_code,
        hs_prefixes=tuple(hs_prefixes),
        equivalent_category_code=equivalent_category_code,
        conditions=tuple(conditions),
    )


def party(scheme_id: str, *events: StatusEvent) -> AgreementParty:
    """An agreement party with its status history."""
    return AgreementParty(scheme_id=scheme_id, status_events=tuple(events))


def agreement(
    *,
    id: str = "a-eu-kr",
    title: str = "EU-Korea ecolabel cooperation",
    parties: Sequence[str | AgreementParty] = (EU_ECOLABEL, KOREA),
    direction: Direction = Direction.MUTUAL,
    chaining: Chaining = Chaining.NOT_ALLOWED,
    effective_from: dt.date = D(2020, 1, 1),
    effective_to: dt.date | None = None,
    scope_entries: Sequence[ScopeEntry] | None = None,
    status_events: Sequence[StatusEvent] = (),
    recognizing_scheme_id: str | None = None,
    recognized_scheme_id: str | None = None,
    purpose: Purpose = Purpose.RECOGNITION,
) -> Agreement:
    """An agreement; by default EU Ecolabel and Korea Eco-label recognize each other fully.

    When `scope_entries` is None, one entry per recognized party covers all its categories.
    """
    members = tuple(p if isinstance(p, AgreementParty) else party(p) for p in parties)
    if scope_entries is None:
        recognized = (
            [recognized_scheme_id]
            if direction == Direction.UNILATERAL and recognized_scheme_id is not None
            else [p.scheme_id for p in members]
        )
        scope_entries = [
            entry(id=f"{id}/{s}", recognized_scheme_id=s, valid_from=effective_from)
            for s in recognized
        ]
    return Agreement(
        id=id,
        title=title,
        reference=f"REF-{id}",
        signed_on=effective_from,
        direction=direction,
        chaining=chaining,
        effective_from=effective_from,
        effective_to=effective_to,
        parties=members,
        scope_entries=tuple(scope_entries),
        status_events=tuple(status_events),
        recognizing_scheme_id=recognizing_scheme_id,
        recognized_scheme_id=recognized_scheme_id,
        purpose=purpose,
    )


def unilateral(
    *,
    id: str = "a-kr-cn",
    title: str = "Korea recognizes China",
    recognizing: str = KOREA,
    recognized: str = CHINA,
    chaining: Chaining = Chaining.NOT_ALLOWED,
    effective_from: dt.date = D(2020, 1, 1),
    effective_to: dt.date | None = None,
    scope_entries: Sequence[ScopeEntry] | None = None,
    status_events: Sequence[StatusEvent] = (),
    purpose: Purpose = Purpose.RECOGNITION,
) -> Agreement:
    """A unilateral agreement: `recognizing` recognizes `recognized` (all categories, full)."""
    if scope_entries is None:
        scope_entries = [
            entry(
                id=f"{id}/{recognized}", recognized_scheme_id=recognized, valid_from=effective_from
            )
        ]
    return agreement(
        id=id,
        title=title,
        parties=(recognizing, recognized),
        direction=Direction.UNILATERAL,
        chaining=chaining,
        effective_from=effective_from,
        effective_to=effective_to,
        scope_entries=scope_entries,
        status_events=status_events,
        recognizing_scheme_id=recognizing,
        recognized_scheme_id=recognized,
        purpose=purpose,
    )


def facts(
    *,
    agreements: Sequence[Agreement] = (),
    schemes: Sequence[Scheme] | None = None,
    groups: Sequence[Economy] | None = None,
) -> RegistryFacts:
    """Registry facts; by default the six well-known schemes and the EU group."""
    if schemes is None:
        schemes = [scheme(id=s) for s in SCHEME_NAMES]
    if groups is None:
        groups = [group()]
    return RegistryFacts(
        economies={g.code: g for g in groups},
        schemes={s.id: s for s in schemes},
        agreements=tuple(agreements),
    )


def resolver(
    *,
    agreements: Sequence[Agreement] = (),
    schemes: Sequence[Scheme] | None = None,
    groups: Sequence[Economy] | None = None,
) -> Resolver:
    """A resolver over `facts(...)`."""
    return Resolver(facts(agreements=agreements, schemes=schemes, groups=groups))
