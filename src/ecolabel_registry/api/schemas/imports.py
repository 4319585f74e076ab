"""Bodies of the bulk certificate import."""

from __future__ import annotations

from ecolabel_registry.api.schemas.common import Output


class CertificateImportRead(Output):
    created: int
    updated: int
    unchanged: int
    rows: int
