"""Decisions on the record: each decision's signed receipt and what is looked up without it.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-29 19:50:00.000000

The receipt (a compact JWS) holds the whole decision: question(s), answer(s), registry
revision and instant; the other columns repeat what is read without decoding it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
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


def downgrade() -> None:
    op.drop_index(op.f("ix_decision_api_key_id"), table_name="decision")
    op.drop_table("decision")
