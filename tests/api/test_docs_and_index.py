"""The interactive docs load from this service alone, and `/` is a page of links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient


class _References(HTMLParser):
    """Every src and href of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        self.urls.extend(v for k, v in attrs if k in ("src", "href", "spec-url") and v)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def references(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_the_docs_pages_reference_no_other_host_and_their_files_are_served(
    client: TestClient, page: str, assets: set[str]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = references(response.text)
    # No absolute URL anywhere in the page: no CDN, no web fonts, no validator.
    assert "//" not in "".join(found.urls), found.urls
    assert not re.search(r"https?:", response.text), response.text
    assert {u.rsplit("/", 1)[-1] for u in found.urls if u.startswith("/docs-assets/")} == assets
    for url in found.urls:
        if url.startswith("/docs-assets/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
    assert client.get("/openapi.json").status_code == 200


def test_the_swagger_ui_page_reads_this_services_openapi_document(client: TestClient) -> None:
    found = references(client.get("/docs").text)
    assert any("url: '/openapi.json'" in script for script in found.scripts)
    assert "/openapi.json" in references(client.get("/redoc").text).urls


def test_the_root_is_a_page_of_links_that_all_answer(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    links = references(response.text).urls
    assert {"/docs", "/redoc", "/openapi.json", "/v1/schemes", "/v1/certificates"} <= set(links)
    for link in links:
        assert client.get(link).status_code == 200, link


def test_the_docs_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/", "/docs", "/redoc"} & set(paths)
    assert not any(p.startswith("/docs-assets") for p in paths)
