"""The recognition matrix, as a page and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ecolabel_registry.api.deps import (
    today,
)
from ecolabel_registry.api.pages.cache import entity_tag
from ecolabel_registry.api.pages.rendering import (
    CSV,
    HTML,
    Page,
    PageDep,
    cached_body,
    from_cache,
    page_cache,
    page_facts,
)
from ecolabel_registry.api.problems import problem_response
from ecolabel_registry.domain.errors import FieldError, InvalidInput
from ecolabel_registry.domain.model import (
    Economy,
    Level,
    SchemeType,
)
from ecolabel_registry.domain.validation import HS_CODE_PATTERN
from ecolabel_registry.services.recognition import Matrix, recognition_matrix
from ecolabel_registry.services.snapshots import Snapshot

router = APIRouter(include_in_schema=False)


# Form fields left empty arrive as "": these take text and read it (see _filters).
MatrixOn = Annotated[str | None, Query(max_length=10, description="The date; today if empty.")]
MatrixType = Annotated[str | None, Query(max_length=20, description="Only this scheme type.")]
MatrixHs = Annotated[
    str | None, Query(max_length=10, description="Only categories matching this HS code.")
]
_HS = re.compile(HS_CODE_PATTERN)


@dataclass(frozen=True, slots=True)
class MatrixForm:
    """The matrix form's fields as sent."""

    on: str | None
    type: str | None
    hs_code: str | None


async def matrix_form(
    on: MatrixOn = None, type: MatrixType = None, hs_code: MatrixHs = None
) -> MatrixForm:
    """The form's fields (async: no threadpool hop)."""
    return MatrixForm(on, type, hs_code)


MatrixFormDep = Annotated[MatrixForm, Depends(matrix_form)]


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
    found = from_cache(request, tag, cache.matrices.get(key), media_type)
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
        found = cached_body(request, tag, body, media_type)
    if kind == "csv":
        day = filters.day.isoformat()
        found.headers["Content-Disposition"] = f'attachment; filename="recognition-{day}.csv"'
    return found


def _matrix_body(page: Page, filters: MatrixFilters, revision: int, kind: MatrixKind) -> bytes:
    snapshot, names = page_facts(page.request, revision)
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
    page: PageDep,
    form: MatrixFormDep,
) -> Response:
    """Schemes by economies on a date: each cell the best level."""
    try:
        filters = _filters(form.on, form.type, form.hs_code)
    except InvalidInput as error:
        context = _matrix_form(form.on or today().isoformat(), form.type, form.hs_code or "", {})
        context["error"] = "; ".join(e.message for e in error.errors)
        return page.render("recognition.html", status=422, matrix=None, **context)
    return await _matrix_response(request, page, filters, "html")


@router.get("/recognition.csv")
async def recognition_csv(
    request: Request,
    page: PageDep,
    form: MatrixFormDep,
) -> Response:
    """The matrix as CSV: one row a scheme, one column an economy, cells the best level."""
    filters = _filters(form.on, form.type, form.hs_code)
    return await _matrix_response(request, page, filters, "csv")
