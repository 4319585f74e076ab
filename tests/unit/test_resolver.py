"""The resolver's rules 1-3 and 6: the certificate, its HS codes, native recognition, the answer."""

from __future__ import annotations

import pytest

from ecolabel_registry.domain.model import Condition, Level
from ecolabel_registry.domain.resolver import ReasonCode
from ecolabel_registry.domain.validation import hs_match
from tests.unit.factories import (
    BLUE_ANGEL,
    CHINA,
    EU_ECOLABEL,
    KOREA,
    D,
    agreement,
    category,
    certificate,
    entry,
    event,
    group,
    membership,
    resolver,
    scheme,
)

PAINTS = category()


def codes(answer_reasons: tuple[object, ...]) -> list[str]:
    return [str(getattr(r, "code", "")) for r in answer_reasons]


# --- rule 1: the certificate must hold on D --------------------------------------------------


def test_certificate_not_yet_valid_is_not_recognized_until_the_day_before_valid_from() -> None:
    answer = resolver().resolve(certificate(valid_from=D(2025, 6, 1)), PAINTS, "DE", D(2025, 3, 1))

    assert not answer.recognized
    assert answer.level is None
    assert answer.routes == ()
    assert codes(answer.reasons) == ["CERTIFICATE_NOT_YET_VALID"]
    assert answer.valid_until == D(2025, 5, 31)
    assert answer.explanation == (
        "Not recognized in DE on 2025-03-01: the certificate is valid only from 2025-06-01."
    )


def test_expired_certificate_is_not_recognized_and_nothing_ends_that() -> None:
    answer = resolver().resolve(certificate(valid_to=D(2024, 12, 31)), PAINTS, "DE", D(2025, 1, 1))

    assert answer.level is None
    assert codes(answer.reasons) == ["CERTIFICATE_EXPIRED"]
    assert answer.valid_until is None
    assert "expired on 2024-12-31" in answer.explanation


def test_certificate_window_is_inclusive_at_both_ends() -> None:
    cert = certificate(valid_from=D(2023, 1, 1), valid_to=D(2027, 12, 31))
    r = resolver()

    assert r.resolve(cert, PAINTS, "DE", D(2023, 1, 1)).recognized
    assert r.resolve(cert, PAINTS, "DE", D(2027, 12, 31)).recognized
    assert not r.resolve(cert, PAINTS, "DE", D(2022, 12, 31)).recognized
    assert not r.resolve(cert, PAINTS, "DE", D(2028, 1, 1)).recognized


def test_withdrawn_certificate_is_not_recognized() -> None:
    cert = certificate(status_events=[event("withdrawn", D(2024, 5, 2))])

    answer = resolver().resolve(cert, PAINTS, "DE", D(2025, 1, 1))

    assert codes(answer.reasons) == ["CERTIFICATE_WITHDRAWN"]
    assert answer.explanation == (
        "Not recognized in DE on 2025-01-01: the certificate was withdrawn on 2024-05-02."
    )
    assert answer.valid_until == D(2027, 12, 31)  # then it is expired instead


def test_suspended_certificate_is_recognized_before_not_during_and_again_after_reinstatement() -> (
    None
):
    cert = certificate(
        status_events=[
            event("active", D(2023, 1, 1)),
            event("suspended", D(2025, 2, 10)),
            event("active", D(2025, 4, 1)),
        ]
    )
    r = resolver()

    before = r.resolve(cert, PAINTS, "DE", D(2025, 1, 15))
    during = r.resolve(cert, PAINTS, "DE", D(2025, 3, 1))
    after = r.resolve(cert, PAINTS, "DE", D(2025, 5, 1))

    assert before.recognized
    assert before.valid_until == D(2025, 2, 9)
    assert before.routes[0].valid_until == D(2025, 2, 9)
    assert not during.recognized
    assert codes(during.reasons) == ["CERTIFICATE_SUSPENDED"]
    assert during.valid_until == D(2025, 3, 31)
    assert during.explanation == (
        "Not recognized in DE on 2025-03-01: the certificate was suspended on 2025-02-10."
    )
    assert after.recognized
    assert after.valid_until == D(2027, 12, 31)


def test_status_event_that_repeats_the_current_status_does_not_end_the_answer() -> None:
    cert = certificate(
        status_events=[event("active", D(2023, 1, 1)), event("active", D(2026, 1, 1))]
    )

    answer = resolver().resolve(cert, PAINTS, "DE", D(2025, 1, 1))

    assert answer.valid_until == D(2027, 12, 31)


