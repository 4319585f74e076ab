"""SQL repositories: the services' ports over one SQLAlchemy session (one transaction).

One module per aggregate over a shared base of versioned writes (`base`); `SqlRegistry`
(`registry`) composes them into the unit of work of one request.
"""

from ecolabel_registry.persistence.repositories.agreements import SqlAgreementRepository
from ecolabel_registry.persistence.repositories.base import event_from_row, hold_write_lock
from ecolabel_registry.persistence.repositories.bodies import SqlBodyRepository
from ecolabel_registry.persistence.repositories.certificates import (
    SqlCertificateRepository,
    certificate_from_row,
)
from ecolabel_registry.persistence.repositories.economies import SqlEconomyRepository
from ecolabel_registry.persistence.repositories.keys import SqlApiKeyRepository
from ecolabel_registry.persistence.repositories.registry import SqlRegistry
from ecolabel_registry.persistence.repositories.schemes import (
    SqlCategoryRepository,
    SqlSchemeRepository,
    category_from_row,
    hs_matches,
)

__all__ = [
    "SqlAgreementRepository",
    "SqlApiKeyRepository",
    "SqlBodyRepository",
    "SqlCategoryRepository",
    "SqlCertificateRepository",
    "SqlEconomyRepository",
    "SqlRegistry",
    "SqlSchemeRepository",
    "category_from_row",
    "certificate_from_row",
    "event_from_row",
    "hold_write_lock",
    "hs_matches",
]
