"""The public web pages: search, certificate, scheme, agreement, economy, recognition matrix.

Server-rendered with Jinja2 from the same services as the API (through `api.deps`), no
JavaScript, no asset from another host (our CSS under `/static/pages/`), every visible string
through the catalogue of `pages.i18n`. See docs/pages.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlencode

import segno
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from ecolabel_registry.api.decisions_io import verify_receipt
from ecolabel_registry.api.deps import (
    AgreementsDep,
    CertificatesDep,
    EconomiesDep,
    SchemesDep,
    SessionDep,
    economies_of,
    session_decisions,
    session_equivalence,
    today,
)
from ecolabel_registry.api.pages import i18n
from ecolabel_registry.api.pages.cache import PageCache, entity_tag
from ecolabel_registry.api.problems import problem_response
from ecolabel_registry.domain.errors import DomainError, FieldError, InvalidInput, NotFound
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    Economy,
    Level,
    SchemeType,
    status_on,
)
from ecolabel_registry.domain.validation import HS_CODE_PATTERN
from ecolabel_registry.services.certificates import search_terms
from ecolabel_registry.services.equivalence import Snapshot, markets_of
from ecolabel_registry.services.ports.registry import CertificateFilter
from ecolabel_registry.services.recognition import Matrix, recognition_matrix
from ecolabel_registry.services.signing import ReceiptInvalid, ReceiptSigner

router = APIRouter(include_in_schema=False)
STATIC_URL = "/static/pages"
PAGE_SIZE = 20
HTML = "text/html; charset=utf-8"
CSV = "text/csv; charset=utf-8"
SVG = "image/svg+xml"
# Only the app's own assets: our stylesheet; the QR code is inline SVG; no script at all.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# The API's documentation, linked from the search page when the app serves it.
DOCS_LINKS = (
    ("/docs", "Interactive API documentation (Swagger UI)"),
    ("/redoc", "API reference (ReDoc)"),
    ("/openapi.json", "OpenAPI document"),
)
API_LINKS = (
    ("/v1/schemes", "Schemes"),
    ("/v1/certificates", "Certificates"),
    ("/v1/agreements", "Agreements"),
    ("/healthz", "Health"),
)

env = Environment(
    loader=PackageLoader("ecolabel_registry.api.pages", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
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


def page_url(scheme_id: str, number: str) -> str:
    """The certificate page's path ("/" in numbers kept: the route accepts it)."""
    return f"/certificates/{quote(scheme_id)}/{quote(number, safe='/')}"


def status_today(certificate: Certificate, day: dt.date) -> str | None:
    status = status_on(certificate.status_events, day, CertificateStatus)
    return None if status is None else status.value


@dataclass(frozen=True, slots=True)
class Market:
    """One row of the certificate page's recognition table."""

    code: str
    economy: Economy | None
    level: Level
    conditions: list[str]
    valid_until: dt.date | None
    agreements: list[str]


def _not_found(page: Page) -> Response:
    return page.render("not_found.html", status=404)


def _economy_names(economies: EconomiesDep) -> dict[str, Economy]:
    return {e.code: e for e in economies.find(None, 100_000, None).items}


