"""Groups as targets and groups in groups: where a scheme is operative (domain.md, "Scheme")."""

from __future__ import annotations

import pytest

from ecolabel_registry.domain import operative
from ecolabel_registry.domain.model import Economy, EconomyKind, Level
from ecolabel_registry.domain.operative import GroupIndex, cyclic_members
from ecolabel_registry.domain.resolver import ReasonCode
from tests.unit.factories import (
    EU_ECOLABEL,
    KOREA,
    D,
    category,
    certificate,
    group,
    membership,
    resolver,
    scheme,
    unilateral,
)

PAINTS = category(valid_from=D(2010, 1, 1))
CERT = certificate(valid_from=D(2010, 1, 1), valid_to=D(2030, 12, 31))

# The worked example of docs/resolution.md: the EU Ecolabel is at home in the EEA. Croatia
# joined the EU on 2013-07-01 but applied the EEA Agreement only from 2014-04-12; GB left the
# EU on 2020-01-31 and the EEA at the end of 2020.
EU = group(
    members=[
        membership("DE"),
        membership("FR"),
        membership("GB", D(1973, 1, 1), D(2020, 1, 31)),
        membership("HR", D(2013, 7, 1)),
    ]
)
EEA = group(
    code="EEA",
    name="European Economic Area",
    members=[
        membership("DE", D(1994, 1, 1)),
        membership("FR", D(1994, 1, 1)),
        membership("GB", D(1994, 1, 1), D(2020, 12, 31)),
        membership("NO", D(1994, 1, 1)),
        membership("HR", D(2014, 4, 12)),
    ],
)
AT_HOME_IN_EEA = [
    scheme(id=EU_ECOLABEL, home_economies=("EEA",)),
    scheme(id=KOREA),
]


def test_scheme_at_home_in_the_eea_is_not_operative_in_the_eu_before_croatia_joined_the_eea() -> (
    None
):
    r = resolver(schemes=AT_HOME_IN_EEA, groups=[EU, EEA])

    answer = r.resolve(CERT, PAINTS, "EU", D(2014, 1, 15))

    assert not answer.recognized
    assert [reason.code for reason in answer.reasons] == [ReasonCode.NO_AGREEMENT]
    assert answer.explanation == (
        "Not recognized in EU on 2014-01-15: no scheme in the registry is operative in EU."
    )
    # Croatia applies the EEA Agreement from 2014-04-12: the answer may change then.
    assert answer.valid_until == D(2014, 4, 11)
    assert r.operative_schemes("EU", D(2014, 1, 15)) == frozenset()
    assert r.operative_schemes("HR", D(2014, 1, 15)) == frozenset()
    assert r.operative_schemes("DE", D(2014, 1, 15)) == {EU_ECOLABEL}


def test_scheme_at_home_in_the_eea_is_operative_in_the_eu_once_every_eu_country_is_in_the_eea() -> (
    None
):
    r = resolver(schemes=AT_HOME_IN_EEA, groups=[EU, EEA])

    answer = r.resolve(CERT, PAINTS, "EU", D(2015, 1, 15))

    assert answer.recognized
    assert answer.level is Level.NATIVE
    assert answer.explanation == (
        "Native in EU: EU Ecolabel is operative in every country of EU on 2015-01-15."
    )
    # The earliest end among the memberships used: GB's EU membership.
    assert answer.routes[0].valid_until == D(2020, 1, 31)
    assert answer.valid_until == D(2020, 1, 31)
    assert r.operative_schemes("EU", D(2015, 1, 15)) == {EU_ECOLABEL}


def test_every_country_rule_needs_every_country_and_at_least_one() -> None:
    empty = group(code="NONE", name="No members yet", members=[membership("DE", D(2030, 1, 1))])
    r = resolver(schemes=AT_HOME_IN_EEA, groups=[EU, EEA, empty])

    assert r.operative_schemes("NONE", D(2025, 1, 1)) == frozenset()
    assert r.operative_schemes("NONE", D(2030, 1, 1)) == {EU_ECOLABEL}
    # Countries homed one by one count too: Korea Eco-label in a group of KR alone.
    korea_only = group(code="KRG", name="Korea alone", members=[membership("KR")])
    assert resolver(schemes=AT_HOME_IN_EEA, groups=[korea_only]).operative_schemes(
        "KRG", D(2025, 1, 1)
    ) == {KOREA}


