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
  checked on the rows found with a regular expression on the fields. The function also
  files each certificate under its blocks of ids (of 10,000 and 100,000, migration 0015):
  a search asks first for the matches in the block its page starts in, then, only while
  the page is not full, for those in the rest of the wider block, then for those after it
  (GIN gives matches in no order, so a frequent word's first page would otherwise fetch
  and sort all its matches).

Chinese and Japanese are written without spaces, so a whole run of such characters is one
word: a query word holding Han, Hiragana or Katakana characters is instead looked for as a
piece of text anywhere in the fields (like `instr`), which no index serves: it is checked on
the rows the other words leave, or on the certificates in order until the page is full.

A query word that is a GTIN in any form also matches the certificate's GTINs in their
14-digit form (`certificate_gtin`, indexed).

`listed` is the one statement of every list of certificates (the search, a scheme's list,
the search page): its SQL is built and compiled once per shape of the filters (which filters
are given, and each query word's kind and number of parts), then only the values are bound.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    column,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased

from ecolabel_registry.persistence.repositories.schemes import hs_matching, hs_values
from ecolabel_registry.persistence.tables import (
    CategoryHsCodeRow,
    CertificateGtinRow,
    CertificateHsCodeRow,
    CertificateRow,
)
from ecolabel_registry.services.ports.registry import CertificateFilter, SearchTerm

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
# PostgreSQL's index files each certificate under `#` and its id // ID_BLOCK, and under `##`
# and its id // ID_BLOCK_WIDE (migration 0015).
ID_BLOCK = 10_000
ID_BLOCK_WIDE = 100_000
# The steps PostgreSQL looks up in its index of words.
_PG_INDEXED = ("words", "words_or_gtin")
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


def _fts_text(terms: Sequence[SearchTerm]) -> str:
    """One MATCH of every word the index serves (`"holder"* AND "00123"*`)."""
    return " AND ".join(_fts_query(parts(t)) for t in terms)


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
    return func.ecolabel_certificate_words(row.id, *_fields(row))


def _lowered(row: Any) -> ColumnElement[str]:
    return func.lower(func.concat_ws("\n", *_fields(row)))


# A list's plan: the shape of its statement (hashable: the key of the compiled statement) and
# the values to bind, in the order the shape's builder takes them. Each step of the shape
# names a filter or a query word's kind and how many values it binds.

Step = tuple[Any, ...]
Bind = Callable[[], BindParameter[Any]]

# Compiled with positional parameters, as the DBAPI connections take them (`?`, `%s`).
_DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.psycopg.dialect(paramstyle="format"),  # type: ignore[no-untyped-call]
}
_EQUAL = (
    ("scheme_id", CertificateRow.scheme_id),
    ("category_code", CertificateRow.category_code),
    ("certification_body_id", CertificateRow.certification_body_id),
)


def _term_plan(dialect: str, term: SearchTerm, steps: list[Step], values: list[Any]) -> None:
    """The step and values of one query word the FTS5 MATCH does not hold."""
    words = parts(term)
    if not words:
        steps.append(("none",))
    elif _UNSPACED.search(term.text):
        steps.append(("pieces", len(words)))
        values.extend(words)
    else:
        if dialect == "postgresql":
            longest = max(reversed(words), key=len)
            values.append(_tsquery([longest]))
            if len(words) > 1:
                values.append(_phrase_pattern(words))
        else:
            values.append(_fts_text([term]))
        kind = "words" if term.gtin is None else "words_or_gtin"
        steps.append((kind, len(words) > 1))
        if term.gtin is not None:
            values.append(term.gtin)


