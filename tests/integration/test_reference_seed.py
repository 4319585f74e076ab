"""The reference data set, loaded into a migrated database, asked one question per scope entry.

The data tells on itself: a cooperation agreement never recognizes anything, every recognition
names the agreement it rests on, and the seed README's counts are the loader's.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import (
    Agreement,
    CertificateTerms,
    Level,
    ProductCategory,
    Purpose,
    ScopeEntry,
)
from ecolabel_registry.domain.resolver import Answer, ReasonCode, Resolver
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.seed import loader
from ecolabel_registry.seed.loader import agreement_start, load_reference, reference_data

README = Path(loader.__file__).with_name("README.md")


def _load(
    registry: SqlRegistry, session: Session
) -> tuple[Resolver, dict[tuple[str, str], ProductCategory], list[Agreement]]:
    load_reference(registry)
    facts, categories, _ = SqlFacts(session).load()
    titles = {a["title"] for a in reference_data()["agreements"]}
    loaded = [a for a in facts.agreements if a.title in titles]
    return Resolver(facts), categories, loaded


def _category(
    categories: dict[tuple[str, str], ProductCategory], scheme_id: str, code: str | None
) -> ProductCategory:
    """The stored category the entry names, or a stand-in for an entry of every category."""
    if code is not None:
        return categories[(scheme_id, code)]
    return ProductCategory(
        scheme_id, "self-test", "Any category", "1", dt.date(1990, 1, 1), None, ("8443",)
    )


def _ask(
    resolver: Resolver,
    category: ProductCategory,
    recognizing: str,
    on: dt.date,
) -> tuple[str, Answer]:
    """A certificate of `category`, valid on `on`, asked about where `recognizing` is at home."""
    terms = CertificateTerms(
        category.scheme_id,
        "SELF-TEST-1",
        category.code,
        on - dt.timedelta(days=30),
        on + dt.timedelta(days=365),
        (),
        (),
    )
    target = resolver.facts.schemes[recognizing].home_economies[0]
    return target, resolver.resolve(terms, category, target, on)


def _recognizers(agreement: Agreement, entry: ScopeEntry) -> list[str]:
    if entry.recognizing_scheme_id is not None:
        return [entry.recognizing_scheme_id]
    if agreement.recognizing_scheme_id is not None:
        return [agreement.recognizing_scheme_id]
    return sorted(agreement.party_ids - {entry.recognized_scheme_id})


def test_every_dated_agreement_of_the_file_is_loaded(
    registry: SqlRegistry, session: Session
) -> None:
    _, _, loaded = _load(registry, session)
    dated = [a for a in reference_data()["agreements"] if agreement_start(a) is not None]
    assert sorted(a.title for a in loaded) == sorted(a["title"] for a in dated)
    ended = {a.title: a.effective_to for a in loaded if a.effective_to is not None}
    assert dt.date(2018, 2, 20) in ended.values()


def test_each_scope_entry_gives_its_level_and_names_its_agreement(
    registry: SqlRegistry, session: Session
) -> None:
    resolver, categories, loaded = _load(registry, session)
    asked = 0
    for agreement in loaded:
        if agreement.purpose is Purpose.COOPERATION:
            assert agreement.scope_entries == (), agreement.title
            continue
        assert agreement.scope_entries, agreement.title
        for entry in agreement.scope_entries:
            category = _category(categories, entry.recognized_scheme_id, entry.category_code)
            on = max(entry.valid_from, category.valid_from)
            assert agreement.effective_to is None or on <= agreement.effective_to
            for recognizing in _recognizers(agreement, entry):
                target, answer = _ask(resolver, category, recognizing, on)
                where = f"{agreement.title}: {entry.recognized_scheme_id} in {target} on {on}"
                assert answer.level == entry.level, f"{where}: {answer.explanation}"
                # Accepted assessment results are an answer with a level, not a recognition.
                assert answer.recognized is (entry.level is not Level.ASSESSMENT_RESULTS), where
                assert any(route.agreement_id == agreement.id for route in answer.routes), where
                asked += 1
    assert asked >= 20


def test_a_cooperation_agreement_never_recognizes(registry: SqlRegistry, session: Session) -> None:
    resolver, _, loaded = _load(registry, session)
    cooperation = [a for a in loaded if a.purpose is Purpose.COOPERATION]
    assert len(cooperation) >= 3
    for agreement in cooperation:
        for recognized in sorted(agreement.party_ids):
            category = _category({}, recognized, None)
            for recognizing in sorted(agreement.party_ids - {recognized}):
                target, answer = _ask(resolver, category, recognizing, agreement.effective_from)
                where = f"{agreement.title}: {recognized} in {target}"
                assert not answer.recognized, f"{where}: {answer.explanation}"
                assert answer.level is None, where
                assert any(
                    r.code is ReasonCode.COOPERATION_ONLY and r.agreement_id == agreement.id
                    for r in answer.reasons
                ), where


def test_an_agreement_that_ended_gives_no_route_after_its_end(
    registry: SqlRegistry, session: Session
) -> None:
    resolver, _, loaded = _load(registry, session)
    [energy_star] = [a for a in loaded if "ENERGY STAR" in a.title]
    category = _category({}, "energy-star", None)
    _, before = _ask(resolver, category, "eu-energy-star", dt.date(2018, 2, 20))
    _, after = _ask(resolver, category, "eu-energy-star", dt.date(2018, 2, 21))
    assert before.recognized
    assert not after.recognized
    assert energy_star.effective_to == dt.date(2018, 2, 20)


def test_the_seed_readme_gives_the_loaders_counts(registry: SqlRegistry) -> None:
    report = load_reference(registry)
    text = README.read_text("utf-8")
    stated = re.search(
        r"loads (\d+) groups, (\d+) schemes, (\d+) categories and (\d+) of the (\d+) agreements "
        r"\((\d+) recognition, (\d+) cooperation\); it leaves out (\d+)",
        " ".join(text.split()),
    )
    assert stated is not None, "the README states the counts"
    groups, schemes, categories, loaded, total, recognition, cooperation, left = map(
        int, stated.groups()
    )
    data = reference_data()
    dated = [a for a in data["agreements"] if agreement_start(a) is not None]
    assert report.added == {
        "groups": groups,
        "schemes": schemes,
        "categories": categories,
        "agreements": loaded,
    }
    assert sum(report.left_out.values()) == left == total - loaded
    assert len(data["agreements"]) == total
    assert sum(a.get("purpose") == "cooperation" for a in dated) == cooperation
    assert recognition + cooperation == loaded
