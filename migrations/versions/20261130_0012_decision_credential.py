"""Decisions keep their credential as compressed JSON in a table of its own, and the receipt's
header and signature on their row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 07:30:00.000000

0009 stored each decision's receipt whole: a compact JWS, whose payload (the credential) is
base64url-encoded, a third larger than the JSON it encodes. The receipt is now stored as its
three parts (RFC 7515 section 7.1): `decision.protected` (the protected header, base64url,
as signed), `decision_credential.payload` (the credential's JSON, compressed with zlib,
RFC 1950) and `decision.signature` (base64url); the receipt is the three joined by dots, the
payload decompressed and base64url-encoded again: exactly the JWS that was signed.

- A 10,000-line decision stores ~0.75 MB instead of ~7.8 MB of base64url (its JSON is
  ~5.8 MB). PostgreSQL stores the compressed bytes as they are (`STORAGE EXTERNAL`: no
  second compression is tried).
- The credential has a row of its own so that it can be written while it is being signed,
  before the decision's row (which holds the signature) exists: its foreign key to the
  decision is checked at commit (DEFERRABLE INITIALLY DEFERRED, on both engines).

Existing receipts are split, nothing recomputed; downgrade joins them again.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_decision = sa.table(
    "decision", *(sa.column(n) for n in ("id", "receipt", "protected", "signature"))
)
_credential = sa.table("decision_credential", sa.column("decision_id"), sa.column("payload"))


def _lz4(table: str, column: str) -> None:
    """PostgreSQL with lz4: the long values of `column` compressed with it (as in 0009)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    lz4 = bind.execute(
        sa.text(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
    ).first()
    if lz4 is not None:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def _without_default(*columns: str) -> None:
    """PostgreSQL: `decision`'s `columns` without the default they were added with. (SQLite
    cannot drop a default in place; there the columns keep it, and no insert relies on it.)"""
    if op.get_bind().dialect.name == "postgresql":
        for column in columns:
            op.alter_column("decision", column, server_default=None)


def _ids() -> list[str]:
    return [row.id for row in op.get_bind().execute(sa.select(_decision.c.id))]


def upgrade() -> None:
    op.create_table(
        "decision_credential",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decision.id"],
            name=op.f("fk_decision_credential_decision_id_decision"),
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decision_credential")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE decision_credential ALTER COLUMN payload SET STORAGE EXTERNAL")
    # Columns added and dropped in place, never by rebuilding `decision` (SQLite's batch mode
    # would drop the old table, and with it, by the cascade, every credential copied here).
    # A NOT NULL column is added with a default; PostgreSQL's is dropped once it is filled.
    for name in ("protected", "signature"):
        op.add_column("decision", sa.Column(name, sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    for decision_id in _ids():  # one receipt in memory at a time (one may take ~10 MB)
        receipt = bind.execute(
            sa.select(_decision.c.receipt).where(_decision.c.id == decision_id)
        ).scalar_one()
        protected, payload, signature = receipt.split(".")
        bind.execute(
            _decision.update()
            .where(_decision.c.id == decision_id)
            .values(protected=protected, signature=signature)
        )
        credential = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        bind.execute(
            _credential.insert().values(
                decision_id=decision_id, payload=zlib.compress(credential, 1)
            )
        )
    op.drop_column("decision", "receipt")
    _without_default("protected", "signature")


def downgrade() -> None:
    op.add_column("decision", sa.Column("receipt", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    for decision_id in _ids():
        protected, signature, payload = bind.execute(
            sa.select(_decision.c.protected, _decision.c.signature, _credential.c.payload)
            .join(_credential, _credential.c.decision_id == _decision.c.id)
            .where(_decision.c.id == decision_id)
        ).one()
        encoded = base64.urlsafe_b64encode(zlib.decompress(payload)).rstrip(b"=").decode()
        bind.execute(
            _decision.update()
            .where(_decision.c.id == decision_id)
            .values(receipt=f"{protected}.{encoded}.{signature}")
        )
    op.drop_table("decision_credential")
    op.drop_column("decision", "protected")
    op.drop_column("decision", "signature")
    _without_default("receipt")
    _lz4("decision", "receipt")
