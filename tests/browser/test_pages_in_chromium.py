"""The public pages in a real browser: Debian's chromium driven by Playwright.

The registry runs as a real service on loopback over the demo data (tests/reliability/
serving.py). A visitor searches, opens a certificate, changes the date, switches to Chinese,
follows the links and downloads the matrix as CSV; every page is checked by axe-core (no
serious or critical violation), fits a 360 px wide screen, and is saved as a screenshot under
var/screenshots/. Skipped when /usr/bin/chromium is missing, unless
ECOLABEL_TEST_BROWSER_REQUIRED=1 (as in CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from ecolabel_registry.services.signing import SigningKeyFile
from tests.conftest import ENGINE
from tests.reliability.serving import postgres_database, prepare_demo, serve

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CERTIFICATE = "/certificates/eu-ecolabel/DEMO/FR/044/017"

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("ECOLABEL_TEST_BROWSER_REQUIRED") == "1":
        pytest.fail(reason + "; ECOLABEL_TEST_BROWSER_REQUIRED=1 needs it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The registry served over the demo data, in a database of the engine under test, with
    a signing key file of its own: its URL and an operator key."""
    folder = tmp_path_factory.mktemp("browser")
    with contextlib.ExitStack() as stack:
        if ENGINE == "postgresql":
            url = stack.enter_context(postgres_database())
        else:
            url = f"sqlite:///{folder / 'demo.sqlite3'}"
        key = prepare_demo(url)
        keys = SigningKeyFile(folder / "signing-keys.json")
        keys.create()
        env = {"ECOLABEL_SIGNING_KEY_FILE": str(keys.path)}
        server = stack.enter_context(serve(url, folder / "server.log", env=env))
        yield server.base_url, key


@pytest.fixture(scope="module")
def base_url(served: tuple[str, str]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(10_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def accessible(page: Page, name: str) -> None:
    """No serious or critical axe-core violation; a full-page screenshot saved as `name`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    results: Any = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], name


def test_search_open_a_certificate_change_the_date_and_switch_language(page: Page) -> None:
    page.goto("/")
    accessible(page, "search")
    page.fill("#q", "demo paints")
    page.click("form.search button")
    link = page.locator(f'a[href="{CERTIFICATE}"]')
    assert link.count() == 1
    accessible(page, "search-results")
    link.click()
    assert page.locator("h1").inner_text() == "Certificate DEMO/FR/044/017"
    qr = page.locator("img.qr")
    assert qr.count() == 1
    # The QR code is its own image from this app, loaded and drawn (not a broken image).
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    # The world map: inline SVG with an accessible name, the EEA's countries in colour.
    world = page.locator("figure.worldmap svg[role=img]")
    assert world.count() == 1
    assert "countries coloured by level" in (world.get_attribute("aria-label") or "")
    assert page.locator("figure.worldmap path.map-native").count() > 20
    assert world.evaluate("svg => svg.getBoundingClientRect().height > 200")
    accessible(page, "certificate")
    page.fill("#on", "2024-03-01")
    page.click("form.date button")
    assert "on=2024-03-01" in page.url
    assert page.input_value("#on") == "2024-03-01"
    assert "2024-03-01" in page.locator("main").inner_text()
    page.click('a[hreflang="zh"]')
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "在哪些经济体得到认可" in page.locator("main").inner_text()
    assert "on=2024-03-01" in page.url  # the date is kept
    accessible(page, "certificate-zh")
    page.click('a[hreflang="en"]')
    assert "Where it counts" in page.locator("main").inner_text()


def test_follow_links_to_scheme_economy_and_agreement_pages(page: Page, base_url: str) -> None:
    page.goto(CERTIFICATE)
    page.click('dd a[href="/schemes/eu-ecolabel"]')
    assert page.locator("h1").inner_text() == "EU Ecolabel"
    accessible(page, "scheme")
    page.click('a[href^="/economies/"]')
    assert "/economies/" in page.url
    accessible(page, "economy")
    first = httpx.get(f"{base_url}/v1/agreements", params={"limit": 1}, timeout=5).json()
    agreement = first["items"][0]
    party = agreement["parties"][-1]["scheme_id"]
    page.goto(f"/schemes/{agreement['parties'][0]['scheme_id']}")
    page.click(f'a[href="/agreements/{agreement["id"]}"]')
    assert page.locator("h1").inner_text() == agreement["title"]
    accessible(page, "agreement")
    page.click(f'main li a[href="/schemes/{party}"]')
    assert page.url.endswith(f"/schemes/{party}")


def test_the_recognition_matrix_filters_and_downloads_as_csv(page: Page) -> None:
    page.goto("/recognition")
    accessible(page, "recognition")
    page.select_option("#type", "iso14024")
    page.click("form.filters button")
    assert "type=iso14024" in page.url
    with page.expect_download() as info:
        page.click("text=Download CSV")
    download = info.value
    text = Path(download.path()).read_text("utf-8")
    assert text.startswith("scheme,on,")
    assert "eu-ecolabel" in text
    assert download.suggested_filename.startswith("recognition-")


def test_every_page_fits_a_360_px_screen(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 360, "height": 740})
    try:
        narrow = context.new_page()
        for path, name in (
            ("/?q=demo", "search-360"),
            (CERTIFICATE, "certificate-360"),
            ("/schemes/eu-ecolabel", "scheme-360"),
            ("/economies/EU", "economy-360"),
            ("/recognition", "recognition-360"),
            ("/verify", "verify-360"),
        ):
            narrow.goto(path)
            width = narrow.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (path, width)
            if path == CERTIFICATE:  # the map shrinks to the screen's width
                box = narrow.locator("figure.worldmap svg").bounding_box()
                assert box is not None
                assert 0 < box["width"] <= 360
            narrow.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


def test_verify_a_receipt_pasted_or_by_its_decision_link(
    page: Page, served: tuple[str, str]
) -> None:
    base, key = served
    question = {
        "scheme": "eu-ecolabel",
        "certificate": "DEMO/FR/044/017",
        "target": "KR",
        "on": "2025-03-01",
        "hs_code": "320810",
    }
    response = httpx.post(
        f"{base}/v1/decisions",
        json={"question": question},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    decision = response.json()
    page.goto("/")
    page.click('header a[href="/verify"]')
    accessible(page, "verify")
    page.fill("#receipt", decision["receipt"])
    page.click("form.verify button")
    main = page.locator("main").inner_text()
    assert "The receipt is valid" in main
    assert "DEMO/FR/044/017" in main
    assert "Conditional recognition" in main
    accessible(page, "verify-valid")
    header, payload, signature = decision["receipt"].split(".")
    changed = f"{header}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}"
    page.fill("#receipt", changed)
    page.click("form.verify button")
    main = page.locator("main").inner_text()
    assert "The receipt does not verify" in main
    assert "The signature does not match" in main
    accessible(page, "verify-invalid")
    page.goto(f"/verify?decision={decision['id']}&lang=zh")
    assert "收据有效" in page.locator("main").inner_text()
    accessible(page, "verify-zh")
    page.click("text=决定的 JSON 数据")
    assert decision["id"] in page.url
