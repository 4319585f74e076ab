"""Bulk certificate import over HTTP: CSV or JSON Lines, received whole, all-or-nothing."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.exceptions import HTTPException

from ecolabel_registry.api.deps import ActorDep, ImportsDep, SchemePath
from ecolabel_registry.api.middleware import IMPORT_ACCEPTS, unsupported_media_message
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.imports import CertificateImportRead
from ecolabel_registry.services.imports import (
    COLUMNS,
    ImportFormat,
    format_of_media_type,
)

router = APIRouter(tags=["certificates"])


SPOOL_MEMORY_BYTES = 16 << 20  # a larger body goes on to a temporary file


async def spooled_body(request: Request) -> AsyncIterator[IO[bytes]]:
    """The whole request body, received before the import touches the database.

    A slow sender then holds no pooled connection, no transaction and no lock on the scheme
    while its body arrives: it holds a temporary file (in memory up to 16 MB), which is
    deleted when the request ends.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    try:
        async for chunk in request.stream():
            if chunk:
                await anyio.to_thread.run_sync(spool.write, chunk)
        spool.seek(0)
        yield spool
    finally:
        spool.close()


SpooledBody = Annotated[IO[bytes], Depends(spooled_body)]


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    while chunk := spool.read(1 << 20):
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
    actor: ActorDep,
    body: SpooledBody,
    service: ImportsDep,
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
    report = service.import_certificates(actor, scheme_id, _chunks(body), fmt)
    return CertificateImportRead(
        created=report.created, updated=report.updated, unchanged=report.unchanged, rows=report.rows
    )
