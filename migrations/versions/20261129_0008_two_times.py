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
- `certificate.recorded_revision` (existing rows: 0, "at or before the migration") and
  `certificate_history`: a certificate's earlier rows, each closed at the revision that
  replaced it.
- `fact_version`: the append-only log of the resolver's facts (economies, schemes, product
  categories, agreements), each version the domain object as msgspec JSON. The baseline
  versions of the facts already there are written by the first recorded write transaction
  after this migration (`persistence.versions.ensure_baseline`), recorded at the
  migration's revision: a migration does not encode the application's domain objects, and
  nothing can change a fact between the migration and that transaction (it holds the
  revision counter's lock while it writes them). Until then, reads as recorded take the
  facts as they are.
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
    op.create_table(
        "fact_version",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("recorded_revision", sa.BigInteger(), nullable=False),
        sa.Column("superseded_revision", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact_version")),
    )
    op.create_index(
        "ix_fact_version_key", "fact_version", ["kind", "key", "recorded_revision"], unique=False
    )
    op.create_index(
        op.f("ix_fact_version_recorded_revision"),
        "fact_version",
        ["recorded_revision"],
        unique=False,
    )
    op.create_table(
        "certificate_history",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("certificate_id", sa.BigInteger(), nullable=False),
        sa.Column("scheme_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        sa.Column("category_code", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=300), nullable=False),
        sa.Column("holder_economy", sa.String(length=10), nullable=False),
        sa.Column("product_name", sa.String(length=300), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("gtins", sa.JSON(), nullable=False),
        sa.Column("hs_codes", sa.JSON(), nullable=False),
        sa.Column("certification_body_id", sa.String(length=64), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status_changes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_revision", sa.BigInteger(), nullable=False),
        sa.Column("superseded_revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_history")),
    )
    op.create_index(
        "ix_certificate_history_key",
        "certificate_history",
        ["scheme_id", "number", "superseded_revision"],
        unique=False,
    )
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE registry_revision SET revision = revision + 1 WHERE id = 1"))
    # The rows already there read 0: recorded at or before the migration's revision, which
    # is all an answer as recorded can ask of them (no instant before it is answered).
    op.add_column(
        "certificate",
        sa.Column("recorded_revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    conn.execute(
        sa.text(
            "INSERT INTO registry_revision_log (revision, recorded_at) "
            "SELECT revision, :at FROM registry_revision WHERE id = 1"
        ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
        {"at": dt.datetime.now(dt.UTC)},
    )


def downgrade() -> None:
    op.drop_column("certificate", "recorded_revision")
    op.drop_index("ix_certificate_history_key", table_name="certificate_history")
    op.drop_table("certificate_history")
    op.drop_index(op.f("ix_fact_version_recorded_revision"), table_name="fact_version")
    op.drop_index("ix_fact_version_key", table_name="fact_version")
    op.drop_table("fact_version")
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
