"""Bulk certificate import over HTTP: CSV or JSON Lines, streamed, all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.exceptions import HTTPException

from ecolabel_registry.api.deps import ActorDep, RegistryDep
from ecolabel_registry.api.middleware import IMPORT_ACCEPTS, unsupported_media_message
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas import Output
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.services.imports import (
    COLUMNS,
    CertificateImportService,
    ImportFormat,
    format_of_media_type,
)

router = APIRouter(tags=["certificates"])

SchemePath = Annotated[str, Path(max_length=64, description="The scheme's slug.")]


def import_service(registry: RegistryDep) -> CertificateImportService:
    """The import service over this request's transaction and its bulk paths."""
    return CertificateImportService(registry, SqlCertificateBulkStore(registry.session))


ImportsDep = Annotated[CertificateImportService, Depends(import_service)]


class CertificateImportRead(Output):
    created: int
    updated: int
    unchanged: int
    rows: int


def _body(request: Request) -> Iterator[bytes]:
    """The request body chunk by chunk, as it arrives (this handler runs in a worker thread)."""
    stream = request.stream()
    while True:
        try:
            chunk = anyio.from_thread.run(stream.__anext__)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


_ROW_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": "One header line with columns from: " + ", ".join(COLUMNS),
}


@router.post(
    "/v1/schemes/{scheme_id}/certificates/import",
    responses=responses(401, 403, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": (
                "CSV with a header line, or JSON Lines (one certificate object a line; with "
                "`format=untp-dcc`, one UNTP Digital Conformity Credential a line). "
                "See docs/import-export.md for the columns and the DCC mapping."
            ),
            "content": {
                "text/csv": {"schema": _ROW_SCHEMA},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
def import_certificates(
    scheme_id: SchemePath,
    request: Request,
    service: ImportsDep,
    actor: ActorDep,
    format: Annotated[
        Literal["untp-dcc"] | None,
        Query(
            description="`untp-dcc`: the JSON Lines body holds UNTP Digital Conformity "
            "Credentials, one a line; absent: the registry's own columns."
        ),
    ] = None,
) -> CertificateImportRead:
    """Create or update many certificates from CSV or JSON Lines: every row, or none.

    Any bad row rejects the whole file with a 422 listing every bad row (the first 1,000
    errors). Rows matching an existing certificate update it; a changed status appends a
    status event; sending the same file again changes nothing.
    """
    fmt = format_of_media_type(request.headers.get("content-type"))
    if fmt is None:
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip()
        raise HTTPException(415, unsupported_media_message(IMPORT_ACCEPTS, media or None))
    if format is not None:
        if fmt is not ImportFormat.JSONL:
            raise HTTPException(
                415, "send UNTP DCCs as JSON Lines (Content-Type: application/x-ndjson)"
            )
        fmt = ImportFormat.UNTP_DCC
    report = service.import_certificates(actor, scheme_id, _body(request), fmt)
    return CertificateImportRead(
        created=report.created, updated=report.updated, unchanged=report.unchanged, rows=report.rows
    )
