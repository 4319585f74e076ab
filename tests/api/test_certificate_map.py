"""The certificate page's world map: which countries are coloured at which level, groups
spread to their member countries on the date, the legend in both languages, and the page's
headers unchanged (inline SVG under the same strict Content-Security-Policy)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ecolabel_registry.api.pages import worldmap
from ecolabel_registry.domain.model import Economy, EconomyKind, Level, Membership
from tests.api.data import agreement_body, category_body, created, scheme_body, setup_registry

PAGE = "/certificates/korea-eco-label/KR-0001"
PATH = re.compile(r'<path(?: class="map-([a-z_]+)")? d="[^"<>]+"><title>([^<]*)</title></path>')


def window(member: str, valid_from: str, valid_to: str | None = None) -> dict[str, Any]:
    return {"member": member, "valid_from": valid_from, "valid_to": valid_to}


def drawn(page: str) -> dict[str, str | None]:
    """The map's countries by their title, each with its level (None: not coloured)."""
    found = re.search(r'<figure class="worldmap">\s*<svg ([^>]*)>(.*?)</svg>', page, re.S)
    assert found is not None, "no map on the page"
    assert 'role="img"' in found.group(1)
    assert re.search(r'viewBox="0 0 \d+ \d+"', found.group(1))
    return {title: level or None for level, title in PATH.findall(found.group(2))}


@pytest.fixture
def korea_in_japan(client: TestClient, operator: dict[str, str]) -> None:
    """KR-0001 of Korea Eco-label (KR), recognized in full by Eco Mark (JP) from 2023-07-01."""
    setup_registry(client, operator)
    created(client.post("/v1/agreements", json=agreement_body(), headers=operator))


@pytest.fixture
def korea_in_a_group(client: TestClient, operator: dict[str, str]) -> None:
    """KR-0001 recognized in full by a label at home in a group: Germany and France, the
    United Kingdom until 2020-01-31, Poland from 2025-01-01, and Singapore (too small for
    the map's shapes)."""
    setup_registry(client, operator)
    members = [
        window("DE", "1958-01-01"),
        window("FR", "1958-01-01"),
        window("GB", "1973-01-01", "2020-01-31"),
        window("PL", "2025-01-01"),
        window("SG", "2000-01-01"),
    ]
    created(
        client.put(
            "/v1/economies/EU",
            json={"name": "European Union", "members": members},
            headers=operator,
        )
    )
    created(
        client.post(
            "/v1/schemes",
            json=scheme_body(
                id="group-label", name="Group Label", operator="GL", home_economies=["EU"]
            ),
            headers=operator,
        )
    )
    created(
        client.post("/v1/schemes/group-label/categories", json=category_body(), headers=operator)
    )
    created(
        client.post(
            "/v1/agreements",
            json=agreement_body(parties=["korea-eco-label", "group-label"]),
            headers=operator,
        )
    )


def test_the_map_colours_the_countries_where_the_certificate_counts_by_level(
    client: TestClient, korea_in_japan: None
) -> None:
    page = client.get(PAGE, params={"on": "2024-06-01"}).text
    countries = drawn(page)
    assert len(countries) > 150  # the world, Antarctica left out
    assert countries["South Korea"] == "native"
    assert countries["Japan"] == "full"
    assert countries["France"] is None
    assert countries["United States"] is None
    assert sum(level is not None for level in countries.values()) == 2
    assert "2 countries coloured by level" in page
    # The table stays, with the same economies, for screen readers and for small economies.
    assert 'href="/economies/JP"' in page
    assert 'href="/economies/KR"' in page
    before = drawn(client.get(PAGE, params={"on": "2023-03-01"}).text)  # before the agreement
    assert before["Japan"] is None
    assert before["South Korea"] == "native"


def test_a_recognition_in_a_group_colours_its_member_countries_on_the_date(
    client: TestClient, korea_in_a_group: None
) -> None:
    page = client.get(PAGE, params={"on": "2024-06-01"}).text
    countries = drawn(page)
    assert countries["Germany"] == "full"
    assert countries["France"] == "full"
    assert countries["United Kingdom"] is None  # left the group in 2020
    assert countries["Poland"] is None  # joins in 2025
    assert countries["Japan"] is None
    assert "Singapore" not in countries  # no shape: in the table, and named under the map
    assert "Not on the map, which has no shape for them: Singapore." in page
    assert 'href="/economies/SG"' in page
    assert 'href="/economies/EU"' in page
    later = drawn(client.get(PAGE, params={"on": "2025-06-01"}).text)
    assert later["Poland"] == "full"


