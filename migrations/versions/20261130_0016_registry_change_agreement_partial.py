"""The change log's agreement index holds only the changes that name an agreement.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 21:00:00.000000

`ix_registry_change_agreement_id` (agreement, id) serves the change feed's `agreement=`
filter. Only changes of agreements and their scope entries name one; a certificate's change,
nearly every row of a registry's log, leaves it empty, so the index held an entry for each
of them that no query reads. It now holds the rows that name an agreement: an import of
1M certificates writes 1M index entries fewer (1.5 s on PostgreSQL, `docs/performance.md`),
the index at 1M shrinks from 30 MB to a few pages, and `agreement = X` still finds it
(a row equal to X names an agreement). Both engines take partial indexes.

Downgrade restores the full index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_registry_change_agreement_id"
NAMES_ONE = sa.text("agreement_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index(INDEX, table_name="registry_change")
    op.create_index(
        INDEX,
        "registry_change",
        ["agreement_id", "id"],
        postgresql_where=NAMES_ONE,
        sqlite_where=NAMES_ONE,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="registry_change")
    op.create_index(INDEX, "registry_change", ["agreement_id", "id"])
