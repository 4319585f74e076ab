"""The data sets shipped in the package: real schemes, each fact with its source; the demo
registry, invented and saying so."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from typing import Any
from urllib.parse import urlparse

import pycountry
import pytest
from pydantic import TypeAdapter, ValidationError

from ecolabel_registry.domain.model import Purpose, SchemeType
from ecolabel_registry.domain.validation import is_slug
from ecolabel_registry.seed.loader import (
    DemoData,
    agreement_reference,
    agreement_start,
    demo_data,
    reference_data,
)

DATA: dict[str, Any] = reference_data()
GROUPS = {g["code"] for g in DATA["groups"]}
COUNTRIES = {c.alpha_2 for c in pycountry.countries}
FACTS = ("name", "operator", "home_economies", "type", "website")
# Hosts of news, encyclopaedia, trade-press and copy sites: a fact sourced only there is
# listed in the scheme's `unverified`.
THIRD_PARTY = {
    "1library.org",
    "baodanang.vn",
    "buro-facile.fr",
    "chemycal.com",
    "clubedaembalagem.com.br",
    "consoglobe.com",
    "designingbuildings.co.uk",
    "en.tempo.co",
    "en.wikipedia.org",
    "epea.com",
    "gbdmagazine.com",
    "humusz.hu",
    "issuu.com.",
    "katadata.co.id",
    "lawnotes.in",
    "n1info.hr",
    "patouch.com",
    "ppb.uk.com",
    "recs.org",
    "spapure.vn",
    "spherevictory.com",
    "stockwatchindex.com",
    "sustainability.chemlinked.com",
    "swedchamtw.org",
    "vacne.org.vn",
    "vbcsd.vn",
    "vietnamnews.vn",
    "what-when-how.com",
    "wiki.aud.io.vn",
    "www.dtest.cz",
    "www.everycrsreport.com",
    "www.finanznachrichten.de",
    "www.narodniportal.cz",
    "www.oneplanetnetwork.org",
    "www.printweek.in",
    "www.recyclingmagazin.de",
    "www.sesec.eu",
}
AGREEMENT_FACTS = {"signed_on", "effective_from", "effective_to", "level", "direction"}


def test_at_least_forty_schemes_with_unique_slugs() -> None:
    ids = [s["id"] for s in DATA["schemes"]]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)
    assert all(is_slug(i) for i in ids)


def test_every_scheme_fact_names_a_public_source_or_is_marked_unverified() -> None:
    for scheme in DATA["schemes"]:
        for fact in FACTS:
            if fact == "website" and scheme["website"] is None:
                continue
            source = scheme["sources"].get(fact)
            if source is None:
                assert fact in scheme.get("unverified", []), f"{scheme['id']}: {fact}"
            else:
                assert source.startswith(("https://", "http://")), f"{scheme['id']}: {fact}"


def test_home_economies_are_iso_countries_or_the_files_groups() -> None:
    for scheme in DATA["schemes"]:
        assert scheme["home_economies"], scheme["id"]
        for code in scheme["home_economies"]:
            assert code in COUNTRIES | GROUPS, f"{scheme['id']}: {code}"
        SchemeType(scheme["type"])


def test_group_memberships_are_countries_or_earlier_groups_with_ordered_windows() -> None:
    listed: set[str] = set()
    for group in DATA["groups"]:
        assert group["source"].startswith("http")
        for m in group["members"]:
            assert m["member"] in COUNTRIES | listed, f"{group['code']}: {m['member']}"
            start = dt.date.fromisoformat(m["valid_from"])
            assert m["valid_to"] is None or dt.date.fromisoformat(m["valid_to"]) >= start
        listed.add(group["code"])


def test_united_kingdom_left_the_eu_on_31_january_2020() -> None:
    eu = next(g for g in DATA["groups"] if g["code"] == "EU")
    gb = [m for m in eu["members"] if m["member"] == "GB"]
    assert gb == [{"member": "GB", "valid_from": "1973-01-01", "valid_to": "2020-01-31"}]


def test_agreements_name_known_schemes_and_a_source() -> None:
    ids = {s["id"] for s in DATA["schemes"]}
    for agreement in DATA["agreements"]:
        assert set(agreement["parties"]) <= ids, agreement["title"]
        assert agreement["source"].startswith("http"), agreement["title"]


def test_memoranda_and_frameworks_are_marked_cooperation() -> None:
    purposes = {a["title"]: a.get("purpose", "recognition") for a in DATA["agreements"]}
    assert set(purposes.values()) <= {p.value for p in Purpose}
    memoranda = {t for t in purposes if "Memorandum of Understanding" in t or " MoU " in t}
    assert memoranda
    assert all(purposes[t] == "cooperation" for t in memoranda)


def test_facts_sourced_only_from_third_party_pages_are_unverified() -> None:
    for scheme in DATA["schemes"]:
        for fact, url in scheme["sources"].items():
            if urlparse(url).netloc in THIRD_PARTY:
                assert fact in scheme.get("unverified", []), f"{scheme['id']}: {fact} ({url})"


def test_operators_carry_the_ministries_names_of_today() -> None:
    operators = {s["id"]: s["operator"] for s in DATA["schemes"]}
    today = {
        "blue-angel": "Federal Ministry for the Environment, Climate Action, Nature Conservation",
        "korea-eco-label": "Ministry of Climate, Energy and Environment",
        "ecolabel-indonesia": "Ministry of Environment / Environmental Control Agency",
        "vietnam-green-label": "Ministry of Agriculture and Environment",
        "croatia-environmentally-friendly": "Ministry of Environmental Protection and Green",
    }
    for scheme_id, name in today.items():
        assert name in operators[scheme_id], scheme_id


def test_timor_leste_is_an_asean_member_from_26_october_2025() -> None:
    asean = next(g for g in DATA["groups"] if g["code"] == "ASEAN")
    tl = [m for m in asean["members"] if m["member"] == "TL"]
    assert tl == [{"member": "TL", "valid_from": "2025-10-26", "valid_to": None}]


def test_agreements_dates_scope_and_unverified_facts_are_well_formed() -> None:
    categories = {(c["scheme_id"], c["code"]) for c in DATA["categories"]}
    for agreement in DATA["agreements"]:
        title = agreement["title"]
        assert len(agreement_reference(agreement)) <= 500, title
        assert set(agreement.get("unverified", [])) <= AGREEMENT_FACTS, title
        for url in agreement.get("sources_extra", []):
            assert url.startswith(("https://", "http://")), title
        start = agreement_start(agreement)
        end = agreement.get("effective_to")
        if end is not None:
            assert start is not None, title
            assert start <= dt.date.fromisoformat(end), title
        for entry in agreement.get("scope", []):
            assert entry["recognized"] in agreement["parties"], title
            assert entry.get("recognizing", agreement["parties"][0]) in agreement["parties"]
            if "category" in entry:
                assert (entry["recognized"], entry["category"]) in categories, title
            if "equivalent_category" in entry:
                assert (entry["recognizing"], entry["equivalent_category"]) in categories, title


def test_categories_name_known_schemes_a_source_and_hs_codes() -> None:
    ids = {s["id"] for s in DATA["schemes"]}
    for category in DATA["categories"]:
        assert category["scheme_id"] in ids
        assert is_slug(category["code"])
        assert category["hs_codes"]
        assert category["source"].startswith("http")


def test_the_eu_us_energy_star_agreement_ended_on_20_february_2018() -> None:
    [energy_star] = [a for a in DATA["agreements"] if "ENERGY STAR" in a["title"]]
    assert energy_star["effective_to"] == "2018-02-20"
    assert set(energy_star["parties"]) == {"energy-star", "eu-energy-star"}


def test_the_demo_data_reads_into_domain_objects_and_says_it_is_invented() -> None:
    demo = demo_data()
    assert len(demo.categories) == 7
    assert [b.id for b in demo.bodies] == ["demo-cert-body-de", "demo-cert-body-kr"]
    assert len(demo.certificates) == 4
    [(number, events)] = [(c.number, c.status_events) for c in demo.certificates if c.status_events]
    assert number == "DEMO/DE/002/001"
    assert [e.status for e in events] == ["suspended", "active"]
    assert len(demo.agreements) == 2
    invented = [
        *(c.name for c in demo.categories),
        *(b.name for b in demo.bodies),
        *(c.holder_name for c in demo.certificates),
        *(e.reason for e in events),
        *(a.title for a in demo.agreements),
        *(a.reference for a in demo.agreements),
    ]
    assert all("illustrative" in text.lower() for text in invented)


@pytest.mark.parametrize("kind", ["categories", "bodies", "certificates", "agreements"])
def test_the_demo_data_refuses_a_field_the_domain_does_not_have(kind: str) -> None:
    text = resources.files("ecolabel_registry.seed").joinpath("demo.json").read_text("utf-8")
    data = json.loads(text)
    data[kind][0]["valid_untill"] = "2030-01-01"  # misspelled
    with pytest.raises(ValidationError, match=rf"{kind}\.0\.valid_untill"):
        TypeAdapter(DemoData).validate_json(json.dumps(data))