def test_status_with_no_event_effective_yet_is_active() -> None:
    cert = certificate(status_events=[event("suspended", D(2026, 1, 1))])

    answer = resolver().resolve(cert, PAINTS, "DE", D(2025, 1, 1))

    assert answer.recognized
    assert answer.valid_until == D(2025, 12, 31)


def test_expired_criteria_block_recognition() -> None:
    old_paints = category(criteria_version="2008/v1", valid_to=D(2024, 6, 30))

    answer = resolver().resolve(certificate(), old_paints, "DE", D(2025, 1, 1))

    assert codes(answer.reasons) == ["CRITERIA_EXPIRED"]
    assert answer.valid_until == D(2027, 12, 31)
    assert "criteria of category 'Paints and varnishes' (version 2008/v1) expired" in (
        answer.explanation
    )


def test_criteria_not_yet_applicable_are_reported_as_criteria_expired_until_they_apply() -> None:
    new_paints = category(valid_from=D(2025, 7, 1))

    answer = resolver().resolve(certificate(), new_paints, "DE", D(2025, 1, 1))

    assert codes(answer.reasons) == ["CRITERIA_EXPIRED"]
    assert answer.valid_until == D(2025, 6, 30)


def test_certificate_checks_apply_in_the_order_of_rule_one() -> None:
    r = resolver()
    old_paints = category(valid_to=D(2024, 6, 30))
    expired_and_suspended = certificate(
        valid_to=D(2024, 12, 31), status_events=[event("suspended", D(2024, 1, 1))]
    )
    suspended = certificate(status_events=[event("suspended", D(2024, 1, 1))])

    expired = r.resolve(expired_and_suspended, old_paints, "DE", D(2025, 1, 1))
    suspended_answer = r.resolve(suspended, old_paints, "DE", D(2025, 1, 1))

    assert codes(expired.reasons) == ["CERTIFICATE_EXPIRED"]
    assert codes(suspended_answer.reasons) == ["CERTIFICATE_SUSPENDED"]


def test_category_of_another_scheme_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="is not the category of"):
        resolver().resolve(certificate(), category(scheme_id=KOREA), "DE", D(2025, 1, 1))


# --- rule 2: the HS code must be the certificate's -------------------------------------------


@pytest.mark.parametrize(
    ("certificate_code", "declared"),
    [("3208", "320810"), ("320810", "3208"), ("3208", "3208")],
)
def test_certificate_hs_code_matches_declared_code_by_prefix_either_way(
    certificate_code: str, declared: str
) -> None:
    cert = certificate(hs_codes=[certificate_code])

    answer = resolver().resolve(cert, PAINTS, "DE", D(2025, 1, 1), hs_code=declared)

    assert answer.recognized


def test_declared_hs_code_outside_the_certificate_is_not_covered() -> None:
    cert = certificate(hs_codes=["3208"])

    answer = resolver().resolve(cert, PAINTS, "DE", D(2025, 1, 1), hs_code="320910")

    assert not answer.recognized
    assert codes(answer.reasons) == ["HS_CODE_NOT_COVERED_BY_CERTIFICATE"]
    assert answer.valid_until == D(2027, 12, 31)
    assert "HS code 320910 is not covered by the certificate (HS 3208)" in answer.explanation


def test_category_hs_codes_apply_when_the_certificate_has_none() -> None:
    r = resolver()

    assert r.resolve(certificate(), PAINTS, "DE", D(2025, 1, 1), hs_code="320990").recognized
    assert not r.resolve(certificate(), PAINTS, "DE", D(2025, 1, 1), hs_code="8471").recognized


def test_hs_prefix_match_is_symmetric_and_requires_a_common_prefix() -> None:
    assert hs_match("3208", "320810")
    assert hs_match("320810", "3208")
    assert not hs_match("3208", "3209")
    assert not hs_match("320810", "320820")


# --- rule 3: native --------------------------------------------------------------------------


def test_native_through_home_economy() -> None:
    china_paints = category(scheme_id=CHINA, code="hj-2537")
    cert = certificate(scheme_id=CHINA, number="CEC-1", category_code="hj-2537")

    answer = resolver().resolve(cert, china_paints, "CN", D(2025, 1, 1))

    assert answer.recognized
    assert answer.level is Level.NATIVE
    (route,) = answer.routes
    assert route.basis == "native"
    assert route.recognizing_scheme_id == CHINA
    assert route.agreement_id is None
    assert route.path == ()
    assert answer.explanation == ("Native in CN: China Environmental Labelling is operative in CN.")


