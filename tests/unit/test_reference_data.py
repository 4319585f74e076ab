"""The reference data set shipped in the package: real schemes, each fact with its source."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pycountry

from ecolabel_registry.domain.model import Purpose, SchemeType
from ecolabel_registry.domain.validation import is_slug
from ecolabel_registry.seed.loader import reference_data

DATA: dict[str, Any] = reference_data()
GROUPS = {g["code"] for g in DATA["groups"]}
COUNTRIES = {c.alpha_2 for c in pycountry.countries}
FACTS = ("name", "operator", "home_economies", "type", "website")


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