def test_markets_and_plan_follow_the_group_rule() -> None:
    r = resolver(schemes=AT_HOME_IN_EEA, groups=[EU, EEA])
    targets = ["DE", "EEA", "EU", "HR", "KR"]

    before = r.markets(CERT, PAINTS, D(2014, 1, 15), targets)
    after = r.markets(CERT, PAINTS, D(2015, 1, 15), targets)

    assert [t for t, _ in before] == ["DE", "EEA"]
    assert [t for t, _ in after] == ["DE", "EEA", "EU", "HR"]
    plan_before = r.plan("3208", ["EU"], D(2014, 1, 15), [PAINTS])
    plan_after = r.plan("3208", ["EU"], D(2015, 1, 15), [PAINTS])
    assert plan_before[0].levels == {"EU": None}
    assert plan_after[0].levels == {"EU": Level.NATIVE}


def test_agreement_route_into_a_group_through_the_every_country_rule_ends_with_a_membership() -> (
    None
):
    eu_recognizes_korea = unilateral(
        id="eu-kr", recognizing=EU_ECOLABEL, recognized=KOREA, effective_from=D(2010, 1, 1)
    )
    r = resolver(schemes=AT_HOME_IN_EEA, groups=[EU, EEA], agreements=[eu_recognizes_korea])
    korean = certificate(
        scheme_id=KOREA, number="KR-1", valid_from=D(2010, 1, 1), valid_to=D(2030, 12, 31)
    )
    korean_paints = category(scheme_id=KOREA, valid_from=D(2010, 1, 1))

    before = r.resolve(korean, korean_paints, "EU", D(2014, 1, 15))
    after = r.resolve(korean, korean_paints, "EU", D(2015, 1, 15))

    assert not before.recognized
    assert after.level is Level.FULL
    assert after.routes[0].valid_until == D(2020, 1, 31)


# --- groups in groups --------------------------------------------------------------------------

BENELUX = group(
    code="BNL",
    name="Benelux",
    members=[
        membership("BE", D(1990, 1, 1)),
        membership("NL", D(1990, 1, 1), D(2025, 6, 30)),
    ],
)
UNION = group(
    code="UNX",
    name="Union of groups",
    members=[membership("BNL", D(2000, 1, 1), D(2030, 12, 31)), membership("DE", D(2000, 1, 1))],
)
AT_HOME_IN_UNION = [scheme(id=EU_ECOLABEL, home_economies=("UNX",))]


def test_a_country_of_a_member_group_is_in_the_group_while_both_memberships_hold() -> None:
    r = resolver(schemes=AT_HOME_IN_UNION, groups=[BENELUX, UNION])

    assert r.operative_schemes("NL", D(1999, 12, 31)) == frozenset()  # BNL not yet in UNX
    assert r.operative_schemes("NL", D(2024, 1, 1)) == {EU_ECOLABEL}
    assert r.operative_schemes("NL", D(2025, 7, 1)) == frozenset()  # NL left BNL
    assert r.operative_schemes("BE", D(2031, 1, 1)) == frozenset()  # BNL left UNX
    assert r.operative_schemes("BNL", D(2024, 1, 1)) == {EU_ECOLABEL}  # the member group too


def test_native_through_a_member_group_ends_with_the_first_membership_to_end() -> None:
    r = resolver(schemes=AT_HOME_IN_UNION, groups=[BENELUX, UNION])

    in_nl = r.resolve(CERT, PAINTS, "NL", D(2024, 1, 1))
    in_be = r.resolve(CERT, PAINTS, "BE", D(2024, 1, 1))

    assert in_nl.level is Level.NATIVE
    assert in_nl.routes[0].valid_until == D(2025, 6, 30)  # NL in BNL
    assert in_nl.valid_until == D(2025, 6, 30)
    assert in_nl.explanation == (
        "Native in NL: EU Ecolabel is operative in UNX, of which NL is a member."
    )
    assert in_be.routes[0].valid_until == D(2030, 12, 31)  # BNL in UNX
    assert in_be.valid_until == D(2030, 12, 31)


def test_countries_of_a_group_follow_both_levels_of_membership() -> None:
    index = GroupIndex({g.code: g for g in (BENELUX, UNION)})

    assert index.countries_of("UNX", D(1995, 1, 1)) == {}
    assert index.countries_of("UNX", D(2024, 1, 1)) == {
        "BE": D(2030, 12, 31),
        "NL": D(2025, 6, 30),
        "DE": None,
    }
    assert index.countries_of("UNX", D(2026, 1, 1)) == {"BE": D(2030, 12, 31), "DE": None}
    assert index.groups_of("NL", D(2024, 1, 1)) == {"BNL": D(2025, 6, 30), "UNX": D(2025, 6, 30)}


