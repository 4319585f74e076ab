"""PostgreSQL: the certificate search index also files each certificate under its blocks of ids.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 19:00:00.000000

A search lists its certificates in id order, a page at a time. GIN gives the rows that
hold the query's words in no order, so the first page of a frequent word (`brand 12`: 5 %
of the certificates) meant fetching and sorting every match: ~17 ms at 1M certificates,
against ~1 ms for a rare one (`docs/performance.md`, "PostgreSQL search at 1M").

`ecolabel_certificate_words` now takes the certificate's id too and adds two entries to its
words: `#` and the id's block of 10,000 (`#0` for ids 0-9,999, `#1` for the next), and `##`
and its block of 100,000 (`##0` for ids 0-99,999). No query word can name such an entry (a
word is letters and digits). A search then asks the index for the matches within the block
of 10,000 its page starts in, which the index intersects like any other word; only when
those do not fill the page, for the matches in the rest of that block of 100,000; and only
when the page is still not full, for the matches after it (persistence/search.py). The
index is built again (at 1M certificates, ~45 s) and the table analysed (the planner's
statistics of the index's expression go with the old index); its options stay those of
0014.

SQLite's search (FTS5 reads its matches in id order) is not concerned. Downgrade restores
0014's index and function.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_BLOCK = 10_000
ID_BLOCK_WIDE = 100_000
_COLUMNS = "number, holder_name, product_name, brand, model"
_ARGS = "number text, holder_name text, product_name text, brand text, model text"
_OPTIONS = "WITH (fastupdate = on, gin_pending_list_limit = 64)"


def _function(args: str, block: str) -> str:
    """0011's function (each word and its prefixes of 1 to 8 characters), with `block`
    added to its tsvector."""
    return (
        f"CREATE FUNCTION ecolabel_certificate_words({args}) RETURNS tsvector "
        "LANGUAGE sql IMMUTABLE PARALLEL UNSAFE COST 10000 AS $$ "
        "SELECT coalesce(array_to_tsvector(array_agg(CASE WHEN k = 9 THEN w ELSE left(w, k) "
        f"END)), ''::tsvector){block} "
        "FROM unnest(string_to_array(btrim(regexp_replace("
        f"lower(concat_ws(' ', {_COLUMNS})), '[^[:alnum:]]+', ' ', 'g')), ' ')) AS w, "
        "generate_series(1, 9) AS k $$"
    )


def _index(arguments: str) -> str:
    return (
        "CREATE INDEX ix_certificate_words ON certificate USING gin "
        f"(ecolabel_certificate_words({arguments})) {_OPTIONS}"
    )


def _run(*statements: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(
        _function(
            f"id bigint, {_ARGS}",
            " || array_to_tsvector(ARRAY["
            f"'#' || (id / {ID_BLOCK})::text, '##' || (id / {ID_BLOCK_WIDE})::text])",
        ),
        "DROP INDEX ix_certificate_words",
        _index(f"id, {_COLUMNS}"),
        f"DROP FUNCTION ecolabel_certificate_words({_ARGS})",
        "ANALYZE certificate",
    )


def downgrade() -> None:
    _run(
        _function(_ARGS, ""),
        "DROP INDEX ix_certificate_words",
        _index(_COLUMNS),
        f"DROP FUNCTION ecolabel_certificate_words(id bigint, {_ARGS})",
        "ANALYZE certificate",
    )
