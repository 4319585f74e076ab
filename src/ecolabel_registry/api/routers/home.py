"""`/`: a small page of links into the API, until the registry has web pages of its own."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()

# (path, what it is). The documentation's links are shown only when the app serves them.
DOCS_LINKS = (
    ("/docs", "Interactive API documentation (Swagger UI)"),
    ("/redoc", "API reference (ReDoc)"),
    ("/openapi.json", "OpenAPI document"),
)
LINKS = (
    ("/v1/schemes", "Schemes"),
    ("/v1/economies", "Economies and groups"),
    ("/v1/agreements", "Recognition agreements"),
    ("/v1/certificates", "Certificates (search by gtin, holder, hs_code, scheme)"),
    ("/v1/certification-bodies", "Certification bodies"),
    ("/healthz", "Health"),
)


@router.get("/", include_in_schema=False)
async def index(request: Request) -> HTMLResponse:
    """Links to the documentation and the main collections."""
    served = {getattr(route, "path", None) for route in request.app.routes}
    links = [link for link in DOCS_LINKS if link[0] in served] + list(LINKS)
    root = escape(request.scope.get("root_path", ""))
    items = "\n".join(
        f'<li><a href="{root}{path}">{escape(text)}</a> <code>{path}</code></li>'
        for path, text in links
    )
    title = escape(request.app.title)
    return HTMLResponse(
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1>\n"
        "<p>An open registry of eco-label schemes, certificates and mutual recognition "
        "agreements, with an equivalence resolver "
        "(<code>/v1/equivalence</code>).</p>\n"
        f"<ul>\n{items}\n</ul>\n</body></html>\n"
    )