def test_group_target_containing_a_group_uses_its_countries() -> None:
    # A scheme homed in each of BE, NL and DE is operative in UNX by the every-country rule,
    # until NL leaves BNL (then it is still operative in every remaining country).
    schemes = [scheme(id="tri", home_economies=("BE", "DE", "NL"))]
    r = resolver(schemes=schemes, groups=[BENELUX, UNION])
    cert = certificate(scheme_id="tri", valid_from=D(2010, 1, 1), valid_to=D(2040, 1, 1))
    cat = category(scheme_id="tri", valid_from=D(2010, 1, 1))

    answer = r.resolve(cert, cat, "UNX", D(2024, 1, 1))

    assert answer.level is Level.NATIVE
    assert answer.routes[0].valid_until == D(2025, 6, 30)


def test_a_membership_that_would_make_a_group_contain_itself_is_found_whatever_its_dates() -> None:
    economies = {g.code: g for g in (BENELUX, UNION)}

    assert cyclic_members(economies, "BNL", ["UNX", "FR"]) == {"UNX"}
    assert cyclic_members(economies, "BNL", ["BNL"]) == {"BNL"}
    assert cyclic_members(economies, "UNX", ["BNL", "FR"]) == set()


def test_cycles_in_the_facts_never_loop() -> None:
    a = group(code="GA", name="A", members=[membership("GB2"), membership("DE")])
    b = group(code="GB2", name="B", members=[membership("GA"), membership("FR")])
    r = resolver(schemes=[scheme(id="s", home_economies=("GA",))], groups=[a, b])

    assert r.operative_schemes("FR", D(2025, 1, 1)) == {"s"}
    assert r.operative_schemes("GB2", D(2025, 1, 1)) == {"s"}


def test_a_country_in_a_group_by_two_paths_keeps_the_longest_lasting() -> None:
    # NL is in UNX directly until 2026, and through BNL until 2025-06-30 (BNL in UNX to 2030).
    union = group(
        code="UNX",
        name="Union of groups",
        members=[
            membership("BNL", D(2000, 1, 1), D(2030, 12, 31)),
            membership("NL", D(2000, 1, 1), D(2026, 12, 31)),
        ],
    )
    outer = group(code="OUT", name="Outer", members=[membership("UNX", D(2000, 1, 1))])
    country = Economy(code="NL", name="Netherlands", kind=EconomyKind.COUNTRY)
    index = GroupIndex({"BNL": BENELUX, "UNX": union, "OUT": outer, "NL": country})

    assert index.groups_of("NL", D(2024, 1, 1)) == {
        "BNL": D(2025, 6, 30),
        "UNX": D(2026, 12, 31),
        "OUT": D(2026, 12, 31),
    }
    assert index.countries_of("OUT", D(2024, 1, 1)) == {
        "BE": D(2030, 12, 31),
        "NL": D(2026, 12, 31),
    }
    assert not index.is_group("NL")
    assert index.contains("OUT", "NL")
    assert not index.contains("BNL", "OUT")


def test_operative_rule_answers_lists_and_keeps_its_answers_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(operative, "_MEMO_SIZE", 2)
    rule = operative.OperativeRule.of({g.code: g for g in (EU, EEA)}, AT_HOME_IN_EEA)

    for _ in range(2):  # the second round reads kept answers, after starting afresh once
        assert rule.schemes_in("EU", D(2014, 1, 15)) == frozenset()
        assert rule.schemes_in("EU", D(2015, 1, 15)) == {EU_ECOLABEL}
        assert rule.schemes_in("KR", D(2015, 1, 15)) == {KOREA}


def test_an_open_path_outlasts_a_closed_one_whichever_is_walked_first() -> None:
    groups = [
        group(code="AOPEN", name="Open", members=[membership("NL")]),
        group(
            code="ZSHUT", name="Closed", members=[membership("NL", D(2000, 1, 1), D(2025, 1, 1))]
        ),
        group(code="TOP", name="Top", members=[membership("AOPEN"), membership("ZSHUT")]),
    ]
    index = GroupIndex({g.code: g for g in groups})

    assert index.groups_of("NL", D(2024, 1, 1))["TOP"] is None
