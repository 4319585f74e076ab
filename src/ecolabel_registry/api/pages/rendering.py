"""The pages' rendering: templates, languages, and the security and caching headers."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import quote, urlencode

from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.api.deps import (
    EconomiesDep,
    economies_of,
    session_equivalence,
)
from ecolabel_registry.api.pages import i18n
from ecolabel_registry.api.pages.cache import PageCache
from ecolabel_registry.domain.errors import InvalidInput, NotFound
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    Economy,
    status_on,
)
from ecolabel_registry.services.snapshots import Snapshot

T = TypeVar("T")

STATIC_URL = "/static/pages"
PAGE_SIZE = 20
HTML = "text/html; charset=utf-8"
CSV = "text/csv; charset=utf-8"
SVG = "image/svg+xml"
# Only the app's own assets: our stylesheet and the QR code (an SVG image the app serves); the
# world map is inline SVG; no script at all.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
env = Environment(
    loader=PackageLoader("ecolabel_registry.api.pages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates are the installed package's: they do not change while the app runs, so
    # no page pays a look at their files' times (one stat a template and page otherwise).
    auto_reload=False,
)

Lang = Annotated[
    str | None, Query(pattern="^(en|zh)$", description="The page's language: en or zh.")
]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]
On = Annotated[dt.date | None, Query(description="The date shown; today when absent.")]


_RENDERING: ContextVar[Page] = ContextVar("rendering")


class _Rendering:
    """The page being rendered, as the macros see it: they are imported without the
    template's context (a module made once, not again for every page), so what they need of
    the page comes from here."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_RENDERING.get(), name)


def _translated(message: str) -> str:
    return _RENDERING.get()._(message)


def _labelled(labels: Mapping[str, str], value: str | None) -> str:
    return _RENDERING.get()._.label(labels, value)


env.globals.update(_=_translated, label=_labelled, i18n=i18n, page=_Rendering())


class Page:
    """One page's language, links and rendering with the security and caching headers."""

    def __init__(self, request: Request, lang: str | None, accept_language: str | None) -> None:
        self.request = request
        self.chosen = lang
        self.lang = i18n.negotiate(lang, accept_language)
        self._ = i18n.Translator(self.lang)

    def url(self, path: str, **params: Any) -> str:
        """A link within the pages, keeping a language chosen by the switch."""
        query = {k: v for k, v in params.items() if v is not None}
        if self.chosen is not None:
            query["lang"] = self.chosen
        root = str(self.request.scope.get("root_path", ""))
        return root + path + ("?" + urlencode(query) if query else "")

    def switch(self, lang: str) -> str:
        """This page in another language."""
        params = dict(self.request.query_params)
        params["lang"] = lang
        return self.request.url.path + "?" + urlencode(params)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return cached(self.request, self.body(template, **context), HTML, status)

    def body(self, template: str, **context: Any) -> bytes:
        """The template rendered in this page's language."""
        token = _RENDERING.set(self)
        try:
            return self._body(template, **context)
        finally:
            _RENDERING.reset(token)

    def _body(self, template: str, **context: Any) -> bytes:
        return (
            env.get_template(template)
            .render(
                _=self._,
                label=self._.label,
                i18n=i18n,
                lang=self.lang,
                languages=i18n.LANGUAGES,
                page=self,
                static=self.request.scope.get("root_path", "") + STATIC_URL,
                **context,
            )
            .encode()
        )


def cached(request: Request, body: bytes, media_type: str, status: int = 200) -> Response:
    """The response with its ETag (a hash of the body), or 304 when If-None-Match has it."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = _headers(request, tag)
    if status == 200 and _conditional(request, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _conditional(request: Request, tag: str) -> bool:
    """Whether the request's If-None-Match names `tag` (or any version)."""
    wanted = request.headers.get("if-none-match")
    if wanted is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return tag in tags or "*" in tags


def _headers(request: Request, tag: str) -> dict[str, str]:
    return {
        **SECURITY_HEADERS,
        "ETag": tag,
        "Cache-Control": "public, max-age=60"
        if request.app.state.settings.public_reads
        else "private, no-cache",
        "Vary": "Accept-Language",
    }


def from_cache(request: Request, tag: str, body: bytes | None, media_type: str) -> Response | None:
    """304 when the client holds `tag`; the kept body when there is one; else None."""
    if _conditional(request, tag):
        return Response(status_code=304, headers=_headers(request, tag))
    if body is None:
        return None
    headers = {**_headers(request, tag), "X-Cache": "hit"}
    return Response(body, media_type=media_type, headers=headers)


def cached_body(request: Request, tag: str, body: bytes, media_type: str) -> Response:
    """A body just made, under its key's ETag."""
    headers = {**_headers(request, tag), "X-Cache": "miss"}
    return Response(body, media_type=media_type, headers=headers)


def page_cache(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


def page_url(scheme_id: str, number: str) -> str:
    """The certificate page's path ("/" in numbers kept: the route accepts it)."""
    return f"/certificates/{quote(scheme_id)}/{quote(number, safe='/')}"


def status_today(certificate: Certificate, day: dt.date) -> str | None:
    status = status_on(certificate.status_events, day, CertificateStatus)
    return None if status is None else status.value


def not_found(page: Page) -> Response:
    return page.render("not_found.html", status=404)


class PageNotFound(Exception):
    """The subject of a page is not in the registry: the answer is the not-found page, in
    the page's language (`pages.install` registers `not_found_answer` for it)."""

    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page


def not_found_answer(_request: Request, exc: Exception) -> Response:
    """The app's answer to a PageNotFound (the only exception it is registered for)."""
    return not_found(cast(PageNotFound, exc).page)


def subject_of(page: Page, get: Callable[[str], T], key: str) -> T:
    """The page's subject, what `get` reads under `key`; where there is nothing (or `key`
    names nothing), the not-found page instead of `page`."""
    try:
        return get(key)
    except (NotFound, InvalidInput):
        raise PageNotFound(page) from None


def economy_names(economies: EconomiesDep) -> dict[str, Economy]:
    return {e.code: e for e in economies.find(None, 100_000, None).items}


def page_facts(request: Request, revision: int) -> tuple[Snapshot, dict[str, Economy]]:
    """The resolver's snapshot and the economies by code, both at `revision` or later."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        snapshot = session_equivalence(request, session).snapshot_at(revision)
        names = page_cache(request).names.at(revision, lambda: economy_names(economies_of(session)))
        session.rollback()
    return snapshot, names


async def page_of(
    request: Request, lang: Lang = None, accept_language: AcceptLanguage = None
) -> Page:
    """The request's page, in the language it asks for (async: no threadpool hop)."""
    return Page(request, lang, accept_language)


PageDep = Annotated[Page, Depends(page_of)]