def test_the_legend_names_every_level_and_not_recognized_in_english_and_chinese(
    client: TestClient, korea_in_japan: None
) -> None:
    english = client.get(PAGE).text
    legend = re.search(r'<ul class="legend">(.*?)</ul>', english, re.S)
    assert legend is not None
    for text in (
        "Native (home scheme)",
        "Full recognition",
        "Conditional recognition",
        "Assessment results accepted",
        "Not recognized",
    ):
        assert text in legend.group(1)
    for level in ("native", "full", "conditional", "assessment_results"):
        assert f'class="swatch map-{level}"' in legend.group(1)
    chinese = client.get(PAGE, params={"lang": "zh"}).text
    legend = re.search(r'<ul class="legend">(.*?)</ul>', chinese, re.S)
    assert legend is not None
    for text in ("本国计划", "完全认可", "有条件认可", "接受评估结果", "未获认可"):
        assert text in legend.group(1)
    assert "个国家按认可级别着色" in chinese  # the map's accessible name


def test_the_map_keeps_the_page_within_its_content_security_policy(
    client: TestClient, korea_in_japan: None
) -> None:
    response = client.get(PAGE)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    page = response.text
    assert "style=" not in page  # inline styles would be refused: the map is styled by class
    assert "<style" not in page
    assert "<script" not in page
    assert "http://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    svg = re.search(r"<svg .*?</svg>", page, re.S)
    assert svg is not None
    assert len(svg.group(0).encode()) < 150_000
    css = client.get("/static/pages/pages.css").text
    assert "figure.worldmap .map-full" in css
    again = client.get(PAGE, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_a_page_not_recognized_anywhere_draws_no_map(
    client: TestClient, korea_in_japan: None
) -> None:
    page = client.get(PAGE, params={"on": "2030-01-01"}).text  # after the certificate's validity
    assert "Not recognized in any economy on this date." in page
    assert "<svg" not in page


def test_country_levels_keep_the_strongest_and_follow_groups_in_groups_on_the_date() -> None:
    def member(code: str, valid_from: str, valid_to: str | None = None) -> Membership:
        return Membership(
            member=code,
            valid_from=dt.date.fromisoformat(valid_from),
            valid_to=None if valid_to is None else dt.date.fromisoformat(valid_to),
        )

    economies = {
        "EU": Economy(
            "EU",
            "European Union",
            EconomyKind.GROUP,
            (member("DE", "1958-01-01"), member("GB", "1973-01-01", "2020-01-31")),
        ),
        "EEA": Economy(
            "EEA",
            "European Economic Area",
            EconomyKind.GROUP,
            (member("EU", "1994-01-01"), member("NO", "1994-01-01")),
        ),
        "DE": Economy("DE", "Germany", EconomyKind.COUNTRY),
    }
    markets = [("EEA", Level.CONDITIONAL), ("DE", Level.FULL), ("JP", Level.ASSESSMENT_RESULTS)]
    on = dt.date(2024, 6, 1)
    assert worldmap.country_levels(markets, economies, on) == {
        "DE": Level.FULL,  # its own answer is stronger than the group's
        "NO": Level.CONDITIONAL,
        "JP": Level.ASSESSMENT_RESULTS,
    }
    before = worldmap.country_levels(markets, economies, dt.date(2019, 6, 1))
    assert before["GB"] == Level.CONDITIONAL  # through the EU, a member of the EEA then


def test_the_shapes_come_from_the_installed_package_once() -> None:
    world = worldmap.load()
    assert worldmap.load() is world
    assert {"DE", "FR", "JP", "KR", "US", "CN", "BR", "AU"} <= world.codes
    assert "AQ" not in world.codes
    assert all(s.d.startswith("M") and s.d.endswith("z") for s in world.shapes)


def test_country_names_in_the_map_are_escaped() -> None:
    world = worldmap.load()
    names = {"DE": Economy("DE", '<b>"Germany" & Co</b>', EconomyKind.COUNTRY)}
    paths = str(world.paths({"DE": Level.FULL}, names))
    assert "<title>&lt;b&gt;&#34;Germany&#34; &amp; Co&lt;/b&gt;</title>" in paths
    assert "<b>" not in paths
    assert '<path class="map-full" d="' in paths
    assert paths.count("<path") == len(world.shapes)
