"""Two times: one registry revision per recorded write transaction, logged with its instant.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:40:00.000000

- `registry_revision_log` (revision -> recorded_at): when each revision was recorded. The
  migration takes one revision for the data already there, recorded at the migration's
  instant: everything written before is "recorded since the migration".
- `registry_change` becomes the change log: one row per changed entity per revision, with a
  sequence id, kept forever. Its rows from before (pruned, facts only) are dropped: processes
  start after a migration, and reload their facts whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registry_revision_log",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_registry_revision_log")),
    )
    op.create_index(
        op.f("ix_registry_revision_log_recorded_at"),
        "registry_revision_log",
        ["recorded_at"],
        unique=False,
    )
    op.drop_table("registry_change")
    op.create_table(
        "registry_change",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_change")),
    )
    op.create_index(
        op.f("ix_registry_change_revision"), "registry_change", ["revision"], unique=False
    )
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE registry_revision SET revision = revision + 1 WHERE id = 1"))
    conn.execute(
        sa.text(
            "INSERT INTO registry_revision_log (revision, recorded_at) "
            "SELECT revision, :at FROM registry_revision WHERE id = 1"
        ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
        {"at": dt.datetime.now(dt.UTC)},
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_change_revision"), table_name="registry_change")
    op.drop_table("registry_change")
    op.create_table(
        "registry_change",
        sa.Column("revision", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_registry_change")),
    )
    op.drop_index(op.f("ix_registry_revision_log_recorded_at"), table_name="registry_revision_log")
    op.drop_table("registry_revision_log")
