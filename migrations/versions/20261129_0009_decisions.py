"""Decisions on the record: each decision's signed receipt and what is looked up without it.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-29 19:50:00.000000

The receipt (a compact JWS) holds the whole decision: question(s), answer(s), registry
revision and instant; the other columns repeat what is read without decoding it.

PostgreSQL compresses long values (TOAST) with pglz by default, which takes ~100 ms for a
10,000-line receipt (~9 MB); where the server has lz4, the receipt column uses it (several
times faster, about as small).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=False),
        sa.Column("registry_revision", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('question', 'lines')", name=op.f("ck_decision_kind")),
        sa.CheckConstraint("line_count >= 1", name=op.f("ck_decision_line_count")),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_decision_api_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    op.create_index(op.f("ix_decision_api_key_id"), "decision", ["api_key_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        lz4 = bind.execute(
            sa.text(
                "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                "AND 'lz4' = ANY(enumvals)"
            )
        ).first()
        if lz4 is not None:
            op.execute("ALTER TABLE decision ALTER COLUMN receipt SET COMPRESSION lz4")


def downgrade() -> None:
    op.drop_index(op.f("ix_decision_api_key_id"), table_name="decision")
    op.drop_table("decision")
