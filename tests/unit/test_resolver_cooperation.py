"""Cooperation is not recognition: a cooperation agreement never gives a route (domain.md)."""

from __future__ import annotations

from ecolabel_registry.domain.model import Chaining, Level, Purpose
from ecolabel_registry.domain.resolver import ReasonCode
from tests.unit.factories import (
    CHINA,
    EU_ECOLABEL,
    JAPAN,
    KOREA,
    D,
    agreement,
    category,
    certificate,
    event,
    resolver,
    unilateral,
)

PAINTS = category()
ON = D(2025, 3, 1)
COOPERATION = Purpose.COOPERATION


def test_cooperation_agreement_alone_gives_no_route_and_says_so() -> None:
    memorandum = agreement(
        id="mou-eu-kr", title="EU-Korea memorandum of understanding", purpose=COOPERATION
    )

    answer = resolver(agreements=[memorandum]).resolve(certificate(), PAINTS, "KR", ON)

    assert not answer.recognized
    assert answer.routes == ()
    assert [(r.code, r.agreement_id, r.scheme_id) for r in answer.reasons] == [
        (ReasonCode.COOPERATION_ONLY, "mou-eu-kr", KOREA)
    ]
    assert answer.explanation == (
        "Not recognized in KR on 2025-03-01: agreement 'EU-Korea memorandum of understanding' "
        "between Korea Eco-label and EU Ecolabel is a cooperation agreement (a memorandum of "
        "understanding or framework), which recognizes no certificate."
    )
    assert answer.valid_until == D(2027, 12, 31)  # the certificate ends; the agreement never


def test_cooperation_agreement_is_no_route_whatever_its_scope_level_or_status() -> None:
    for status_events in ((), (event("suspended", D(2024, 1, 1)),)):
        memorandum = agreement(id="mou", purpose=COOPERATION, status_events=status_events)
        answer = resolver(agreements=[memorandum]).resolve(certificate(), PAINTS, "KR", ON)
        assert [r.code for r in answer.reasons] == [ReasonCode.COOPERATION_ONLY]


def test_cooperation_beside_a_recognition_agreement_is_not_mentioned() -> None:
    memorandum = agreement(id="mou", purpose=COOPERATION)
    recognition = agreement(id="mra", status_events=[event("suspended", D(2025, 1, 1))])

    answer = resolver(agreements=[memorandum, recognition]).resolve(certificate(), PAINTS, "KR", ON)

    assert [(r.code, r.agreement_id) for r in answer.reasons] == [
        (ReasonCode.AGREEMENT_SUSPENDED, "mra")
    ]
    in_force = resolver(agreements=[memorandum, agreement(id="mra")]).resolve(
        certificate(), PAINTS, "KR", ON
    )
    assert in_force.level is Level.FULL
    assert [r.agreement_id for r in in_force.routes] == ["mra"]
    assert in_force.reasons == ()


def test_cooperation_agreement_never_links_a_chain() -> None:
    china_cert = certificate(scheme_id=CHINA, number="CEC-1", category_code="hj")
    china_paints = category(scheme_id=CHINA, code="hj")
    korea_cooperates_with_china = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=Chaining.ALLOWED, purpose=COOPERATION
    )
    japan_recognizes_korea = unilateral(
        id="jk", recognizing=JAPAN, recognized=KOREA, chaining=Chaining.ALLOWED
    )
    r = resolver(agreements=[korea_cooperates_with_china, japan_recognizes_korea])

    in_japan = r.resolve(china_cert, china_paints, "JP", ON)
    in_korea = r.resolve(china_cert, china_paints, "KR", ON)

    assert in_japan.routes == ()
    assert [r.code for r in in_japan.reasons] == [ReasonCode.NO_AGREEMENT]
    assert [r.code for r in in_korea.reasons] == [ReasonCode.COOPERATION_ONLY]
    # With a recognition agreement instead, the same chain gives a route.
    recognition = unilateral(
        id="kc", recognizing=KOREA, recognized=CHINA, chaining=Chaining.ALLOWED
    )
    chained = resolver(agreements=[recognition, japan_recognizes_korea]).resolve(
        china_cert, china_paints, "JP", ON
    )
    assert chained.level is Level.FULL


def test_cooperation_gives_no_market_and_no_plan_level() -> None:
    memorandum = agreement(id="mou", purpose=COOPERATION)
    r = resolver(agreements=[memorandum])

    markets = r.markets(certificate(), PAINTS, ON, ["DE", "KR"])
    plan = r.plan("3208", ["KR"], ON, [PAINTS])

    assert [t for t, _ in markets] == ["DE"]
    assert plan[0].levels == {"KR": None}
    assert plan[0].recognized_in == ()


def test_multilateral_cooperation_names_each_recognizer() -> None:
    memorandum = agreement(
        id="mou3", parties=[EU_ECOLABEL, KOREA, JAPAN], purpose=COOPERATION, title="Framework"
    )
    r = resolver(agreements=[memorandum])

    for target, recognizer in (("KR", KOREA), ("JP", JAPAN)):
        answer = r.resolve(certificate(), PAINTS, target, ON)
        assert [(x.code, x.scheme_id) for x in answer.reasons] == [
            (ReasonCode.COOPERATION_ONLY, recognizer)
        ]
