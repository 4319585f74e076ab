"""Certificates under a scheme, their status events, and the search across schemes."""

from __future__ import annotations

import json
from collections.abc import Generator
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
    etag,
    import_service_of,
    instant_of,
    tag,
    today,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.certificates import (
    CertificateCreate,
    CertificateRead,
    CertificateStatusEventCreate,
    CertificateUpdate,
)
from ecolabel_registry.api.schemas.common import PageOut, StatusEventRead, changes
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
SchemePath = Annotated[str, Path(max_length=64, description="The scheme's slug.")]
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
def list_certificates(
    request: Request,
    scheme_id: SchemePath,
    service: CertificatesDep,
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
) -> PageOut[CertificateRead] | Response:
    """A scheme's certificates, in registration order (or all of them as CSV / JSON Lines)."""
    filters = CertificateFilter(
        scheme_id=scheme_id, category_code=category, certification_body_id=certification_body
    )
    if format is not None:
        service.search(filters, None, 1)  # NotFound for an unknown scheme, before streaming
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
    page = service.search(filters, cursor, limit)
    day = today()
    return PageOut.of(page, lambda c: CertificateRead.of(c, day))


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


@router.get(BASE + "/{number:path}/status-events", responses=responses(404, 422))
def list_certificate_status_events(
    scheme_id: SchemePath,
    number: NumberPath,
    service: CertificatesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[StatusEventRead]:
    """The certificate's status history, in the order it was recorded, a page at a time."""
    page = service.status_events(scheme_id, number, cursor, limit)
    return PageOut.of(page, StatusEventRead.read)


@router.post(
    BASE + "/{number:path}/status-events",
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
)
def add_certificate_status_event(
    scheme_id: SchemePath,
    number: NumberPath,
    body: CertificateStatusEventCreate,
    service: CertificatesDep,
    actor: ActorDep,
    response: Response,
) -> StatusEventRead:
    """Append a status event (suspend, reinstate, withdraw) with its effective date and reason."""
    version, event = service.add_status_event(actor, scheme_id, number, body.to_domain())
    tag(response, version, certificate_url(scheme_id, number) + "/status-events")
    return StatusEventRead.read(event)


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


@router.get("/v1/certificates", responses=responses(404, 422))
def search_certificates(
    service: CertificatesDep,
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
) -> PageOut[CertificateRead]:
    """Search certificates across schemes by words, GTIN, holder, HS code and scheme."""
    filters = CertificateFilter(
        scheme_id=scheme,
        gtin=gtin,
        holder=holder,
        hs_code=hs_code,
        terms=() if q is None else search_terms(q),
    )
    page = service.search(filters, cursor, limit)
    day = today()
    return PageOut.of(page, lambda c: CertificateRead.of(c, day))
