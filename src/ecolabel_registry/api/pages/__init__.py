"""The public web pages: search, certificate, scheme, agreement, economy, recognition matrix.

Server-rendered with Jinja2 from the same services as the API (through `api.deps`), no
JavaScript, no asset from another host (our CSS under `/static/pages/`), every visible string
through the catalogue of `pages.i18n`. See docs/pages.md. One module per kind of page;
`rendering` holds what they share.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from ecolabel_registry.api.pages import certificate, entities, matrix, verify
from ecolabel_registry.api.pages.rendering import STATIC_URL, PageNotFound, not_found_answer

router = APIRouter(include_in_schema=False)
for pages in (entities, certificate, matrix, verify):
    router.include_router(pages.router)


def install(app: FastAPI) -> None:
    """Serve the pages' own stylesheet and answer a page whose subject is missing with the
    not-found page (the pages router is included by create_app)."""
    app.add_exception_handler(PageNotFound, not_found_answer)
    app.mount(
        STATIC_URL,
        StaticFiles(directory=Path(__file__).with_name("static")),
        name="pages-static",
    )
