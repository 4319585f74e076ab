"""Certificate text search: the database's own index over number, holder, product, brand, model.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 17:00:00.000000

`GET /v1/certificates?q=` finds certificates by words (see persistence/search.py).

- SQLite: `certificate_fts`, an FTS5 external-content table (content `certificate`, rowid
  its id) with the `trigram` tokenizer, and triggers after insert, update and delete on
  `certificate` that keep it in step with every writer (the import's bulk path included).
  The FTS5 documentation's "external content tables" section gives the trigger pattern.
  A later migration that rebuilds `certificate` in batch mode drops these triggers with the
  old table and must create them again.
- PostgreSQL: the `pg_trgm` extension, an immutable function joining the fields in lower
  case and a GIN trigram index on it (PostgreSQL keeps an expression index in step itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("number", "holder_name", "product_name", "brand", "model")
_LIST = ", ".join(_COLUMNS)


def _values(prefix: str) -> str:
    return ", ".join(f"{prefix}.{c}" for c in _COLUMNS)


_SQLITE = (
    "CREATE VIRTUAL TABLE certificate_fts USING fts5("
    f"{_LIST}, content='certificate', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER certificate_fts_insert AFTER INSERT ON certificate BEGIN "
    f"INSERT INTO certificate_fts(rowid, {_LIST}) VALUES (new.id, {_values('new')}); END",
    "CREATE TRIGGER certificate_fts_delete AFTER DELETE ON certificate BEGIN "
    f"INSERT INTO certificate_fts(certificate_fts, rowid, {_LIST}) "
    f"VALUES ('delete', old.id, {_values('old')}); END",
    f"CREATE TRIGGER certificate_fts_update AFTER UPDATE OF {_LIST} ON certificate BEGIN "
    f"INSERT INTO certificate_fts(certificate_fts, rowid, {_LIST}) "
    f"VALUES ('delete', old.id, {_values('old')}); "
    f"INSERT INTO certificate_fts(rowid, {_LIST}) VALUES (new.id, {_values('new')}); END",
    "INSERT INTO certificate_fts(certificate_fts) VALUES ('rebuild')",
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS certificate_fts_update",
    "DROP TRIGGER IF EXISTS certificate_fts_delete",
    "DROP TRIGGER IF EXISTS certificate_fts_insert",
    "DROP TABLE IF EXISTS certificate_fts",
)
_PG_ARGS = "number text, holder_name text, product_name text, brand text, model text"
_PG = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE FUNCTION ecolabel_certificate_text({_PG_ARGS}) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    f"$$ SELECT lower(concat_ws(' ', {_LIST})) $$",
    "CREATE INDEX ix_certificate_text_trgm ON certificate USING gin "
    f"(ecolabel_certificate_text({_LIST}) gin_trgm_ops)",
)
_PG_DOWN = (
    "DROP INDEX IF EXISTS ix_certificate_text_trgm",
    f"DROP FUNCTION IF EXISTS ecolabel_certificate_text({_PG_ARGS})",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_DOWN if postgres else _SQLITE_DOWN:
        op.execute(statement)
