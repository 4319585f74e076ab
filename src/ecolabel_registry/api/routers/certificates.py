"""Certificates under a scheme, their status events, and the search across schemes."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.convertors import PathConvertor, register_url_convertor

from ecolabel_registry.api.deps import (
    ActorDep,
    AsRecordedQuery,
    CertificatesDep,
    Cursor,
    IfMatchDep,
    ImportsDep,
    Limit,
    RecordedDep,
    SchemePath,
    certificate_search,
    etag,
    import_service_of,
    instant_of,
    tag,
    today,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.query import QuickRoute, declared_bounds, declared_route, declared_values
from ecolabel_registry.api.routers.status_events import History, status_event_routes
from ecolabel_registry.api.schemas.certificates import (
    CertificateCreate,
    CertificateRead,
    CertificateStatusEventCreate,
    CertificateUpdate,
    certificate_page_json,
)
from ecolabel_registry.api.schemas.common import PageOut, changes
from ecolabel_registry.api.streaming import ClosingStream
from ecolabel_registry.domain.validation import (
    CERTIFICATE_SUB_RESOURCES,
    GTIN_PATTERN,
    HS_CODE_PATTERN,
)
from ecolabel_registry.services.certificates import search_terms
from ecolabel_registry.services.imports import ImportFormat
from ecolabel_registry.services.ports.registry import CertificateFilter


class CertificateNumberConvertor(PathConvertor):
    """A certificate number in a path: may hold "/", never ends in a sub-resource's segment.

    So `…/{number}/markets` and `…/{number}/status-events` only ever reach their own routes,
    whatever the method (a PATCH there is a 405, never an update of a certificate numbered
    "…/markets"); the registry refuses such numbers when a certificate is created.
    """

    # At no position inside the number: "/markets" or "/status-events" ending the path.
    regex = f"(?:(?!/(?:{'|'.join(CERTIFICATE_SUB_RESOURCES)})$).)+"


register_url_convertor("certificate_number", CertificateNumberConvertor())

router = APIRouter(tags=["certificates"])
# Certificate numbers may hold "/" (FR/044/017): a path ending in a sub-resource's segment is
# that sub-resource's (see CertificateNumberConvertor).
NumberPath = Annotated[
    str, Path(max_length=100, description="The certificate number within the scheme.")
]
BASE = "/v1/schemes/{scheme_id}/certificates"


def certificate_url(scheme_id: str, number: str) -> str:
    """The certificate's path, its number percent-encoded ("/" kept: the routes accept it)."""
    return f"/v1/schemes/{scheme_id}/certificates/{quote(number, safe='/')}"


EXPORT_MEDIA_TYPES = {
    ImportFormat.CSV: "text/csv",
    ImportFormat.JSONL: "application/x-ndjson",
    ImportFormat.UNTP_DCC: "application/x-ndjson",
}
EXPORT_EXTENSIONS = {
    ImportFormat.CSV: "csv",
    ImportFormat.JSONL: "jsonl",
    ImportFormat.UNTP_DCC: "jsonl",
}
# A single UNTP DCC is a W3C Verifiable Credential (unsigned here).
CREDENTIAL_MEDIA_TYPE = "application/vc+ld+json"
JSON = "application/json"


