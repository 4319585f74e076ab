"""Registry change log: what each revision of the resolver's cached facts changed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 16:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_change",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_registry_change")),
    )


def downgrade() -> None:
    op.drop_table("registry_change")
