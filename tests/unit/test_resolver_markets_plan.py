"""The resolver beyond the single question: markets of a certificate, and planning."""

from __future__ import annotations

from ecolabel_registry.domain.model import Chaining, Level
from tests.unit.factories import (
    BLUE_ANGEL,
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
    resolver,
    unilateral,
)

PAINTS = category()
ON = D(2025, 3, 1)
TARGETS = ["CN", "DE", "FR", "GB", "JP", "KR", "SE", "US"]


def test_markets_lists_every_economy_with_a_level_sorted_by_code() -> None:
    r = resolver(
        agreements=[
            agreement(id="eu-kr"),
            agreement(
                id="eu-jp",
                parties=[EU_ECOLABEL, JAPAN],
                scope_entries=[entry(level=Level.ASSESSMENT_RESULTS)],
            ),
            agreement(
                id="eu-cn",
                parties=[EU_ECOLABEL, CHINA],
                status_events=[event("suspended", D(2025, 1, 1))],
            ),
        ]
    )

    markets = r.markets(certificate(), PAINTS, ON, reversed(TARGETS))

    assert [(t, a.level) for t, a in markets] == [
        ("DE", Level.NATIVE),
        ("FR", Level.NATIVE),
        ("JP", Level.ASSESSMENT_RESULTS),
        ("KR", Level.FULL),
    ]
    assert [t for t, a in markets if a.recognized] == ["DE", "FR", "KR"]


def test_markets_give_the_same_answers_as_single_queries() -> None:
    r = resolver(
        agreements=[
            agreement(id="eu-kr", effective_to=D(2026, 6, 30)),
            unilateral(id="jk", recognizing=JAPAN, recognized=KOREA, chaining=Chaining.ALLOWED),
            unilateral(
                id="ke", recognizing=KOREA, recognized=EU_ECOLABEL, chaining=Chaining.ALLOWED
            ),
            agreement(
                id="eu-nordic",
                parties=[EU_ECOLABEL, NORDIC],
                scope_entries=[entry(category_code="office-paper")],
            ),
        ]
    )
    cert = certificate()

    markets = dict(r.markets(cert, PAINTS, ON, TARGETS))

    for target in TARGETS:
        single = r.resolve(cert, PAINTS, target, ON)
        if single.level is None:
            assert target not in markets
        else:
            assert markets[target] == single


def test_markets_of_a_certificate_that_does_not_hold_are_empty() -> None:
    suspended = certificate(status_events=[event("suspended", D(2025, 1, 1))])

    assert resolver(agreements=[agreement()]).markets(suspended, PAINTS, ON, TARGETS) == []


def test_markets_of_no_target_are_empty() -> None:
    assert resolver().markets(certificate(), PAINTS, ON, []) == []


def test_plan_ranks_schemes_by_the_number_of_targets_recognized() -> None:
    r = resolver(
        agreements=[
            unilateral(id="kr-eu", recognizing=KOREA, recognized=EU_ECOLABEL),
            unilateral(id="jp-eu", recognizing=JAPAN, recognized=EU_ECOLABEL),
            agreement(
                id="kr-jp",
                parties=[KOREA, JAPAN],
                scope_entries=[entry(recognized_scheme_id=KOREA, level=Level.CONDITIONAL)],
            ),
        ]
    )
    categories = [
        category(),
        category(scheme_id=KOREA, code="k-paints", hs_codes=["3208"]),
        category(scheme_id=JAPAN, code="j-paints", hs_codes=["320810"]),
        category(scheme_id=BLUE_ANGEL, code="de-uz-12a", hs_codes=["3209"]),
    ]

    options = r.plan("320810", ["KR", "JP", "DE"], ON, categories)

    assert [(o.scheme_id, o.recognized_in) for o in options] == [
        (EU_ECOLABEL, ("KR", "JP", "DE")),
        (KOREA, ("KR", "JP")),
        (JAPAN, ("JP",)),
    ]
    eu, korea, japan = options
    assert eu.levels == {"KR": Level.FULL, "JP": Level.FULL, "DE": Level.NATIVE}
    assert eu.score == 3 + 3 + 4
    assert korea.levels == {"KR": Level.NATIVE, "JP": Level.CONDITIONAL, "DE": None}
    assert japan.levels == {"KR": None, "JP": Level.NATIVE, "DE": None}


def test_plan_breaks_ties_by_level_strength_then_scheme_id() -> None:
    r = resolver(
        agreements=[
            agreement(
                id="kr-cn",
                parties=[KOREA, CHINA],
                scope_entries=[entry(recognized_scheme_id=CHINA, level=Level.CONDITIONAL)],
            ),
            agreement(
                id="kr-jp",
                parties=[KOREA, JAPAN],
                scope_entries=[entry(recognized_scheme_id=JAPAN, level=Level.FULL)],
            ),
            agreement(
                id="kr-eu",
                parties=[KOREA, EU_ECOLABEL],
                scope_entries=[entry(recognized_scheme_id=EU_ECOLABEL, level=Level.FULL)],
            ),
        ]
    )
    categories = [
        category(scheme_id=CHINA, code="c"),
        category(scheme_id=JAPAN, code="j"),
        category(scheme_id=EU_ECOLABEL, code="e"),
    ]

    options = r.plan("3208", ["KR"], ON, categories)

    assert [(o.scheme_id, o.score) for o in options] == [
        (EU_ECOLABEL, 3),
        (JAPAN, 3),
        (CHINA, 2),
    ]


def test_plan_keeps_the_best_category_of_each_scheme() -> None:
    r = resolver(
        agreements=[
            agreement(
                scope_entries=[
                    entry(category_code="paints", level=Level.CONDITIONAL),
                    entry(category_code="varnishes", level=Level.FULL),
                ]
            )
        ]
    )
    categories = [category(code="paints"), category(code="varnishes")]

    (option,) = r.plan("3208", ["KR"], ON, categories)

    assert option.category_code == "varnishes"
    assert option.levels == {"KR": Level.FULL}


def test_plan_considers_only_categories_valid_on_the_date_that_cover_the_hs_code() -> None:
    r = resolver(agreements=[agreement()])
    categories = [
        category(code="old", valid_to=D(2024, 12, 31)),
        category(code="future", valid_from=D(2026, 1, 1)),
        category(code="paper", hs_codes=["4802"]),
        category(code="paints", hs_codes=["32"]),
    ]

    options = r.plan("320810", ["KR"], ON, categories)

    assert [(o.scheme_id, o.category_code) for o in options] == [(EU_ECOLABEL, "paints")]


def test_plan_lists_schemes_recognized_nowhere_last() -> None:
    categories = [category(scheme_id=CHINA, code="c"), category()]

    options = resolver(agreements=[agreement()]).plan("3208", ["KR", "US"], ON, categories)

    assert [(o.scheme_id, o.recognized_in) for o in options] == [
        (EU_ECOLABEL, ("KR",)),
        (CHINA, ()),
    ]
    assert options[1].levels == {"KR": None, "US": None}