@router.get(
    BASE,
    response_model=PageOut[CertificateRead],
    responses={
        **responses(404, 422),
        200: {
            "description": "A page of certificates, or with `format` the whole export, streamed.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
    },
)
async def list_certificates(
    request: Request,
    scheme_id: SchemePath,
    limit: Limit = 50,
    cursor: Cursor = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    certification_body: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[
        ImportFormat | None,
        Query(
            description="`csv`, `jsonl` or `untp-dcc` (UNTP Digital Conformity Credentials, "
            "one a line): every matching certificate as a streamed file in the import format "
            "(limit and cursor do not apply); absent: a JSON page."
        ),
    ] = None,
) -> Response:
    """A scheme's certificates, in registration order (or all of them as CSV / JSON Lines)."""
    filters = CertificateFilter(
        scheme_id=scheme_id, category_code=category, certification_body_id=certification_body
    )
    search = certificate_search(request)  # on the hot reads, as the search
    if format is not None:
        await search.search(filters, None, 1)  # NotFound for an unknown scheme, before streaming
        factory: sessionmaker[Session] = request.app.state.sessionmaker
        return ClosingStream(
            _export(factory, scheme_id, format, filters),
            request.app.state.export_slots,
            media_type=EXPORT_MEDIA_TYPES[format],
            headers={
                "Content-Disposition": (
                    f'attachment; filename="{scheme_id}-certificates.{EXPORT_EXTENSIONS[format]}"'
                )
            },
            what="exports",
            stall_seconds=request.app.state.settings.export_stall_seconds,
        )
    page = await search.search(filters, cursor, limit)
    return Response(certificate_page_json(page, today()), media_type=JSON)


def _export(
    factory: sessionmaker[Session],
    scheme_id: str,
    fmt: ImportFormat,
    filters: CertificateFilter,
) -> Generator[str, None, None]:
    """The export read in keyset pages, in its own read-only session.

    Each page is read in a transaction of its own, ended before its text is handed out: no
    connection is held while the client reads (or stops reading). Closing this iterator
    (ClosingStream does, as soon as the response ends) closes the session.
    """
    with factory() as session:
        service = import_service_of(session)
        for piece in service.export(scheme_id, fmt, filters):
            session.rollback()
            yield piece
        session.rollback()


@router.post(BASE, status_code=201, responses=responses(401, 403, 404, 409, 422))
def create_certificate(
    scheme_id: SchemePath,
    body: CertificateCreate,
    service: CertificatesDep,
    actor: ActorDep,
    response: Response,
) -> CertificateRead:
    """Register a certificate; its status history starts `active` on `valid_from`."""
    saved = service.create(actor, body.to_domain(scheme_id))
    tag(response, saved.version, certificate_url(scheme_id, saved.number))
    return CertificateRead.of(saved, today())


def _certificate_history(
    scheme_id: SchemePath, number: NumberPath, service: CertificatesDep
) -> History:
    return History(
        certificate_url(scheme_id, number) + "/status-events",
        partial(service.status_events, scheme_id, number),
        lambda actor, event: service.add_status_event(actor, scheme_id, number, event),
    )


status_event_routes(
    router,
    BASE + "/{number:path}/status-events",
    _certificate_history,
    CertificateStatusEventCreate,
    "certificate",
    (
        "The certificate's status history, in the order it was recorded, a page at a time.",
        "Append a status event (suspend, reinstate, withdraw) with its effective date and reason.",
    ),
)


@router.get(
    BASE + "/{number:certificate_number}",
    response_model=CertificateRead,
    responses={
        **responses(404, 422),
        200: {
            "description": "The certificate, or with `format=untp-dcc` its UNTP Digital "
            "Conformity Credential (unsigned).",
            "content": {CREDENTIAL_MEDIA_TYPE: {"schema": {"type": "object"}}},
        },
    },
)
def get_certificate(
    scheme_id: SchemePath,
    number: NumberPath,
    service: CertificatesDep,
    imports: ImportsDep,
    recorded: RecordedDep,
    response: Response,
    format: Annotated[
        Literal["untp-dcc"] | None,
        Query(
            description="`untp-dcc`: the certificate as an unsigned UNTP Digital Conformity "
            "Credential (a W3C Verifiable Credential); absent: the registry's JSON."
        ),
    ] = None,
    as_recorded: AsRecordedQuery = None,
) -> CertificateRead | Response:
    """One certificate with its status history (or as a UNTP Digital Conformity Credential).

    With `as_recorded`: the certificate as the registry had recorded it at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    if instant is None:
        saved = service.get(scheme_id, number)
    else:
        saved = recorded.certificate(scheme_id, number, instant)
    if format is not None:
        return Response(
            json.dumps(imports.credential(saved), ensure_ascii=False),
            media_type=CREDENTIAL_MEDIA_TYPE,
            headers={"ETag": etag(saved.version)},
        )
    tag(response, saved.version)
    return CertificateRead.of(saved, today())


@router.patch(
    BASE + "/{number:certificate_number}", responses=responses(401, 403, 404, 412, 422, 428)
)
def update_certificate(
    scheme_id: SchemePath,
    number: NumberPath,
    body: CertificateUpdate,
    service: CertificatesDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> CertificateRead:
    """Change a certificate's fields (status changes are events). Needs If-Match."""
    saved = service.update(
        actor, scheme_id, number, changes(body, frozenset({"brand", "model"})), version
    )
    tag(response, saved.version)
    return CertificateRead.of(saved, today())


async def search_certificates(
    request: Request,
    limit: Limit = 50,
    cursor: Cursor = None,
    gtin: Annotated[
        str | None,
        Query(
            pattern=GTIN_PATTERN,
            description="A GTIN-8, -12, -13 or -14 in any form: 4006381333931 and "
            "04006381333931 find the same certificates (GTINs are stored in 14 digits).",
        ),
    ] = None,
    holder: Annotated[
        str | None,
        Query(min_length=1, max_length=300, description="Part of the holder's name, any case."),
    ] = None,
    hs_code: Annotated[
        str | None, Query(pattern=HS_CODE_PATTERN, description="Matches HS prefixes either way.")
    ] = None,
    scheme: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Words to find, each the beginning of a word of the certificate's "
            "number, holder, product name, brand or model (any case; `ket` finds Kettle), or a "
            "GTIN it lists (in any form): `q=acme kettle`. Up to 8 words. Characters other "
            "than letters and digits separate words; a word holding some is found as its "
            "parts in a row (`q=BENCH-0001-0024542`). Chinese and Japanese are found anywhere "
            "in a field.",
        ),
    ] = None,
) -> Response:
    """Search certificates across schemes by words, GTIN, holder, HS code and scheme."""
    return await _search(request, Search(limit, cursor, gtin, holder, hs_code, scheme, q))


