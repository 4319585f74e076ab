"""The certificate search by words: the database's own index, read by `/v1/certificates?q=`.

Migration 0011 makes the structures; they are not models (`tables.py`), so the drift check
and autogenerate skip them by name (`include_name`).

A word is a run of letters and digits (everything else separates words), compared in lower
case. A query word (`SearchTerm.text`, a run of the search box without spaces) is found when
it is the beginning of a word of the certificate's number, holder, product name, brand or
model. A query word holding separators (`BENCH-0001-0024542`, `kt-200`) is a phrase: its
parts are consecutive words of one field, the last part the beginning of a word.

- SQLite: `certificate_words`, an FTS5 external-content table over the five fields with the
  `unicode61` tokenizer and prefix indexes of 1 to 8 characters, kept in step by triggers on
  `certificate` (so every writer, the import's bulk path included, keeps it current). A
  search reads it first, every indexed word in one MATCH (`"holder"* AND "00123"*`), in
  rowid order from the cursor, and stops at the page's end.
- PostgreSQL: a GIN index on `ecolabel_certificate_words(...)`, an immutable function giving
  every word and its prefixes of 1 to 8 characters as a tsvector; a query word of up to 8
  characters is then one entry of the index (`'holder' & '00123'`), a longer one a prefix
  query (`'generated':*`). A phrase is looked up by its longest part in the index, and
  checked on the rows found with a regular expression on the fields.

Chinese and Japanese are written without spaces, so a whole run of such characters is one
word: a query word holding Han, Hiragana or Katakana characters is instead looked for as a
piece of text anywhere in the fields (like `instr`), which no index serves: it is checked on
the rows the other words leave, or on the certificates in order until the page is full.

A query word that is a GTIN in any form also matches the certificate's GTINs in their
14-digit form (`certificate_gtin`, indexed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    TableClause,
    and_,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import aliased

from ecolabel_registry.persistence.tables import CertificateGtinRow, CertificateRow
from ecolabel_registry.services.ports.registry import SearchTerm

FTS_TABLE = "certificate_words"
PG_FUNCTION = "ecolabel_certificate_words"
PG_INDEX = "ix_certificate_words"
# Migration 0007's structures (until 0011 replaces them).
_TRIGRAM_NAMES = ("certificate_fts", "ix_certificate_text_trgm")
_FTS_SHADOWS = ("data", "idx", "content", "docsize", "config")
# Names the models do not declare: the FTS5 tables and their shadow tables, the GIN indexes.
NOT_MODELS = frozenset(
    {FTS_TABLE, PG_INDEX, *_TRIGRAM_NAMES}
    | {f"{fts}_{shadow}" for fts in (FTS_TABLE, "certificate_fts") for shadow in _FTS_SHADOWS}
)
TEXT_COLUMNS = ("number", "holder_name", "product_name", "brand", "model")
# The longest prefix the indexes hold as such (FTS5 `prefix=`, the PostgreSQL function).
PREFIX_INDEXED = 8
# Letters and digits (Python's \w without the underscore), as unicode61 and [[:alnum:]] see them.
_WORD = re.compile(r"[^\W_]+")
# Scripts written without spaces between words: Hiragana, Katakana, CJK ideographs.
_UNSPACED = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:  # noqa: ARG001
    """For Alembic's compare: skip the search structures, which are not models."""
    return name not in NOT_MODELS


def parts(term: SearchTerm) -> list[str]:
    """The words of a query word (`kt-200`: `kt`, `200`)."""
    return _WORD.findall(term.text)


def _indexed(term: SearchTerm) -> bool:
    return term.gtin is None and not _UNSPACED.search(term.text) and bool(parts(term))


def _fts_query(words: Sequence[str]) -> str:
    """An FTS5 phrase: the words in a row, the last one a prefix (`"kt" + "200"*`)."""
    return " + ".join(f'"{w}"' for w in words) + "*"


def _fts_match(terms: Sequence[SearchTerm]) -> ColumnElement[bool]:
    return literal_column(FTS_TABLE).op("MATCH")(" AND ".join(_fts_query(parts(t)) for t in terms))