def test_native_through_group_membership() -> None:
    answer = resolver().resolve(certificate(), PAINTS, "DE", D(2025, 1, 1))

    assert answer.recognized
    assert answer.level is Level.NATIVE
    assert answer.reasons == ()
    assert answer.valid_until == D(2027, 12, 31)
    assert (
        answer.explanation
        == "Native in DE: EU Ecolabel is operative in EU, of which DE is a member."
    )


def test_native_through_membership_ends_when_the_member_leaves_the_group() -> None:
    cert = certificate(valid_from=D(2019, 1, 1))
    r = resolver()

    last_day = r.resolve(cert, PAINTS, "GB", D(2020, 1, 31))
    after_exit = r.resolve(cert, PAINTS, "GB", D(2020, 2, 1))

    assert last_day.level is Level.NATIVE
    assert last_day.valid_until == D(2020, 1, 31)
    assert last_day.routes[0].valid_until == D(2020, 1, 31)
    assert not after_exit.recognized
    assert codes(after_exit.reasons) == ["NO_AGREEMENT"]
    assert "no scheme in the registry is operative in GB" in after_exit.explanation


def test_native_in_the_group_itself() -> None:
    answer = resolver().resolve(certificate(), PAINTS, "EU", D(2025, 1, 1))

    assert answer.level is Level.NATIVE
    assert answer.explanation == "Native in EU: EU Ecolabel is operative in EU."


def test_a_future_membership_in_another_home_group_bounds_the_native_answer() -> None:
    eea = group(
        code="EEA", name="European Economic Area", members=[membership("GB", D(2020, 1, 1))]
    )
    schemes = [scheme(id=EU_ECOLABEL, home_economies=("EU", "EEA"))]
    cert = certificate(valid_from=D(2019, 1, 1))
    r = resolver(schemes=schemes, groups=[group(), eea])

    before = r.resolve(cert, PAINTS, "GB", D(2019, 6, 1))
    after = r.resolve(cert, PAINTS, "GB", D(2020, 1, 15))

    assert before.routes[0].valid_until == D(2020, 1, 31)
    assert before.valid_until == D(2019, 12, 31)
    assert after.routes[0].valid_until == D(2027, 12, 31)
    assert "operative in EEA" in after.explanation


def test_operative_schemes_follow_homes_and_memberships_on_the_date() -> None:
    r = resolver()

    assert r.operative_schemes("DE", D(2025, 1, 1)) == {EU_ECOLABEL, BLUE_ANGEL}
    assert r.operative_schemes("GB", D(2019, 1, 1)) == {EU_ECOLABEL}
    assert r.operative_schemes("GB", D(2021, 1, 1)) == frozenset()
    assert r.operative_schemes("KR", D(2021, 1, 1)) == {KOREA}


def test_native_answer_ends_with_the_certificate_the_criteria_or_a_future_status_change() -> None:
    r = resolver()
    short_criteria = category(valid_to=D(2026, 3, 31))
    cert = certificate(status_events=[event("withdrawn", D(2026, 9, 1))])

    assert r.resolve(certificate(), short_criteria, "DE", D(2025, 1, 1)).valid_until == D(
        2026, 3, 31
    )
    assert r.resolve(cert, PAINTS, "DE", D(2025, 1, 1)).valid_until == D(2026, 8, 31)


def test_native_recognition_needs_no_agreement_and_ignores_agreement_misses() -> None:
    suspended = agreement(status_events=[event("suspended", D(2024, 1, 1))])

    answer = resolver(agreements=[suspended]).resolve(certificate(), PAINTS, "DE", D(2025, 1, 1))

    assert answer.level is Level.NATIVE
    assert answer.reasons == ()


# --- rule 6: the answer ----------------------------------------------------------------------


def test_full_and_conditional_are_recognized_assessment_results_is_not() -> None:
    for level, recognized in [
        (Level.FULL, True),
        (Level.CONDITIONAL, True),
        (Level.ASSESSMENT_RESULTS, False),
    ]:
        a = agreement(scope_entries=[entry(level=level)])

        answer = resolver(agreements=[a]).resolve(certificate(), PAINTS, "KR", D(2025, 1, 1))

        assert answer.level is level
        assert answer.recognized is recognized
        assert len(answer.routes) == 1