def _plan(
    dialect: str, filters: CertificateFilter, after: int | None, limit: int
) -> tuple[tuple[Step, ...], list[Any]]:
    steps: list[Step] = []
    values: list[Any] = []
    for name, _ in _EQUAL:
        value = getattr(filters, name)
        if value is not None:
            steps.append(("equal", name))
            values.append(value)
    if filters.gtin is not None:
        steps.append(("gtin",))
        values.append(filters.gtin)
    if filters.holder is not None:
        # "!" escapes: a backslash in the SQL's text would need quoting as the server reads
        # literals (standard_conforming_strings), which a statement compiled ahead cannot know.
        escaped = filters.holder.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        steps.append(("holder",))
        values.append(f"%{escaped}%")
    if filters.hs_code is not None:
        hs = hs_values(filters.hs_code)
        steps.append(("hs_code", len(hs)))  # the certificate's own codes, then its category's
        values.extend(hs * 2)
    terms = filters.terms
    if dialect != "postgresql":
        # SQLite reads the FTS5 table first, in rowid order, every word it serves in one
        # MATCH: it walks the matching rows in order and stops at the page's end; as
        # `certificate.id IN (SELECT rowid ... MATCH ...)` it would first list every match of
        # every word (a word in every holder name lists every certificate).
        indexed = [t for t in terms if _indexed(t)]
        if indexed:
            steps.append(("fts",))
            values.append(_fts_text(indexed))
            terms = tuple(t for t in terms if t not in indexed)
    for term in terms:
        _term_plan(dialect, term, steps, values)
    if after is not None:
        steps.append(("after",))
        values.append(after)
    if dialect == "postgresql" and any(step[0] in _PG_INDEXED for step in steps):
        first = (after or 0) + 1
        block, wide = first // ID_BLOCK, first // ID_BLOCK_WIDE
        steps.append(("blocks",))
        values.extend(
            (f"'#{block}'", f"'##{wide}'", (block + 1) * ID_BLOCK, (wide + 1) * ID_BLOCK_WIDE)
        )
    values.append(limit)
    return tuple(steps), values


def _binds() -> Bind:
    """Parameters named in the order the plan lists their values (v0, v1, ...)."""
    numbers = itertools.count()

    def bind() -> BindParameter[Any]:
        return bindparam(f"v{next(numbers)}")

    return bind


def _hs(column_: Any, count: int, bind: Bind) -> ColumnElement[bool]:
    """`column_` and the code match as HS prefixes either way, given the `count` values of
    `hs_values(code)` as parameters."""
    return hs_matching(column_, [bind() for _ in range(count)])


def _term(dialect: str, step: Step, bind: Bind) -> ColumnElement[bool]:
    """Certificates with the query word of `step` (or whose GTINs include it)."""
    kind = step[0]
    if kind == "none":
        return false()
    if kind == "pieces":
        words = [bind() for _ in range(step[1])]
        if dialect == "postgresql":
            return and_(*(func.strpos(_lowered(CertificateRow), w) > 0 for w in words))
        fields = _fields(CertificateRow)
        return and_(
            *(
                or_(*(func.instr(func.lower(func.coalesce(f, "")), w) > 0 for f in fields))
                for w in words
            )
        )
    phrase = step[1]
    if dialect == "postgresql":
        row = CertificateRow if kind == "words" else aliased(CertificateRow)
        # A phrase through the index by its longest part (the likeliest to be rare:
        # `0024542` of `BENCH-0001-0024542`), then the regular expression on the rows
        # found; a part in most certificates (`bench`) would make GIN decode most of its
        # posting tree.
        match: ColumnElement[bool] = _pg_words(row).op("@@")(cast(bind(), TSQUERY))
        if phrase:
            match = and_(match, _lowered(row).op("~")(bind()))
        if kind == "words":
            return match
        by_words = select(row.id).where(match)
    else:
        fts = table(FTS_TABLE, column("rowid"))
        by_words = select(fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(bind()))
        if kind == "words":
            return CertificateRow.id.in_(by_words)
    # Either index: the ids found by the words and by the GTIN, so each side uses its index.
    gtins = select(CertificateGtinRow.certificate_id).where(CertificateGtinRow.gtin == bind())
    return CertificateRow.id.in_(union(by_words, gtins))