def _tsquery(words: Sequence[str]) -> str:
    """Every word of a query word as a prefix: one entry of the index when it is short."""

    def entry(word: str) -> str:
        quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted if len(word) <= PREFIX_INDEXED else f"{quoted}:*"

    return " & ".join(entry(w) for w in words)


def _phrase_pattern(words: Sequence[str]) -> str:
    """A regular expression for the words in a row within a field, the last a prefix."""
    return r"(^|[^[:alnum:]])" + r"[^[:alnum:]\n]+".join(re.escape(w) for w in words)


def _fields(row: Any) -> list[ColumnElement[str]]:
    return [getattr(row, c) for c in TEXT_COLUMNS]


def _pg_words(row: Any) -> ColumnElement[str]:
    return func.ecolabel_certificate_words(*_fields(row))


def _pg_match(row: Any, words: Sequence[str]) -> ColumnElement[bool]:
    """The word through the index; a phrase through the index by its longest part (the
    likeliest to be rare: `0024542` of `BENCH-0001-0024542`), then the regular expression
    on the rows found. The other parts stay out of the GIN query: a part in most
    certificates (`bench`) would make GIN decode most of its posting tree."""
    if len(words) == 1:
        return _pg_words(row).op("@@")(cast(literal(_tsquery(words)), TSQUERY))
    longest = max(reversed(words), key=len)
    found = _pg_words(row).op("@@")(cast(literal(_tsquery([longest])), TSQUERY))
    text = func.lower(func.concat_ws("\n", *_fields(row)))
    return and_(found, text.op("~")(_phrase_pattern(words)))


def _pieces(dialect: str, row: Any, words: Sequence[str]) -> ColumnElement[bool]:
    """Every word anywhere in a field, as a piece of text (no index)."""
    if dialect == "postgresql":
        text = func.lower(func.concat_ws("\n", *_fields(row)))
        return and_(*(func.strpos(text, w) > 0 for w in words))
    return and_(
        *(
            or_(*(func.instr(func.lower(func.coalesce(f, "")), w) > 0 for f in _fields(row)))
            for w in words
        )
    )


def fts_driver(dialect: str, terms: Sequence[SearchTerm]) -> FtsDriver | None:
    """On SQLite, the FTS5 table to read the certificates from, in rowid order, with every
    word the index serves in one MATCH (None: no such word, or PostgreSQL).

    Read this way (the FTS table first, its rowid ordered and bounded by the cursor), SQLite
    walks the matching rows in order and stops at the page's end; as `certificate.id IN
    (SELECT rowid ... MATCH ...)` it would first list every match of every word (a word in
    every holder name lists every certificate).
    """
    if dialect == "postgresql":
        return None
    indexed = [t for t in terms if _indexed(t)]
    if not indexed:
        return None
    fts = table(FTS_TABLE, column("rowid"))
    return FtsDriver(
        fts.c.rowid, fts, _fts_match(indexed), tuple(t for t in terms if t not in indexed)
    )


@dataclass(frozen=True)
class FtsDriver:
    """The FTS5 table a search reads first, its MATCH, and the terms left to check."""

    rowid: ColumnElement[int]
    table: TableClause
    match: ColumnElement[bool]
    rest: tuple[SearchTerm, ...]


def term_match(dialect: str, term: SearchTerm) -> ColumnElement[bool]:
    """Certificates with the query word (or whose GTINs include it, when it is one)."""
    words = parts(term)
    if not words:
        return false()
    if _UNSPACED.search(term.text):
        return _pieces(dialect, CertificateRow, words)
    if term.gtin is None:
        if dialect == "postgresql":
            return _pg_match(CertificateRow, words)
        return CertificateRow.id.in_(_fts_ids([term]))
    # Either index: the ids found by the words and by the GTIN, so each side uses its index.
    gtins = select(CertificateGtinRow.certificate_id).where(CertificateGtinRow.gtin == term.gtin)
    if dialect == "postgresql":
        other = aliased(CertificateRow)
        by_words = select(other.id).where(_pg_match(other, words))
    else:
        by_words = _fts_ids([term])
    return CertificateRow.id.in_(union(by_words, gtins))


def _fts_ids(terms: Sequence[SearchTerm]) -> Select[tuple[int]]:
    fts = table(FTS_TABLE, column("rowid"))
    return select(fts.c.rowid).where(_fts_match(terms))
