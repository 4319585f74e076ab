"""Certificate search by words: word-prefix indexes replace the trigram indexes of 0007.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 05:00:00.000000

`GET /v1/certificates?q=` finds a certificate when every query word is the beginning of a
word of its number, holder, product name, brand or model (see persistence/search.py).

- SQLite: `certificate_words`, an FTS5 external-content table (content `certificate`, rowid
  its id) with the `unicode61` tokenizer (letters and digits make words, case folded,
  diacritics kept) and prefix indexes for prefixes of 1 to 8 characters, kept in step by
  triggers after insert, update and delete on `certificate`, like 0007's. It replaces
  0007's trigram table `certificate_fts` and its triggers. A later migration that rebuilds
  `certificate` in batch mode drops these triggers with the old table and must create them
  again.
- PostgreSQL: `ecolabel_certificate_words(...)`, an immutable function giving the lower-case
  words of the five fields (split on every character that is not a letter or digit) and
  every prefix of 1 to 8 characters of each, as a tsvector; a GIN index on it replaces
  0007's trigram index and function (the `pg_trgm` extension is left installed).

Downgrade restores 0007's structures.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("number", "holder_name", "product_name", "brand", "model")
_LIST = ", ".join(_COLUMNS)


def _values(prefix: str) -> str:
    return ", ".join(f"{prefix}.{c}" for c in _COLUMNS)


def _fts(table: str, tokenize: str) -> tuple[str, ...]:
    """An FTS5 external-content table over the five fields and its three triggers."""
    return (
        f"CREATE VIRTUAL TABLE {table} USING fts5("
        f"{_LIST}, content='certificate', content_rowid='id', {tokenize})",
        f"CREATE TRIGGER {table}_insert AFTER INSERT ON certificate BEGIN "
        f"INSERT INTO {table}(rowid, {_LIST}) VALUES (new.id, {_values('new')}); END",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON certificate BEGIN "
        f"INSERT INTO {table}({table}, rowid, {_LIST}) "
        f"VALUES ('delete', old.id, {_values('old')}); END",
        f"CREATE TRIGGER {table}_update AFTER UPDATE OF {_LIST} ON certificate BEGIN "
        f"INSERT INTO {table}({table}, rowid, {_LIST}) "
        f"VALUES ('delete', old.id, {_values('old')}); "
        f"INSERT INTO {table}(rowid, {_LIST}) VALUES (new.id, {_values('new')}); END",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",
    )


def _drop_fts(table: str) -> tuple[str, ...]:
    return (
        f"DROP TRIGGER IF EXISTS {table}_update",
        f"DROP TRIGGER IF EXISTS {table}_delete",
        f"DROP TRIGGER IF EXISTS {table}_insert",
        f"DROP TABLE IF EXISTS {table}",
    )


_WORDS_FTS = _fts(
    "certificate_words", "tokenize='unicode61 remove_diacritics 0', prefix='1 2 3 4 5 6 7 8'"
)
_TRIGRAM_FTS = _fts("certificate_fts", "tokenize='trigram'")

_PG_ARGS = "number text, holder_name text, product_name text, brand text, model text"
# Each word (a run of letters and digits, lower case) and its prefixes of 1 to 8 characters
# (`left(w, 9)` stands for the whole word). COST tells the planner that computing it for a
# row is expensive (a filter on it is worse than the index). PARALLEL UNSAFE keeps a search
# in one process: starting workers cost more than a page of results (and GIN indexes are
# not built in parallel). `fastupdate = off`: rows go into the index as they are written,
# not into a pending list that every search would read through until a vacuum.
_PG_WORDS = (
    f"CREATE FUNCTION ecolabel_certificate_words({_PG_ARGS}) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE PARALLEL UNSAFE COST 10000 AS $$ "
    "SELECT coalesce(array_to_tsvector(array_agg(CASE WHEN k = 9 THEN w ELSE left(w, k) END)), "
    "''::tsvector) "
    "FROM unnest(string_to_array(btrim(regexp_replace("
    f"lower(concat_ws(' ', {_LIST})), '[^[:alnum:]]+', ' ', 'g')), ' ')) AS w, "
    "generate_series(1, 9) AS k $$",
    "CREATE INDEX ix_certificate_words ON certificate USING gin "
    f"(ecolabel_certificate_words({_LIST})) WITH (fastupdate = off)",
)
_PG_WORDS_DOWN = (
    "DROP INDEX IF EXISTS ix_certificate_words",
    f"DROP FUNCTION IF EXISTS ecolabel_certificate_words({_PG_ARGS})",
)
_PG_TRIGRAM = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE FUNCTION ecolabel_certificate_text({_PG_ARGS}) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    f"$$ SELECT lower(concat_ws(' ', {_LIST})) $$",
    "CREATE INDEX ix_certificate_text_trgm ON certificate USING gin "
    f"(ecolabel_certificate_text({_LIST}) gin_trgm_ops)",
)
_PG_TRIGRAM_DOWN = (
    "DROP INDEX IF EXISTS ix_certificate_text_trgm",
    f"DROP FUNCTION IF EXISTS ecolabel_certificate_text({_PG_ARGS})",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    statements = (
        _PG_TRIGRAM_DOWN + _PG_WORDS if postgres else _drop_fts("certificate_fts") + _WORDS_FTS
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    statements = (
        _PG_WORDS_DOWN + _PG_TRIGRAM if postgres else _drop_fts("certificate_words") + _TRIGRAM_FTS
    )
    for statement in statements:
        op.execute(statement)
