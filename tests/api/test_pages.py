"""The public web pages: what a visitor sees, in which language, with which headers."""

from __future__ import annotations

import csv
import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.api.pages import entities, i18n, matrix
from ecolabel_registry.app import create_app
from ecolabel_registry.settings import Settings
from tests.api.data import agreement_body, certificate_body, created, setup_registry

KR = "/v1/schemes/korea-eco-label/certificates"
PAGE = "/certificates/korea-eco-label/KR-0001"
PAGES_DIR = Path(i18n.__file__).parent
MARKUP = '<script>alert("x")</script><b>Bold & Co</b>'


@pytest.fixture
def agreement_id(client: TestClient, operator: dict[str, str]) -> str:
    """KR-0001 (Hanbit Coatings, paints) of Korea Eco-label, recognized by Eco Mark (JP)."""
    setup_registry(client, operator)
    data = created(client.post("/v1/agreements", json=agreement_body(), headers=operator))
    return str(data["id"])


def test_the_search_page_finds_certificates_and_schemes_with_their_status(
    client: TestClient, agreement_id: str
) -> None:
    response = client.get("/", params={"q": "hanbit"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert f'href="{PAGE}"' in response.text
    assert "status-active" in response.text
    schemes = client.get("/", params={"q": "eco mark"}).text
    assert 'href="/schemes/japan-eco-mark"' in schemes
    assert "No certificate matches." in client.get("/", params={"q": "zzzz"}).text


def test_the_search_page_pages_through_results(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    for n in range(2, 23):
        created(client.post(KR, json=certificate_body(number=f"KR-{n:04d}"), headers=operator))
    first = client.get("/", params={"q": "hanbit"}).text
    assert first.count('href="/certificates/korea-eco-label/') == 20
    next_url = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert next_url is not None
    second = client.get(next_url.group(1).replace("&amp;", "&")).text
    assert second.count('href="/certificates/korea-eco-label/') == 2


def test_the_certificate_page_shows_where_it_counts_on_the_chosen_date(
    client: TestClient, agreement_id: str
) -> None:
    page = client.get(PAGE).text
    for text in ("Hanbit Coatings", "Water-based enamel", "Korea Eco-label", "2027-12-31"):
        assert text in page
    assert 'href="/economies/JP"' in page  # recognized in Japan through the agreement
    assert f'href="/agreements/{agreement_id}"' in page
    assert "level-full" in page
    assert "level-native" in page
    assert f'<img class="qr" src="/qr{PAGE}"' in page
    qr = client.get("/qr" + PAGE)
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/svg+xml"
    assert "<title>QR code linking to this page</title>" in qr.text
    assert client.get("/qr/certificates/korea-eco-label/KR-NONE").status_code == 404
    assert 'name="on"' in page
    before = client.get(PAGE, params={"on": "2023-03-01"}).text  # before the agreement
    assert 'href="/economies/JP"' not in before
    assert 'href="/economies/KR"' in before


def test_markup_in_a_holder_name_is_shown_as_text(
    client: TestClient, operator: dict[str, str]
) -> None:
    setup_registry(client, operator)
    created(
        client.post(KR, json=certificate_body(number="KR-X", holder_name=MARKUP), headers=operator)
    )
    for url in ("/certificates/korea-eco-label/KR-X", "/?q=bold"):
        page = client.get(url).text
        assert "<script>" not in page
        assert "<b>Bold" not in page
        assert "&lt;script&gt;" in page
        assert "Bold &amp; Co" in page


def test_pages_send_security_and_caching_headers_and_304_when_unchanged(
    client: TestClient, agreement_id: str
) -> None:
    for url in (
        "/",
        PAGE,
        "/schemes/korea-eco-label",
        f"/agreements/{agreement_id}",
        "/economies/KR",
        "/recognition",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "style-src 'self'" in csp
        assert "script-src" not in csp  # no script at all
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"]
        again = client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""


def test_pages_load_nothing_from_another_host(client: TestClient, agreement_id: str) -> None:
    page = client.get(PAGE).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(not a.startswith(("http:", "https:", "//")) for a in assets if "stylesheet" not in a)
    assert '<link rel="stylesheet" href="/static/pages/pages.css">' in page
    css = client.get("/static/pages/pages.css")
    assert css.status_code == 200
    assert "url(" not in css.text
    assert "@import" not in css.text


def test_the_language_follows_accept_language_and_the_switch(
    client: TestClient, agreement_id: str
) -> None:
    english = client.get(PAGE).text
    assert "Where it counts" in english
    assert '<html lang="en">' in english
    chinese = client.get(PAGE, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).text
    assert "在哪些经济体得到认可" in chinese
    assert '<html lang="zh-Hans">' in chinese
    switched = client.get(PAGE, params={"lang": "zh"}, headers={"Accept-Language": "en"}).text
    assert "在哪些经济体得到认可" in switched
    assert 'href="/schemes/korea-eco-label?lang=zh"' in switched  # links keep the choice
    back = client.get(PAGE, params={"lang": "en"}, headers={"Accept-Language": "zh"}).text
    assert "Where it counts" in back


def _message_ids() -> set[str]:
    found: set[str] = set()
    sources = [*PAGES_DIR.joinpath("templates").glob("*.html"), *PAGES_DIR.glob("*.py")]
    for path in sources:
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)+)"\)', path.read_text("utf-8")))
        found |= set(re.findall(r"_\('((?:[^'\\]|\\.)+)'\)", path.read_text("utf-8")))
    for labels in i18n.LABEL_SETS:
        found |= set(labels.values())
    found |= {text for _, text in entities.DOCS_LINKS + entities.API_LINKS}
    return found


def test_every_visible_message_has_a_chinese_translation() -> None:
    ids = _message_ids()
    assert len(ids) > 80
    assert sorted(ids - set(i18n.ZH)) == []


def test_unknown_pages_are_a_404_page(client: TestClient, agreement_id: str) -> None:
    for url in (
        "/certificates/korea-eco-label/NOPE",
        "/schemes/nope",
        "/economies/ZZ",
        "/agreements/nope",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.text


def test_the_recognition_matrix_and_its_csv(client: TestClient, agreement_id: str) -> None:
    page = client.get("/recognition", params={"hs_code": "3208"}).text
    assert 'href="/schemes/korea-eco-label"' in page
    assert "level-full" in page
    response = client.get("/recognition.csv", params={"hs_code": "3208", "on": "2024-01-01"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = {r["scheme"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows["korea-eco-label"]["KR"] == "native"
    assert rows["korea-eco-label"]["JP"] == "full"
    assert rows["japan-eco-mark"]["JP"] == "native"
    only = client.get("/recognition.csv", params={"type": "energy", "hs_code": "3208"}).text
    assert "korea-eco-label" not in only


def test_cors_is_off_by_default_and_follows_the_setting(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    origin = {"Origin": "https://example.org"}
    assert "access-control-allow-origin" not in client.get("/v1/schemes", headers=origin).headers
    settings = Settings(
        database_url="sqlite://", check_migrations=False, cors_origins="https://example.org"
    )
    app: FastAPI = create_app(settings, session_factory=session_factory)
    with TestClient(app) as allowed:
        response = allowed.get("/v1/schemes", headers=origin)
        assert response.headers["access-control-allow-origin"] == "https://example.org"
        other = allowed.get("/v1/schemes", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_empty_matrix_fields_mean_no_filter_and_a_bad_one_is_a_422_page(
    client: TestClient, agreement_id: str
) -> None:
    response = client.get("/recognition", params={"on": "", "type": "", "hs_code": ""})
    assert response.status_code == 200
    assert 'href="/schemes/korea-eco-label"' in response.text
    bad = client.get("/recognition", params={"on": "2024-13-01", "hs_code": "x"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert "a date such as 2025-06-30" in bad.text
    assert "2 to 10 digits, e.g. 3208" in bad.text


def test_the_matrix_is_kept_per_fact_revision_and_a_fact_write_changes_it(
    client: TestClient, agreement_id: str, operator: dict[str, str]
) -> None:
    query = {"hs_code": "3208", "on": "2024-06-01"}
    first = client.get("/recognition.csv", params=query)
    assert first.headers["x-cache"] == "miss"
    again = client.get("/recognition.csv", params=query)
    assert again.headers["x-cache"] == "hit"  # made once, sent again as it was
    assert again.headers["etag"] == first.headers["etag"]
    assert again.content == first.content
    assert "attachment" in again.headers["content-disposition"]
    unchanged = client.get(
        "/recognition.csv", params=query, headers={"If-None-Match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304
    html = client.get("/recognition", params=query)
    assert html.headers["x-cache"] == "miss"  # the page is kept apart from the CSV
    assert client.get("/recognition", params=query).headers["x-cache"] == "hit"
    rows = {r["scheme"]: r for r in csv.DictReader(io.StringIO(first.text))}
    assert rows["korea-eco-label"]["JP"] == "full"

    events = f"/v1/agreements/{agreement_id}/status-events"
    body = {"status": "suspended", "effective_date": "2024-01-01", "reason": "review"}
    created(client.post(events, json=body, headers=operator))

    after = client.get(
        "/recognition.csv", params=query, headers={"If-None-Match": first.headers["etag"]}
    )
    assert after.status_code == 200  # the write is seen at once, not after some expiry
    assert after.headers["x-cache"] == "miss"
    assert after.headers["etag"] != first.headers["etag"]
    rows = {r["scheme"]: r for r in csv.DictReader(io.StringIO(after.text))}
    assert rows["korea-eco-label"].get("JP", "") == ""


def test_uncached_matrices_past_the_limit_are_a_503_with_retry_after(
    settings: Settings,
    session_factory: sessionmaker[Session],
    operator: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(
        settings.model_copy(update={"max_concurrent_matrices": 1}),
        session_factory=session_factory,
    )
    started, release = threading.Event(), threading.Event()
    work = matrix._matrix

    def slow(*args: Any) -> Any:
        started.set()
        release.wait(10)
        return work(*args)

    monkeypatch.setattr(matrix, "_matrix", slow)
    with TestClient(app) as client, ThreadPoolExecutor(1) as pool:
        setup_registry(client, operator)
        first = pool.submit(client.get, "/recognition.csv", params={"on": "2024-06-01"})
        assert started.wait(10)
        busy = client.get("/recognition.csv", params={"on": "2024-06-02"})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "5"
        assert busy.headers["content-type"] == "application/problem+json"
        release.set()
        assert first.result(10).status_code == 200
        # The slot is free again; a matrix made before needs none.
        assert client.get("/recognition.csv", params={"on": "2024-06-02"}).status_code == 200
        kept = client.get("/recognition.csv", params={"on": "2024-06-01"})
        assert kept.headers["x-cache"] == "hit"


def test_a_certificate_page_is_made_once_and_made_again_after_a_write(
    client: TestClient, agreement_id: str, operator: dict[str, str]
) -> None:
    first = client.get(PAGE)
    assert first.headers["x-cache"] == "miss"
    again = client.get(PAGE)
    assert again.headers["x-cache"] == "hit"
    assert again.headers["etag"] == first.headers["etag"]
    # Another language or date is another page.
    assert client.get(PAGE, params={"lang": "zh"}).headers["x-cache"] == "miss"
    assert client.get(PAGE, params={"on": "2024-06-01"}).headers["x-cache"] == "miss"
    # A fact write (the agreement's title) and a certificate write each make a new page.
    patch = client.patch(
        f"/v1/agreements/{agreement_id}",
        json={"title": "Renamed agreement"},
        headers={**operator, "If-Match": '"1"'},
    )
    assert patch.status_code == 200, patch.text
    renamed = client.get(PAGE, headers={"If-None-Match": first.headers["etag"]})
    assert renamed.status_code == 200
    assert "Renamed agreement" in renamed.text
    event = {"status": "suspended", "effective_date": "2024-01-01", "reason": "audit"}
    created(client.post(f"{KR}/KR-0001/status-events", json=event, headers=operator))
    suspended = client.get(PAGE, params={"on": "2024-06-01"})
    assert suspended.headers["x-cache"] == "miss"
    assert "status-suspended" in suspended.text
