"""The search page and the pages of a scheme, an agreement and an economy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ecolabel_registry.api.deps import (
    AgreementsDep,
    CertificatesDep,
    EconomiesDep,
    SchemesDep,
    today,
)
from ecolabel_registry.api.pages.rendering import (
    PAGE_SIZE,
    PageDep,
    economy_names,
    page_url,
    status_today,
    subject_of,
)
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.services.certificates import search_terms
from ecolabel_registry.services.ports.registry import CertificateFilter

router = APIRouter(include_in_schema=False)


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


@router.get("/")
def search_page(
    request: Request,
    page: PageDep,
    certificates: CertificatesDep,
    schemes: SchemesDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """One box: certificates by the text search, schemes by name; each with its status."""
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


@router.get("/schemes/{scheme_id}")
def scheme_page(
    page: PageDep,
    scheme_id: str,
    schemes: SchemesDep,
    agreements: AgreementsDep,
    certificates: CertificatesDep,
) -> Response:
    """A scheme: operator, type, homes, categories, agreements and some certificates."""
    scheme = subject_of(page, schemes.get, scheme_id)
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
    page: PageDep,
    agreement_id: str,
    agreements: AgreementsDep,
) -> Response:
    """An agreement: parties, terms, scope and status history."""
    agreement = subject_of(page, agreements.get, agreement_id)
    return page.render("agreement.html", agreement=agreement)


@router.get("/economies/{code}")
def economy_page(
    page: PageDep,
    code: str,
    economies: EconomiesDep,
    schemes: SchemesDep,
    agreements: AgreementsDep,
) -> Response:
    """An economy: members (of a group), schemes operating there, their agreements."""
    economy = subject_of(page, economies.get, code)
    names = economy_names(economies)
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