@router.get("/")
def search_page(
    request: Request,
    certificates: CertificatesDep,
    schemes: SchemesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """One box: certificates by the text search, schemes by name; each with its status."""
    page = Page(request, lang, accept_language)
    served = {getattr(route, "path", None) for route in request.app.routes}
    context: dict[str, Any] = {
        "q": q or "",
        "docs_links": [link for link in DOCS_LINKS if link[0] in served],
        "api_links": API_LINKS,
        "results": None,
    }
    words = (q or "").split()
    if words:
        try:
            terms = search_terms(q or "")
            found = certificates.search(CertificateFilter(terms=terms), cursor, PAGE_SIZE)
        except InvalidInput as error:
            context["error"] = "; ".join(e.message for e in error.errors)
            return page.render("search.html", status=422, **context)
        day = today()
        lowered = [w.lower() for w in words]
        context.update(
            results=[
                (c, status_today(c, day), page_url(c.scheme_id, c.number)) for c in found.items
            ],
            next_url=None
            if found.next_cursor is None
            else page.url("/", q=q, cursor=found.next_cursor),
            schemes=[]
            if cursor is not None
            else [
                s
                for s in schemes.find(None, 10_000, None, day).items
                if all(w in f"{s.id} {s.name} {s.operator}".lower() for w in lowered)
            ],
        )
    return page.render("search.html", **context)


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


def _from_cache(request: Request, tag: str, body: bytes | None, media_type: str) -> Response | None:
    """304 when the client holds `tag`; the kept body when there is one; else None."""
    if _conditional(request, tag):
        return Response(status_code=304, headers=_headers(request, tag))
    if body is None:
        return None
    headers = {**_headers(request, tag), "X-Cache": "hit"}
    return Response(body, media_type=media_type, headers=headers)


def _cached_body(request: Request, tag: str, body: bytes, media_type: str) -> Response:
    """A body just made, under its key's ETag."""
    headers = {**_headers(request, tag), "X-Cache": "miss"}
    return Response(body, media_type=media_type, headers=headers)


def page_cache(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


@router.get("/certificates/{scheme_id}/{number:path}")
async def certificate_page(
    request: Request,
    scheme_id: str,
    number: str,
    on: On = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Holder, product, validity, status timeline, where it is recognized on a date, a QR.

    The page is made of the certificate (its version), the registry's small facts (the fact
    revision), the date, the language and the address. The certificate and the revision are
    read in one statement, without a threadpool hop, and name the page (its ETag and its key
    in the page cache): a conditional request for the same page is a 304, a page made before
    is sent as it is. A new page is made from the resolver's snapshot and the economy names
    kept for that revision; only when either must be brought up to date first (after a fact
    write) is it made in the threadpool.
    """
    page = Page(request, lang, accept_language)
    facts = request.app.state.hot_facts
    revision, certificate = await facts.certificate_and_revision(scheme_id, number)
    if certificate is None:
        return _not_found(page)
    day = on or today()
    cache = page_cache(request)
    key = (
        "certificate",
        revision,
        scheme_id,
        number,
        certificate.version,
        day,
        page.lang,
        str(request.url),
        request.app.state.settings.public_reads,
    )
    tag = entity_tag(*key)
    found = _from_cache(request, tag, cache.pages.get(key), HTML)
    if found is not None:
        return found
    snapshot = request.app.state.resolver_cache.current(revision)
    held = cache.names.current(revision)
    if snapshot is None or held is None:
        snapshot, names = await run_in_threadpool(_page_facts, request, revision)
    else:
        names = held
    body = _certificate_body(page, certificate, snapshot, names, day)
    if body is None:  # its scheme or category is newer than the snapshot: should not happen
        return _not_found(page)
    cache.pages.put(key, body)
    return _cached_body(request, tag, body, HTML)


def _page_facts(request: Request, revision: int) -> tuple[Snapshot, dict[str, Economy]]:
    """The resolver's snapshot and the economies by code, both at `revision` or later."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        snapshot = session_equivalence(request, session).snapshot_at(revision)
        names = page_cache(request).names.at(
            revision, lambda: _economy_names(economies_of(session))
        )
        session.rollback()
    return snapshot, names


def _certificate_body(
    page: Page,
    certificate: Certificate,
    snapshot: Snapshot,
    names: Mapping[str, Economy],
    day: dt.date,
) -> bytes | None:
    """The certificate page's HTML (None when its scheme or category is not in `snapshot`)."""
    scheme_id, number = certificate.scheme_id, certificate.number
    scheme = snapshot.facts.schemes.get(scheme_id)
    category = snapshot.categories.get((scheme_id, certificate.category_code))
    if scheme is None or category is None:
        return None
    agreements = snapshot.agreements_by_id
    markets: list[Market] = []
    used: dict[str, str] = {}
    for code, answer in markets_of(snapshot, certificate, day):
        best = answer.routes[0]
        steps = [s.agreement_id for s in best.path]
        for agreement_id in steps:
            if agreement_id not in used:
                found = agreements.get(agreement_id)
                used[agreement_id] = agreement_id if found is None else found.title
        markets.append(
            Market(
                code=code,
                economy=names.get(code),
                level=best.level,
                conditions=[c.text for c in best.conditions],
                valid_until=answer.valid_until,
                agreements=steps,
            )
        )
    markets.sort(key=lambda m: (-m.level.strength, m.code))
    path = page_url(scheme_id, number)
    return page.body(
        "certificate.html",
        certificate=certificate,
        scheme=scheme,
        category=category,
        day=day,
        day_status=status_on(certificate.status_events, day, CertificateStatus),
        markets=markets,
        agreements_used=used,
        qr_url=page.url("/qr" + path),
        path=path,
    )


@router.get("/qr/certificates/{scheme_id}/{number:path}")
async def certificate_qr(
    request: Request,
    scheme_id: str,
    number: str,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The QR code of a certificate page, as SVG (made once per address, then kept).

    Only for certificates the registry holds: no code is drawn for an arbitrary text.
    """
    page = Page(request, lang, accept_language)
    _revision, version = await request.app.state.hot_facts.version_and_revision(scheme_id, number)
    if version is None:
        return _not_found(page)
    absolute = str(request.base_url).rstrip("/") + page_url(scheme_id, number)
    title = page._("QR code linking to this page")
    tag = entity_tag("qr", absolute, title)
    cache = page_cache(request)
    found = _from_cache(request, tag, cache.qr.get(tag), SVG)
    if found is not None:
        found.headers["Cache-Control"] = "public, max-age=86400"
        return found
    svg = await run_in_threadpool(_qr_svg, absolute, title)
    cache.qr.put(tag, svg)
    response = _cached_body(request, tag, svg, SVG)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _qr_svg(text: str, title: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=3, title=title, lineclass=None)
    return out.getvalue()


@router.get("/schemes/{scheme_id}")
def scheme_page(
    request: Request,
    scheme_id: str,
    schemes: SchemesDep,
    agreements: AgreementsDep,
    certificates: CertificatesDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """A scheme: operator, type, homes, categories, agreements and some certificates."""
    page = Page(request, lang, accept_language)
    try:
        scheme = schemes.get(scheme_id)
    except NotFound:
        return _not_found(page)
    day = today()
    first = certificates.search(CertificateFilter(scheme_id=scheme_id), None, PAGE_SIZE)
    return page.render(
        "scheme.html",
        scheme=scheme,
        categories=schemes.list_categories(scheme_id, None, 1000).items,
        agreements=agreements.find(None, 1000, scheme=scheme_id).items,
        certificates=[
            (c, status_today(c, day), page_url(c.scheme_id, c.number)) for c in first.items
        ],
    )


@router.get("/agreements/{agreement_id}")
def agreement_page(
    request: Request,
    agreement_id: str,
    agreements: AgreementsDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """An agreement: parties, terms, scope and status history."""
    page = Page(request, lang, accept_language)
    try:
        agreement = agreements.get(agreement_id)
    except (NotFound, InvalidInput):
        return _not_found(page)
    return page.render("agreement.html", agreement=agreement)


@router.get("/economies/{code}")
def economy_page(
    request: Request,
    code: str,
    economies: EconomiesDep,
    schemes: SchemesDep,
    agreements: AgreementsDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """An economy: members (of a group), schemes operating there, their agreements."""
    page = Page(request, lang, accept_language)
    try:
        economy = economies.get(code)
    except (NotFound, InvalidInput):
        return _not_found(page)
    names = _economy_names(economies)
    try:
        found = agreements.find(None, 1000, economy=code).items
    except DomainError:
        found = []
    return page.render(
        "economy.html",
        economy=economy,
        names=names,
        schemes=schemes.find(None, 1000, code, today()).items,
        agreements=found,
    )


# Form fields left empty arrive as "": these take text and read it (see _filters).
MatrixOn = Annotated[str | None, Query(max_length=10, description="The date; today if empty.")]
MatrixType = Annotated[str | None, Query(max_length=20, description="Only this scheme type.")]
MatrixHs = Annotated[
    str | None, Query(max_length=10, description="Only categories matching this HS code.")
]
_HS = re.compile(HS_CODE_PATTERN)


@dataclass(frozen=True, slots=True)
class MatrixFilters:
    day: dt.date
    type: SchemeType | None
    hs_code: str | None


def _filters(on: str | None, type: str | None, hs_code: str | None) -> MatrixFilters:
    """The matrix's filters from its form (InvalidInput naming the field, with an example)."""
    errors: list[FieldError] = []
    day = today()
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            errors.append(FieldError(("query", "on"), "a date such as 2025-06-30"))
    kind = None
    if type:
        try:
            kind = SchemeType(type)
        except ValueError:
            errors.append(FieldError(("query", "type"), "a scheme type such as iso14024"))
    if hs_code and not _HS.match(hs_code):
        errors.append(FieldError(("query", "hs_code"), "2 to 10 digits, e.g. 3208"))
    if errors:
        raise InvalidInput(errors)
    return MatrixFilters(day, kind, hs_code or None)


def _matrix(snapshot: Snapshot, filters: MatrixFilters) -> Matrix:
    """The matrix from the resolver's snapshot alone (schemes, categories, economies)."""
    rows = [
        s
        for _id, s in sorted(snapshot.facts.schemes.items())
        if filters.type is None or s.type is filters.type
    ]
    return recognition_matrix(
        snapshot, rows, snapshot.categories.values(), filters.day, filters.hs_code
    )


MatrixKind = Literal["html", "csv"]


async def _matrix_response(
    request: Request, page: Page, filters: MatrixFilters, kind: MatrixKind
) -> Response:
    """The matrix page or CSV, named by the fact revision, the filters, the language and the
    address: a 304 or the kept body when it was made before; else made in the threadpool,
    at most `max_concurrent_matrices` at once in this process (503 with Retry-After past
    that, before any work)."""
    facts = request.app.state.hot_facts
    revision = await facts.revision_async()
    cache = page_cache(request)
    key = (
        "matrix",
        kind,
        revision,
        filters,
        page.lang,
        str(request.url),
        request.app.state.settings.public_reads,
    )
    tag = entity_tag(*key)
    media_type = HTML if kind == "html" else CSV
    found = _from_cache(request, tag, cache.matrices.get(key), media_type)
    if found is None:
        if not cache.matrix_slots.take():
            return problem_response(
                503,
                "unavailable",
                "Service unavailable",
                f"{cache.matrix_slots.limit} recognition matrices are being worked out "
                "already; retry shortly",
                instance=request.url.path,
                headers={"Retry-After": "5"},
            )
        try:
            body = await run_in_threadpool(_matrix_body, page, filters, revision, kind)
        finally:
            cache.matrix_slots.release()
        cache.matrices.put(key, body)
        found = _cached_body(request, tag, body, media_type)
    if kind == "csv":
        day = filters.day.isoformat()
        found.headers["Content-Disposition"] = f'attachment; filename="recognition-{day}.csv"'
    return found


def _matrix_body(page: Page, filters: MatrixFilters, revision: int, kind: MatrixKind) -> bytes:
    snapshot, names = _page_facts(page.request, revision)
    matrix = _matrix(snapshot, filters)
    if kind == "csv":
        return _matrix_csv(matrix, filters.day)
    return page.body(
        "recognition.html",
        matrix=matrix,
        csv_url=page.url(
            "/recognition.csv",
            on=filters.day.isoformat(),
            type=filters.type.value if filters.type else None,
            hs_code=filters.hs_code,
        ),
        **_matrix_form(filters.day.isoformat(), filters.type, filters.hs_code or "", names),
    )


def _matrix_form(
    day: str, type: SchemeType | str | None, hs_code: str, names: Mapping[str, Economy]
) -> dict[str, Any]:
    return {
        "types": [t.value for t in SchemeType],
        "names": names,
        "type": type.value if isinstance(type, SchemeType) else type or None,
        "hs_code": hs_code,
        "day": day,
    }


def _matrix_csv(matrix: Matrix, on: dt.date) -> bytes:
    day = on.isoformat()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scheme", "on", *matrix.economies])
    cells: Mapping[tuple[str, str], Level] = matrix.cells
    for s in matrix.schemes:
        writer.writerow(
            [s.id, day]
            + [cells[(s.id, e)].value if (s.id, e) in cells else "" for e in matrix.economies]
        )
    return out.getvalue().encode()


@router.get("/recognition")
async def recognition_page(
    request: Request,
    on: MatrixOn = None,
    type: MatrixType = None,
    hs_code: MatrixHs = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Schemes by economies on a date: each cell the best level."""
    page = Page(request, lang, accept_language)
    try:
        filters = _filters(on, type, hs_code)
    except InvalidInput as error:
        context = _matrix_form(on or today().isoformat(), type, hs_code or "", {})
        context["error"] = "; ".join(e.message for e in error.errors)
        return page.render("recognition.html", status=422, matrix=None, **context)
    return await _matrix_response(request, page, filters, "html")


@router.get("/recognition.csv")
async def recognition_csv(
    request: Request,
    on: MatrixOn = None,
    type: MatrixType = None,
    hs_code: MatrixHs = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The matrix as CSV: one row a scheme, one column an economy, cells the best level."""
    filters = _filters(on, type, hs_code)
    page = Page(request, lang, accept_language)
    return await _matrix_response(request, page, filters, "csv")


def install(app: FastAPI) -> None:
    """Serve the pages' own stylesheet (the pages router is included by create_app)."""
    app.mount(
        STATIC_URL,
        StaticFiles(directory=Path(__file__).with_name("static")),
        name="pages-static",
    )


VERIFY_SHOWN_LINES = 200
"""The most lines of a batch decision the verification page lists."""


def _decision_id(text: str) -> str:
    """A decision's id from its id or its URL (the last segment of the path)."""
    return text.strip().rstrip("/").rsplit("/", 1)[-1]


def _verify(page: Page, receipt: str, decision: str | None, status: int = 200) -> Response:
    """The page with the verdict on `receipt`, checked against the published keys."""
    signer: ReceiptSigner = page.request.app.state.signer
    credential = failure = detail = None
    try:
        credential = verify_receipt(receipt, signer.jwks())
    except ReceiptInvalid as invalid:
        failure, detail = invalid.code, str(invalid)
    except DomainError:  # the registry's keys cannot be read: nothing can be checked
        failure, status = "keys", 503
    subject = None if credential is None else credential.credential_subject
    lines = None if subject is None or subject.lines is None else subject.lines
    return page.render(
        "verify.html",
        status=status,
        checked=True,
        credential=credential,
        subject=subject,
        lines=None if lines is None else lines[:VERIFY_SHOWN_LINES],
        line_count=0 if lines is None else len(lines),
        failure=failure,
        detail=detail,
        # A receipt that does not verify is shown again to be corrected, unless it is long.
        receipt=receipt if credential is None and len(receipt) <= 100_000 else "",
        decision=decision,
    )


@router.get("/verify")
def verify_page(
    request: Request,
    session: SessionDep,
    decision: Annotated[
        str | None, Query(max_length=300, description="A decision's id or URL.")
    ] = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The receipt verification page: a form to paste a receipt, or the verdict on the
    receipt of a decision of this registry (its id or link in `decision`)."""
    page = Page(request, lang, accept_language)
    if not decision:
        return page.render("verify.html", checked=False, receipt="", decision=None)
    decisions = session_decisions(request, session)
    try:
        stored = decisions.get(_decision_id(decision))
    except NotFound:
        return _not_found(page)
    return _verify(page, stored.receipt, stored.id)


async def _form_receipt(request: Request) -> str:
    """The `receipt` field of the form (application/x-www-form-urlencoded), "" when absent."""
    body = await request.body()
    fields = parse_qs(body.decode("latin-1"), max_num_fields=10)
    return fields.get("receipt", [""])[0]


@router.post("/verify")
def verify_pasted(
    request: Request,
    receipt: Annotated[str, Depends(_form_receipt)],
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """The verdict on a pasted receipt, checked against the registry's published keys."""
    page = Page(request, lang, accept_language)
    if not receipt.strip():
        return page.render(
            "verify.html",
            status=422,
            checked=False,
            receipt="",
            decision=None,
            empty=True,
        )
    return _verify(page, receipt.strip(), None)
