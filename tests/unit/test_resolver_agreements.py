"""The resolver's rules 4 and 5: routes through agreements, chains, and near-miss reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from ecolabel_registry.domain.model import Agreement, Certificate, Chaining, Condition, Level
from ecolabel_registry.domain.resolver import MAX_CHAIN_LENGTH, Answer
from tests.unit.factories import (
    CHINA,
    EU_ECOLABEL,
    JAPAN,
    KOREA,
    NORDIC,
    D,
    agreement,
    category,
    certificate,
    entry,
    event,
    group,
    membership,
    party,
    resolver,
    scheme,
    unilateral,
)

PAINTS = category()
CHINA_PAINTS = category(scheme_id=CHINA, code="hj-2537", name="Water-based coatings")
ON = D(2025, 3, 1)
ALLOWED = Chaining.ALLOWED


def china_certificate() -> Certificate:
    return certificate(scheme_id=CHINA, number="CEC-1", category_code="hj-2537")


def china_in(
    target: str,
    agreements: Sequence[Agreement],
    *,
    on: dt.date = ON,
    hs_code: str | None = None,
) -> Answer:
    return resolver(agreements=agreements).resolve(
        china_certificate(), CHINA_PAINTS, target, on, hs_code
    )


def eu_in(
    target: str,
    agreements: Sequence[Agreement],
    *,
    on: dt.date = ON,
    hs_code: str | None = None,
    cert: Certificate | None = None,
) -> Answer:
    return resolver(agreements=agreements).resolve(
        cert or certificate(), PAINTS, target, on, hs_code
    )


def reason_codes(answer: Answer) -> list[str]:
    return [r.code.value for r in answer.reasons]


# --- rule 4: agreements ----------------------------------------------------------------------


def test_mutual_agreement_recognizes_each_party_in_the_other_economy() -> None:
    a = agreement()
    korea_cert = certificate(scheme_id=KOREA, number="KR-1", category_code="k-paints")
    korea_paints = category(scheme_id=KOREA, code="k-paints")

    eu_in_korea = eu_in("KR", [a])
    korea_in_france = resolver(agreements=[a]).resolve(korea_cert, korea_paints, "FR", ON)

    assert eu_in_korea.recognized
    assert eu_in_korea.level is Level.FULL
    (route,) = eu_in_korea.routes
    assert route.basis == "agreement"
    assert route.recognizing_scheme_id == KOREA
    assert route.agreement_id == "a-eu-kr"
    assert route.scope_entry_id == "a-eu-kr/eu-ecolabel"
    assert [(s.recognizing_scheme_id, s.recognized_scheme_id) for s in route.path] == [
        (KOREA, EU_ECOLABEL)
    ]
    assert korea_in_france.recognized
    assert korea_in_france.routes[0].recognizing_scheme_id == EU_ECOLABEL


def test_unilateral_agreement_recognizes_only_in_its_direction() -> None:
    korea_recognizes_china = unilateral(recognizing=KOREA, recognized=CHINA)
    korea_cert = certificate(scheme_id=KOREA, number="KR-1", category_code="k-paints")
    korea_paints = category(scheme_id=KOREA, code="k-paints")

    china_in_korea = china_in("KR", [korea_recognizes_china])
    korea_in_china = resolver(agreements=[korea_recognizes_china]).resolve(
        korea_cert, korea_paints, "CN", ON
    )

    assert china_in_korea.recognized
    assert not korea_in_china.recognized
    assert reason_codes(korea_in_china) == ["NO_AGREEMENT"]
    assert korea_in_china.explanation == (
        "Not recognized in CN on 2025-03-01: no agreement is on record under which "
        "China Environmental Labelling recognizes Korea Eco-label."
    )


def test_no_agreement_answer_holds_until_the_certificate_itself_changes() -> None:
    answer = eu_in("KR", [])

    assert answer.level is None
    assert reason_codes(answer) == ["NO_AGREEMENT"]
    assert answer.valid_until == D(2027, 12, 31)  # then the reason becomes CERTIFICATE_EXPIRED


def test_agreement_before_its_effective_date_or_after_its_end_is_not_in_force() -> None:
    a = agreement(effective_from=D(2024, 1, 1), effective_to=D(2024, 12, 31))

    before = eu_in("KR", [a], on=D(2023, 6, 1))
    first_day = eu_in("KR", [a], on=D(2024, 1, 1))
    last_day = eu_in("KR", [a], on=D(2024, 12, 31))
    after = eu_in("KR", [a], on=D(2025, 1, 1))

    assert reason_codes(before) == ["AGREEMENT_NOT_IN_FORCE"]
    assert before.valid_until == D(2023, 12, 31)
    assert "takes effect only on 2024-01-01" in before.reasons[0].message
    assert first_day.recognized
    assert first_day.valid_until == D(2024, 12, 31)
    assert last_day.recognized
    assert reason_codes(after) == ["AGREEMENT_NOT_IN_FORCE"]
    assert after.valid_until == D(2027, 12, 31)


def test_terminated_agreement_is_not_in_force() -> None:
    a = agreement(status_events=[event("terminated", D(2024, 7, 1))])

    answer = eu_in("KR", [a])

    assert reason_codes(answer) == ["AGREEMENT_NOT_IN_FORCE"]
    assert answer.reasons[0].agreement_id == "a-eu-kr"
    assert answer.reasons[0].message == (
        "Agreement 'EU-Korea ecolabel cooperation' was terminated on 2024-07-01."
    )


def test_suspended_agreement_blocks_recognition_until_it_is_back_in_force() -> None:
    a = agreement(
        status_events=[
            event("in_force", D(2020, 1, 1)),
            event("suspended", D(2024, 3, 1)),
            event("in_force", D(2024, 9, 1)),
        ]
    )

    before = eu_in("KR", [a], on=D(2024, 1, 1))
    during = eu_in("KR", [a], on=D(2024, 5, 1))
    after = eu_in("KR", [a], on=D(2024, 10, 1))

    assert before.recognized
    assert before.valid_until == D(2024, 2, 29)
    assert not during.recognized
    assert reason_codes(during) == ["AGREEMENT_SUSPENDED"]
    assert during.valid_until == D(2024, 8, 31)
    assert "has been suspended since 2024-03-01" in during.explanation
    assert after.recognized
    assert after.valid_until == D(2027, 12, 31)


def test_suspended_party_blocks_recognition() -> None:
    a = agreement(parties=[party(EU_ECOLABEL, event("suspended", D(2025, 1, 10))), KOREA])

    answer = eu_in("KR", [a])

    assert reason_codes(answer) == ["PARTY_SUSPENDED"]
    assert answer.reasons[0].scheme_id == EU_ECOLABEL
    assert answer.reasons[0].message == (
        "EU Ecolabel has been suspended from agreement 'EU-Korea ecolabel cooperation' "
        "since 2025-01-10."
    )


def test_multilateral_agreement_with_one_party_suspended_keeps_the_others_linked() -> None:
    a = agreement(
        id="gen",
        title="GEN mutual recognition",
        parties=[EU_ECOLABEL, KOREA, party(JAPAN, event("suspended", D(2024, 6, 1))), CHINA],
    )
    r = resolver(agreements=[a])

    in_korea = r.resolve(certificate(), PAINTS, "KR", ON)
    in_japan = r.resolve(certificate(), PAINTS, "JP", ON)
    china_in_korea = r.resolve(china_certificate(), CHINA_PAINTS, "KR", ON)

    assert in_korea.recognized
    assert china_in_korea.recognized
    assert not in_japan.recognized
    assert reason_codes(in_japan) == ["PARTY_SUSPENDED"]
    assert in_japan.reasons[0].scheme_id == JAPAN


def test_withdrawn_party_is_reported_as_party_suspended() -> None:
    a = agreement(parties=[EU_ECOLABEL, party(KOREA, event("withdrawn", D(2025, 1, 1)))])

    answer = eu_in("KR", [a])

    assert reason_codes(answer) == ["PARTY_SUSPENDED"]
    assert "has been withdrawn from agreement" in answer.reasons[0].message


def test_category_outside_the_scope_is_not_recognized() -> None:
    a = agreement(scope_entries=[entry(category_code="office-paper")])

    answer = eu_in("KR", [a])

    assert reason_codes(answer) == ["CATEGORY_NOT_IN_SCOPE"]
    assert answer.reasons[0].message == (
        "The scope of agreement 'EU-Korea ecolabel cooperation', under which Korea Eco-label "
        "recognizes EU Ecolabel, does not cover the category 'Paints and varnishes' (paints)."
    )


def test_scope_entry_naming_the_category_covers_it() -> None:
    a = agreement(
        scope_entries=[
            entry(category_code="paints", equivalent_category_code="k-paints", level=Level.FULL)
        ]
    )

    answer = eu_in("KR", [a])

    assert answer.recognized
    assert answer.routes[0].equivalent_category_code == "k-paints"


def test_hs_code_outside_the_scope_prefixes_is_not_recognized() -> None:
    a = agreement(scope_entries=[entry(hs_prefixes=["3208"])])

    in_scope = eu_in("KR", [a], hs_code="320810")
    out_of_scope = eu_in("KR", [a], hs_code="320910")

    assert in_scope.recognized
    assert reason_codes(out_of_scope) == ["HS_CODE_NOT_IN_SCOPE"]
    assert "only for HS codes 3208, not HS code 320910" in out_of_scope.reasons[0].message


def test_scope_prefix_matches_the_declared_code_either_way() -> None:
    a = agreement(scope_entries=[entry(hs_prefixes=["320810"])])

    assert eu_in("KR", [a], hs_code="3208").recognized
    assert eu_in("KR", [a], hs_code="32081090").recognized
    assert not eu_in("KR", [a], hs_code="320820").recognized


def test_scope_prefixes_are_checked_against_the_certificate_codes_without_declared_code() -> None:
    a = agreement(scope_entries=[entry(hs_prefixes=["3209"])])

    covered = eu_in("KR", [a], cert=certificate(hs_codes=["320910"]))
    not_covered = eu_in("KR", [a], cert=certificate(hs_codes=["3208"]))

    assert covered.recognized
    assert reason_codes(not_covered) == ["HS_CODE_NOT_IN_SCOPE"]
    assert "not the certificate's HS codes (3208)" in not_covered.reasons[0].message


def test_scope_amendments_apply_from_their_own_dates() -> None:
    a = agreement(
        scope_entries=[
            entry(id="v1", level=Level.FULL, valid_from=D(2020, 1, 1), valid_to=D(2023, 12, 31)),
            entry(
                id="v2",
                level=Level.CONDITIONAL,
                valid_from=D(2024, 4, 1),
                category_code="paints",
                conditions=[Condition("VOC content test by a KOLAS laboratory", ("voc-limit",))],
            ),
        ]
    )

    under_v1 = eu_in("KR", [a], on=D(2023, 6, 1))
    gap = eu_in("KR", [a], on=D(2024, 2, 1))
    under_v2 = eu_in("KR", [a], on=D(2024, 6, 1))

    assert under_v1.level is Level.FULL
    assert under_v1.routes[0].scope_entry_id == "v1"
    assert under_v1.valid_until == D(2023, 12, 31)
    assert reason_codes(gap) == ["CATEGORY_NOT_IN_SCOPE"]
    assert gap.valid_until == D(2024, 3, 31)
    assert under_v2.level is Level.CONDITIONAL
    assert under_v2.routes[0].scope_entry_id == "v2"
    assert under_v2.conditions[0].criteria == ("voc-limit",)


def test_a_scope_entry_starting_later_ends_the_current_answer_the_day_before() -> None:
    a = agreement(
        scope_entries=[
            entry(id="now", level=Level.CONDITIONAL),
            entry(id="later", level=Level.FULL, valid_from=D(2025, 9, 1)),
        ]
    )

    answer = eu_in("KR", [a])

    assert answer.level is Level.CONDITIONAL
    assert answer.routes[0].valid_until == D(2027, 12, 31)
    assert answer.valid_until == D(2025, 8, 31)


def test_scope_entry_for_one_recognizing_party_does_not_apply_to_the_others() -> None:
    a = agreement(
        parties=[EU_ECOLABEL, KOREA, JAPAN],
        scope_entries=[entry(recognizing_scheme_id=KOREA)],
    )

    assert eu_in("KR", [a]).recognized
    assert reason_codes(eu_in("JP", [a])) == ["CATEGORY_NOT_IN_SCOPE"]


def test_near_misses_are_reported_even_when_another_route_succeeds() -> None:
    good = agreement(id="a1")
    suspended = agreement(id="a2", status_events=[event("suspended", D(2024, 1, 1))])
    narrow = agreement(id="a3", scope_entries=[entry(category_code="office-paper")])

    answer = eu_in("KR", [good, suspended, narrow])

    assert answer.recognized
    assert [(r.code.value, r.agreement_id) for r in answer.reasons] == [
        ("AGREEMENT_SUSPENDED", "a2"),
        ("CATEGORY_NOT_IN_SCOPE", "a3"),
    ]


def test_negative_explanation_counts_the_other_reasons() -> None:
    suspended = agreement(id="a2", status_events=[event("suspended", D(2024, 1, 1))])
    narrow = agreement(id="a3", scope_entries=[entry(category_code="office-paper")])

    answer = eu_in("KR", [suspended, narrow])

    assert answer.explanation == (
        "Not recognized in KR on 2025-03-01: agreement 'EU-Korea ecolabel cooperation' has "
        "been suspended since 2024-01-01 (1 more reason listed)."
    )


def test_route_valid_until_is_the_earliest_end_on_its_path() -> None:
    a = agreement(
        effective_to=D(2027, 6, 30),
        scope_entries=[entry(valid_to=D(2026, 12, 31))],
        parties=[EU_ECOLABEL, party(KOREA, event("suspended", D(2026, 10, 1)))],
    )

    answer = eu_in("KR", [a])

    assert answer.routes[0].valid_until == D(2026, 9, 30)
    assert answer.valid_until == D(2026, 9, 30)


def test_route_through_a_group_membership_ends_with_the_membership() -> None:
    nordic_recognizes_eu = unilateral(id="n", recognizing=NORDIC, recognized=EU_ECOLABEL)
    groups = [
        group(),
        group(code="NORDEN", members=[membership("IS", D(2020, 1, 1), D(2026, 6, 30))]),
    ]
    schemes = [scheme(id=EU_ECOLABEL), scheme(id=NORDIC, home_economies=("NORDEN",))]
    r = resolver(agreements=[nordic_recognizes_eu], schemes=schemes, groups=groups)

    answer = r.resolve(certificate(), PAINTS, "IS", ON)

    assert answer.recognized
    assert answer.routes[0].valid_until == D(2026, 6, 30)
    assert answer.valid_until == D(2026, 6, 30)


# --- rule 5: chains --------------------------------------------------------------------------


def test_recognition_does_not_chain_by_default() -> None:
    japan_recognizes_korea = unilateral(id="jk", recognizing=JAPAN, recognized=KOREA)
    korea_recognizes_china = unilateral(id="kc", recognizing=KOREA, recognized=CHINA)

    answer = china_in("JP", [japan_recognizes_korea, korea_recognizes_china])

    assert not answer.recognized
    assert answer.routes == ()
    assert reason_codes(answer) == ["NO_AGREEMENT"]


def test_chain_needs_every_agreement_to_allow_chaining() -> None:
    japan_recognizes_korea = unilateral(
        id="jk", recognizing=JAPAN, recognized=KOREA, chaining=ALLOWED
    )
    korea_recognizes_china = unilateral(id="kc", recognizing=KOREA, recognized=CHINA)

    assert china_in("JP", [japan_recognizes_korea, korea_recognizes_china]).routes == ()


def test_chain_through_chaining_allowed_agreements_has_the_weakest_level_and_whole_path() -> None:
    kolas = Condition("VOC content test by a KOLAS laboratory", ("voc-limit",))
    relabel = Condition("Re-labelling in Japanese")
    japan_recognizes_korea = unilateral(
        id="jk",
        title="Japan-Korea arrangement",
        recognizing=JAPAN,
        recognized=KOREA,
        chaining=ALLOWED,
        effective_to=D(2026, 12, 31),
        scope_entries=[
            entry(
                id="jk1", recognized_scheme_id=KOREA, level=Level.CONDITIONAL, conditions=[relabel]
            )
        ],
    )
    korea_recognizes_china = unilateral(
        id="kc",
        recognizing=KOREA,
        recognized=CHINA,
        chaining=ALLOWED,
        scope_entries=[
            entry(
                id="kc1",
                recognized_scheme_id=CHINA,
                level=Level.FULL,
                conditions=[kolas, relabel],
            )
        ],
    )

    answer = china_in("JP", [japan_recognizes_korea, korea_recognizes_china])

    assert answer.recognized
    assert answer.level is Level.CONDITIONAL
    (route,) = answer.routes
    assert [
        (s.agreement_id, s.recognizing_scheme_id, s.recognized_scheme_id) for s in route.path
    ] == [
        ("kc", KOREA, CHINA),
        ("jk", JAPAN, KOREA),
    ]
    assert [s.level for s in route.path] == [Level.FULL, Level.CONDITIONAL]
    assert route.agreement_id == "jk"
    assert route.scope_entry_id == "jk1"
    assert route.recognizing_scheme_id == JAPAN
    assert route.conditions == (kolas, relabel)
    assert route.valid_until == D(2026, 12, 31)
    assert answer.explanation == (
        "Recognized in JP on conditions under a chain of 2 agreements ending with "
        "'Japan-Korea arrangement' (Japan Eco Mark recognizes Korea Eco-label, which "
        "recognizes China Environmental Labelling)."
    )


def chain_of(length: int) -> tuple[list[Agreement], list[str]]:
    """Schemes s0 <- s1 <- ... <- s{length}, each recognizing the previous one."""
    ids = [f"s{i}" for i in range(length + 1)]
    agreements = [
        unilateral(
            id=f"a{i}",
            recognizing=ids[i + 1],
            recognized=ids[i],
            chaining=ALLOWED,
        )
        for i in range(length)
    ]
    return agreements, ids


def test_chain_of_three_agreements_is_followed_but_not_of_four() -> None:
    for length, expected in [(3, True), (4, False)]:
        agreements, ids = chain_of(length)
        schemes = [scheme(id=s, home_economies=(f"X{i}",)) for i, s in enumerate(ids)]
        r = resolver(agreements=agreements, schemes=schemes, groups=[])
        cert = certificate(scheme_id="s0", category_code="c")
        cat = category(scheme_id="s0", code="c")

        answer = r.resolve(cert, cat, f"X{length}", ON)

        assert answer.recognized is expected
        if expected:
            assert len(answer.routes[0].path) == MAX_CHAIN_LENGTH


def test_chain_prefers_the_shorter_path_among_equal_levels() -> None:
    direct = unilateral(id="direct", recognizing=JAPAN, recognized=CHINA, chaining=ALLOWED)
    japan_recognizes_korea = unilateral(
        id="jk", recognizing=JAPAN, recognized=KOREA, chaining=ALLOWED
    )
    korea_recognizes_china = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=ALLOWED
    )

    answer = china_in("JP", [japan_recognizes_korea, korea_recognizes_china, direct])

    assert [len(r.path) for r in answer.routes] == [1, 2]
    assert answer.routes[0].agreement_id == "direct"


def test_chain_step_must_itself_be_valid_on_the_date() -> None:
    japan_recognizes_korea = unilateral(
        id="jk",
        recognizing=JAPAN,
        recognized=KOREA,
        chaining=ALLOWED,
        status_events=[event("suspended", D(2025, 1, 1))],
    )
    korea_recognizes_china = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=ALLOWED
    )

    before = china_in("JP", [japan_recognizes_korea, korea_recognizes_china], on=D(2024, 6, 1))
    after = china_in("JP", [japan_recognizes_korea, korea_recognizes_china])

    assert before.recognized
    assert before.valid_until == D(2024, 12, 31)
    assert not after.recognized
    assert after.valid_until == D(2027, 12, 31)


def test_chain_through_a_multilateral_agreement_does_not_reuse_it() -> None:
    network = agreement(id="net", parties=[JAPAN, KOREA, CHINA], chaining=ALLOWED)

    answer = china_in("JP", [network])

    assert [len(r.path) for r in answer.routes] == [1]


def test_later_chain_step_covers_the_equivalent_category_of_the_previous_step() -> None:
    korea_recognizes_china = unilateral(
        id="kc",
        recognizing=KOREA,
        recognized=CHINA,
        chaining=ALLOWED,
        scope_entries=[
            entry(
                id="kc1",
                recognized_scheme_id=CHINA,
                category_code="hj-2537",
                equivalent_category_code="k-paints",
            )
        ],
    )

    def japan_recognizes_korea_for(category_code: str | None) -> Agreement:
        return unilateral(
            id="jk",
            recognizing=JAPAN,
            recognized=KOREA,
            chaining=ALLOWED,
            scope_entries=[
                entry(id="jk1", recognized_scheme_id=KOREA, category_code=category_code)
            ],
        )

    mapped = china_in("JP", [japan_recognizes_korea_for("k-paints"), korea_recognizes_china])
    any_category = china_in("JP", [japan_recognizes_korea_for(None), korea_recognizes_china])
    other = china_in("JP", [japan_recognizes_korea_for("k-paper"), korea_recognizes_china])

    assert mapped.recognized
    assert any_category.recognized
    assert not other.recognized


def test_later_chain_step_without_a_mapped_category_needs_an_all_categories_entry() -> None:
    korea_recognizes_china = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=ALLOWED
    )
    japan_recognizes_korea = unilateral(
        id="jk",
        recognizing=JAPAN,
        recognized=KOREA,
        chaining=ALLOWED,
        scope_entries=[entry(id="jk1", recognized_scheme_id=KOREA, category_code="hj-2537")],
    )

    assert not china_in("JP", [japan_recognizes_korea, korea_recognizes_china]).recognized


def test_every_chain_step_checks_its_hs_prefixes() -> None:
    korea_recognizes_china = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=ALLOWED
    )
    japan_recognizes_korea = unilateral(
        id="jk",
        recognizing=JAPAN,
        recognized=KOREA,
        chaining=ALLOWED,
        scope_entries=[entry(id="jk1", recognized_scheme_id=KOREA, hs_prefixes=["3208"])],
    )
    agreements = [japan_recognizes_korea, korea_recognizes_china]

    assert china_in("JP", agreements, hs_code="320810").recognized
    assert not china_in("JP", agreements, hs_code="320910").recognized


def test_a_chain_never_visits_a_scheme_twice() -> None:
    agreements = [
        unilateral(id="kc", recognizing=KOREA, recognized=CHINA, chaining=ALLOWED),
        unilateral(id="ck", recognizing=CHINA, recognized=KOREA, chaining=ALLOWED),
        unilateral(id="jk", recognizing=JAPAN, recognized=KOREA, chaining=ALLOWED),
        unilateral(id="kj", recognizing=KOREA, recognized=JAPAN, chaining=ALLOWED),
    ]

    answer = china_in("JP", agreements)

    for route in answer.routes:
        schemes = [CHINA, *(s.recognizing_scheme_id for s in route.path)]
        assert len(schemes) == len(set(schemes))
    assert [[s.agreement_id for s in r.path] for r in answer.routes] == [["kc", "jk"]]


def test_unilateral_agreement_without_its_two_schemes_links_nothing() -> None:
    incomplete = replace(
        unilateral(recognizing=KOREA, recognized=EU_ECOLABEL), recognizing_scheme_id=None
    )

    assert reason_codes(eu_in("KR", [incomplete])) == ["NO_AGREEMENT"]


def test_group_that_is_no_scheme_home_does_not_make_schemes_operative() -> None:
    asean = group(code="ASEAN", name="ASEAN", members=[membership("KR")])
    r = resolver(groups=[group(), asean])

    assert r.operative_schemes("KR", ON) == {KOREA}
    assert r.facts.economies["ASEAN"] is asean
