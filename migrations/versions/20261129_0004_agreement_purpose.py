"""Agreement purpose: recognition (the default) or cooperation, which never gives a route.

Groups in groups need no schema change: a membership's member is already any economy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=12), server_default="recognition", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_agreement_purpose"), "purpose IN ('recognition', 'cooperation')"
        )


def downgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_agreement_purpose"), type_="check")
        batch_op.drop_column("purpose")
