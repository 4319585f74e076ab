"""The certificate text search: the database's own index, read by `/v1/certificates?q=`.

Migration 0007 makes the structures; they are not models (`tables.py`), so the drift check
and autogenerate skip them by name (`include_name`).

- SQLite: `certificate_fts`, an FTS5 external-content table over the certificate's number,
  holder, product name, brand and model with the `trigram` tokenizer (any substring of three
  characters or more, case-insensitive), kept in step by triggers on `certificate` (so every
  writer, the import's bulk path included, keeps it current).
- PostgreSQL: a GIN `pg_trgm` index on `ecolabel_certificate_text(...)`, an immutable
  function joining the same fields in lower case; PostgreSQL keeps the index in step itself.

A term of fewer than three characters has no trigram to look up: it is matched by scanning
the rows the other terms left (correct, not indexed). A term that is a GTIN in any form also
matches the certificate's GTINs in their 14-digit form (`certificate_gtin`, indexed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    TableClause,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
)

from ecolabel_registry.persistence.tables import CertificateGtinRow, CertificateRow
from ecolabel_registry.services.ports.registry import SearchTerm

FTS_TABLE = "certificate_fts"
PG_FUNCTION = "ecolabel_certificate_text"
PG_INDEX = "ix_certificate_text_trgm"
# Names the models do not declare: the FTS5 table and its shadow tables, the trigram index.
NOT_MODELS = frozenset(
    {FTS_TABLE}
    | {f"{FTS_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")}
    | {PG_INDEX}
)
TEXT_COLUMNS = ("number", "holder_name", "product_name", "brand", "model")
# Terms shorter than this have no trigram (FTS5 trigram and pg_trgm alike).
TRIGRAM = 3


def include_name(name: str | None, type_: str, parent_names: object) -> bool:  # noqa: ARG001
    """For Alembic's compare: skip the search structures, which are not models."""
    return name not in NOT_MODELS


def _quoted_phrase(term: str) -> str:
    """An FTS5 string: the term as one phrase (a double quote inside is doubled)."""
    return '"' + term.replace('"', '""') + '"'


def _pg_text() -> ColumnElement[str]:
    return func.ecolabel_certificate_text(
        *(getattr(CertificateRow, column) for column in TEXT_COLUMNS)
    )


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_match(dialect: Literal["sqlite", "postgresql"], term: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return _pg_text().like(f"%{_escaped(term)}%", escape="\\")
    if len(term) >= TRIGRAM:
        fts = table(FTS_TABLE, column("rowid"))
        return CertificateRow.id.in_(
            select(fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(_quoted_phrase(term)))
        )
    return or_(
        *(
            func.instr(func.lower(func.coalesce(getattr(CertificateRow, column), "")), term) > 0
            for column in TEXT_COLUMNS
        )
    )


def fts_driver(dialect: str, terms: Sequence[SearchTerm]) -> FtsDriver | None:
    """On SQLite, the FTS5 table to read the certificates from, in rowid order, with every
    term that has trigrams and is not a GTIN in one MATCH (None: no such term, or PostgreSQL).

    Read this way (the FTS table first, its rowid ordered and bounded by the cursor), SQLite
    walks the matching rows in order and stops at the page's end; as `certificate.id IN
    (SELECT rowid ... MATCH ...)` it would first list every match of every word (a word in
    every holder name lists every certificate).
    """
    if dialect == "postgresql":
        return None
    indexed = [t for t in terms if len(t.text) >= TRIGRAM and t.gtin is None]
    if not indexed:
        return None
    fts = table(FTS_TABLE, column("rowid"))
    match = literal_column(FTS_TABLE).op("MATCH")(
        " AND ".join(_quoted_phrase(t.text) for t in indexed)
    )
    return FtsDriver(fts.c.rowid, fts, match, tuple(t for t in terms if t not in indexed))


@dataclass(frozen=True)
class FtsDriver:
    """The FTS5 table a search reads first, its MATCH, and the terms left to check."""

    rowid: ColumnElement[int]
    table: TableClause
    match: ColumnElement[bool]
    rest: tuple[SearchTerm, ...]


def term_match(dialect: str, term: SearchTerm) -> ColumnElement[bool]:
    """Certificates whose text holds the term (or whose GTINs include it, when it is one)."""
    engine: Literal["sqlite", "postgresql"] = "postgresql" if dialect == "postgresql" else "sqlite"
    matched = _text_match(engine, term.text)
    if term.gtin is None:
        return matched
    return or_(
        matched,
        exists().where(
            CertificateGtinRow.certificate_id == CertificateRow.id,
            CertificateGtinRow.gtin == term.gtin,
        ),
    )