@dataclass(frozen=True, slots=True)
class Search:
    """The parameters of `search_certificates`, as FastAPI gives them or `checked_search`
    finds them."""

    limit: int = 50
    cursor: str | None = None
    gtin: str | None = None
    holder: str | None = None
    hs_code: str | None = None
    scheme: str | None = None
    q: str | None = None


async def _search(request: Request, asked: Search) -> Response:
    """The page of the search: one plain-SQL statement on the hot reads (no session, no
    threadpool hop), written by the one writer of pages of certificates."""
    filters = CertificateFilter(
        scheme_id=asked.scheme,
        gtin=asked.gtin,
        holder=asked.holder,
        hs_code=asked.hs_code,
        terms=() if asked.q is None else search_terms(asked.q),
    )
    page = await certificate_search(request).search(filters, asked.cursor, asked.limit)
    return Response(certificate_page_json(page, today()), media_type=JSON)


class QuickSearchRoute(QuickRoute[Search]):
    """`GET /v1/certificates`'s route: the quick way for a plain search (`QuickRoute`, as
    `GET /v1/equivalence`'s); both ways answer through `_search`."""

    def check(self, items: list[tuple[str, str]]) -> Search | None:
        return checked_search(items)

    def answer(self, request: Request, asked: Search) -> Awaitable[Response]:
        return _search(request, asked)


router.add_api_route(
    "/v1/certificates",
    search_certificates,
    methods=["GET"],
    response_model=PageOut[CertificateRead],
    responses=responses(404, 422),
    route_class_override=QuickSearchRoute,
)


_ROUTE = declared_route(router, search_certificates)
_BOUNDS = declared_bounds(_ROUTE)
_LIMIT = re.compile(r"[1-9][0-9]{0,3}")  # a limit written plainly, as an int of 1 to 4 digits


def checked_search(items: list[tuple[str, str]]) -> Search | None:
    """The parameters of `search_certificates` when FastAPI would accept `items` as they
    are, with the values it would pass; None on any doubt (a repeated name, one it does not
    declare itself, a value out of its declared bounds, a limit not written plainly), for
    FastAPI to decide and word the error."""
    values = declared_values(items, _BOUNDS)
    if values is None:
        return None
    limit = 50
    text = values.get("limit")
    if text is not None:
        if not _LIMIT.fullmatch(text) or not _BOUNDS["limit"].holds(int(text)):
            return None
        limit = int(text)
    return Search(
        limit,
        values.get("cursor"),
        values.get("gtin"),
        values.get("holder"),
        values.get("hs_code"),
        values.get("scheme"),
        values.get("q"),
    )
