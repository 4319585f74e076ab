"""Bulk certificate import (CSV, JSON Lines, UNTP DCC) and export: all-or-nothing, streamed.

The import reads the file once, row by row (`formats`), and checks every row with the same
rules as a single create (`rows`, over cached look-ups of categories, economies and bodies).
Valid rows go to a staging area (`CertificateBulkStore` in `services.ports.imports`,
implemented with the database's bulk paths in `persistence.bulk`) in chunks; duplicates
inside the file and the comparison with existing certificates are set-based (`service`).
Nothing is merged unless every row is good; the caller's transaction is rolled back on the
error. `export` writes the certificates back out in the same formats.
"""

from ecolabel_registry.services.imports.formats import (
    MAX_LISTED_ERRORS,
    MEDIA_TYPES,
    ImportFormat,
    format_of_media_type,
)
from ecolabel_registry.services.imports.rows import ImportRejected
from ecolabel_registry.services.imports.service import CertificateImportService, ImportReport
from ecolabel_registry.services.ports.imports import (
    COLUMNS,
    REQUIRED_COLUMNS,
    CertificateBulkStore,
    ExistingMatch,
    StagedCertificate,
    neutralize_cell,
    restore_cell,
)

__all__ = [
    "COLUMNS",
    "MAX_LISTED_ERRORS",
    "MEDIA_TYPES",
    "REQUIRED_COLUMNS",
    "CertificateBulkStore",
    "CertificateImportService",
    "ExistingMatch",
    "ImportFormat",
    "ImportRejected",
    "ImportReport",
    "StagedCertificate",
    "format_of_media_type",
    "neutralize_cell",
    "restore_cell",
]
