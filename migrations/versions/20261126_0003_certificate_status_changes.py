"""Certificate status changes on the certificate's row, for the batch resolver's reads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status_changes", sa.Text(), server_default="[]", nullable=False)
        )
    # Existing certificates: their events, as persistence.status_changes writes them (the
    # SQL is repeated here so that this migration keeps meaning what it meant when written).
    if op.get_bind().dialect.name == "postgresql":
        changes = (
            "COALESCE((SELECT json_agg(json_build_array(e.status, e.effective_date) "
            "ORDER BY e.id)::text FROM certificate_status_event e "
            "WHERE e.certificate_id = certificate.id), '[]')"
        )
    else:
        changes = (
            "COALESCE((SELECT json_group_array(json_array(o.status, o.effective_date)) FROM "
            "(SELECT status, effective_date FROM certificate_status_event "
            "WHERE certificate_id = certificate.id ORDER BY id) o), '[]')"
        )
    op.execute(
        f"UPDATE certificate SET status_changes = {changes} "
        "WHERE EXISTS (SELECT 1 FROM certificate_status_event e "
        "WHERE e.certificate_id = certificate.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_column("status_changes")