def test_assessment_results_route_is_shown_although_not_recognized() -> None:
    a = agreement(
        title="EU-Korea proxy examination",
        scope_entries=[
            entry(
                level=Level.ASSESSMENT_RESULTS,
                conditions=[Condition("Certify with Korea Eco-label using the EU test reports")],
            )
        ],
    )

    answer = resolver(agreements=[a]).resolve(certificate(), PAINTS, "KR", D(2025, 1, 1))

    assert not answer.recognized
    assert answer.level is Level.ASSESSMENT_RESULTS
    assert answer.routes[0].agreement_id == "a-eu-kr"
    assert answer.conditions == (
        Condition("Certify with Korea Eco-label using the EU test reports"),
    )
    assert answer.explanation.startswith("Not recognized in KR, but the assessment results")


def test_best_route_has_the_strongest_level() -> None:
    conditional = agreement(id="a1", scope_entries=[entry(id="c", level=Level.CONDITIONAL)])
    full = agreement(id="a2", scope_entries=[entry(id="f", level=Level.FULL)])
    results = agreement(id="a0", scope_entries=[entry(id="r", level=Level.ASSESSMENT_RESULTS)])

    answer = resolver(agreements=[conditional, full, results]).resolve(
        certificate(), PAINTS, "KR", D(2025, 1, 1)
    )

    assert answer.level is Level.FULL
    assert [r.agreement_id for r in answer.routes] == ["a2", "a1", "a0"]


def test_among_equal_levels_the_route_ending_later_wins_then_the_agreement_id() -> None:
    ends_soon = agreement(id="a1", effective_to=D(2025, 6, 30))
    open_ended = agreement(id="a2")
    also_open = agreement(id="a3")

    answer = resolver(agreements=[ends_soon, also_open, open_ended]).resolve(
        certificate(), PAINTS, "KR", D(2025, 1, 1)
    )

    assert [r.agreement_id for r in answer.routes] == ["a2", "a3", "a1"]
    assert answer.routes[0].valid_until == D(2027, 12, 31)
    # a1 ending changes the set of routes, so the answer as a whole holds until then
    assert answer.valid_until == D(2025, 6, 30)


def test_conditions_are_those_of_the_best_route() -> None:
    voc = Condition("VOC content test by a KOLAS laboratory", ("voc-limit",))
    a = agreement(scope_entries=[entry(level=Level.CONDITIONAL, conditions=[voc])])

    answer = resolver(agreements=[a]).resolve(certificate(), PAINTS, "KR", D(2025, 1, 1))

    assert answer.recognized
    assert answer.conditions == (voc,)
    assert answer.routes[0].conditions == (voc,)
    assert answer.explanation == (
        "Recognized in KR on conditions under agreement 'EU-Korea ecolabel cooperation' "
        "(Korea Eco-label recognizes EU Ecolabel)."
    )


def test_full_recognition_is_explained_as_equivalent() -> None:
    answer = resolver(agreements=[agreement()]).resolve(certificate(), PAINTS, "KR", D(2025, 1, 1))

    assert answer.explanation == (
        "Recognized in KR as equivalent under agreement 'EU-Korea ecolabel cooperation' "
        "(Korea Eco-label recognizes EU Ecolabel)."
    )


def test_the_query_date_never_defaults_to_the_clock() -> None:
    cert = certificate(valid_from=D(2001, 1, 1), valid_to=D(2002, 12, 31))

    answer = resolver().resolve(cert, category(valid_from=D(2000, 1, 1)), "DE", D(2002, 6, 1))

    assert answer.recognized
    assert answer.valid_until == D(2002, 12, 31)


def test_reason_codes_are_the_closed_list_of_the_domain() -> None:
    assert [code.value for code in ReasonCode] == [
        "CERTIFICATE_NOT_YET_VALID",
        "CERTIFICATE_EXPIRED",
        "CERTIFICATE_SUSPENDED",
        "CERTIFICATE_WITHDRAWN",
        "CRITERIA_EXPIRED",
        "HS_CODE_NOT_COVERED_BY_CERTIFICATE",
        "NO_AGREEMENT",
        "COOPERATION_ONLY",
        "AGREEMENT_NOT_IN_FORCE",
        "AGREEMENT_SUSPENDED",
        "PARTY_SUSPENDED",
        "CATEGORY_NOT_IN_SCOPE",
        "HS_CODE_NOT_IN_SCOPE",
    ]
    assert all(code.value == code.name for code in ReasonCode)


def test_certificate_reasons_name_the_certificate_scheme() -> None:
    answer = resolver().resolve(certificate(valid_to=D(2024, 1, 1)), PAINTS, "DE", D(2025, 1, 1))

    (reason,) = answer.reasons
    assert reason.scheme_id == EU_ECOLABEL
    assert reason.agreement_id is None
    assert reason.message == "The certificate expired on 2024-01-01."