def _statement(dialect: str, columns: str, steps: tuple[Step, ...]) -> Any:
    bind = _binds()
    blocks: list[BindParameter[Any]] = []
    # PostgreSQL reading the words' index by blocks: ranges of ids only filter the rows the
    # index gives, written `id + 0` so that no plan reads them from the primary key. A
    # prepared statement's generic plan cannot know that `id >= $1` is most of the table,
    # and would AND its 900,000 ids with the index's few matches (25 ms at 1M).
    by_blocks = ("blocks",) in steps
    filtered = CertificateRow.id + 0
    key: ColumnElement[int] = CertificateRow.id.expression
    query: Select[Any] = select(literal_column(columns)).select_from(CertificateRow.__table__)
    conditions: list[ColumnElement[bool]] = []
    equal = dict(_EQUAL)
    for step in steps:
        kind = step[0]
        if kind == "equal":
            conditions.append(equal[step[1]] == bind())
        elif kind == "gtin":
            conditions.append(
                exists().where(
                    CertificateGtinRow.certificate_id == CertificateRow.id,
                    CertificateGtinRow.gtin == bind(),
                )
            )
        elif kind == "holder":
            conditions.append(func.lower(CertificateRow.holder_name).like(bind(), escape="!"))
        elif kind == "hs_code":
            own = exists().where(
                CertificateHsCodeRow.certificate_id == CertificateRow.id,
                _hs(CertificateHsCodeRow.hs_code, step[1], bind),
            )
            has_own = exists().where(CertificateHsCodeRow.certificate_id == CertificateRow.id)
            by_category = exists().where(
                CategoryHsCodeRow.scheme_id == CertificateRow.scheme_id,
                CategoryHsCodeRow.category_code == CertificateRow.category_code,
                _hs(CategoryHsCodeRow.hs_code, step[1], bind),
            )
            conditions.append(or_(own, and_(~has_own, by_category)))
        elif kind == "fts":
            fts = table(FTS_TABLE, column("rowid"))
            key = fts.c.rowid
            query = (
                select(literal_column(columns))
                .select_from(fts)
                .join(CertificateRow, CertificateRow.id == fts.c.rowid)
            )
            conditions.append(literal_column(FTS_TABLE).op("MATCH")(bind()))
        elif kind == "after":
            conditions.append((filtered if by_blocks else key) > bind())
        elif kind == "blocks":
            blocks = [bind() for _ in range(4)]
        else:
            conditions.append(_term(dialect, step, bind))
    limit = bind()
    if not blocks:
        return query.where(*conditions).order_by(key).limit(limit)
    # PostgreSQL, words through the index: the matches within the block of 10,000 ids the
    # page starts in (one more entry for the index to intersect); then, for what is left
    # of the page, those in the rest of its block of 100,000; then those after it. A part
    # whose LIMIT is 0 (the page is full) is not run at all.
    block, wide, wide_from, rest_from = blocks
    ids = select(CertificateRow.id).where(*conditions).order_by(CertificateRow.id)
    parts: list[Any] = []
    for name, condition in (
        ("in_block", _pg_words(CertificateRow).op("@@")(cast(block, TSQUERY))),
        (
            "in_wide_block",
            and_(
                _pg_words(CertificateRow).op("@@")(cast(wide, TSQUERY)),
                filtered >= wide_from,
            ),
        ),
        ("after_blocks", filtered >= rest_from),
    ):
        left: ColumnElement[Any] = limit
        for part in parts:
            left = left - select(func.count()).select_from(part).scalar_subquery()
        parts.append(ids.where(condition).limit(left).cte(name).prefix_with("MATERIALIZED"))
    found = union_all(*(select(part.c.id) for part in parts)).subquery("found")
    return query.join(found, found.c.id == CertificateRow.id).order_by(key)


@lru_cache(maxsize=512)
def _compiled(
    dialect: str, columns: str, steps: tuple[Step, ...]
) -> tuple[str, tuple[tuple[bool, Any], ...]]:
    """The SQL of a shape, and each of its parameters in turn: (True, the place of its value
    in the plan's values), or (False, the statement's own constant, such as SQLite's
    `OFFSET 0`)."""
    compiled = _statement(dialect, columns, steps).compile(dialect=_DIALECTS[dialect])
    params = tuple(
        (True, int(name[1:])) if _BOUND.fullmatch(name) else (False, compiled.params[name])
        for name in compiled.positiontup or ()
    )
    return compiled.string, params


_BOUND = re.compile(r"v[0-9]+")


def listed(
    dialect: str, columns: str, filters: CertificateFilter, after: int | None, limit: int
) -> tuple[str, tuple[Any, ...]]:
    """The statement of a list of certificates (`columns` of each) matching every filter, in
    registration order from the one after `after`, at most `limit`, and its parameters: the
    SQL built once per shape of the filters, on `dialect` (`sqlite` or `postgresql`)."""
    steps, values = _plan(dialect, filters, after, limit)
    sql, params = _compiled(dialect, columns, steps)
    return sql, tuple(values[x] if bound else x for bound, x in params)
