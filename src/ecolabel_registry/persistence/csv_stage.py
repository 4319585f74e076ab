"""Set-based staging of a CSV import on PostgreSQL: COPY the records, check them in one query.

The row-by-row import (`services.imports.rows`) converts and checks each row in Python,
which costs tens of microseconds a row. Here the records the service has parsed are
re-written as canonical CSV into PostgreSQL's COPY, into a temporary table of text columns,
and a single INSERT ... SELECT converts them into the staging table the merge reads
(`import_certificate`), keeping only the rows that pass every rule of a single create.

This path only ever *accepts*. The conditions below are the row rules of
`services.imports.rows` (`convert`, then `check_certificate`), written so that a row passes
only when the Python rules would accept it and convert it to exactly the same values; where
matching Python exactly would be costly (non-ASCII certificate numbers, whitespace other
than spaces and tabs inside code lists, a `status_events` column), the row simply does not
pass. When any record fails to pass, or COPY refuses the data, everything done here is
rolled back and the caller reads the file again row by row, which produces the error list
with its messages. So the messages and the rules have a single source, and a file is
imported the same way whichever path took it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.validation import CERTIFICATE_SUB_RESOURCES
from ecolabel_registry.services.ports.imports import COLUMNS, restore_cell

_CHUNK_RECORDS = 5000

# Python's str.strip() removes exactly these characters (str.isspace); btrim() given the
# same set agrees. tests/unit/test_csv_stage_whitespace.py checks the list against Python.
WHITESPACE = (
    "\x09\x0a\x0b\x0c\x0d\x1c\x1d\x1e\x1f\x20\x85\xa0\u1680\u2000"
    "\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

_RAW_DDL = (
    "CREATE TEMPORARY TABLE import_raw (row_no BIGINT GENERATED ALWAYS AS IDENTITY, "
    + ", ".join(f"{c} TEXT" for c in COLUMNS)
    + ") ON COMMIT DROP"
)


def _date(column: str) -> str:
    """A text as a date; compare its text with the original to know it was YYYY-MM-DD.

    With DateStyle ISO a date's text is YYYY-MM-DD, so the two are equal exactly when the
    original is a well-formed date of years 1-9999, as `date.fromisoformat` wants. A text
    that is no date at all makes the cast raise; the whole statement then fails and the
    file goes row by row, which rejects that row with its message.
    """
    return f"CASE WHEN char_length({column}) = 10 THEN CAST({column} AS date) END"


def _is_date(value: str, original: str) -> str:
    return f"({value} IS NOT NULL AND CAST({value} AS text) = {original})"


def _digits(value: str) -> str:
    """Only ASCII digits (and not empty): cheaper than a regular expression with a count."""
    return f"({value} <> '' AND {value} !~ '[^0-9]')"


def _list(column: str) -> str:
    """A `;`-separated list as an array: items trimmed of spaces and tabs, empty ones dropped.

    Python strips every kind of whitespace; an item with any other whitespace left in it
    fails the digit patterns below, so the two never disagree on a row that passes. A list
    already in the plain form (digits and semicolons) skips the regular expressions.
    """
    return (
        f"CASE WHEN {column} IS NULL THEN CAST('{{}}' AS text[]) "
        f"WHEN {column} !~ '[^0-9;]' AND strpos({column}, ';;') = 0 "
        f"AND left({column}, 1) <> ';' AND right({column}, 1) <> ';' "
        f"THEN string_to_array({column}, ';') "
        f"ELSE array_remove(string_to_array(regexp_replace(btrim({column}, E' \\t'), "
        f"E'[ \\t]*;[ \\t]*', ';', 'g'), ';'), '') END"
    )


def _gtin_ok(item: str, padded: str | None = None) -> str:
    """GTIN-8/12/13/14 with a valid GS1 mod-10 check digit.

    `padded` is the item left-padded with zeros to 14 digits as bytea, when the caller has
    it already; the digits are then read with get_byte, which costs least.
    """
    if padded is None:
        padded = f"CAST(lpad({item}, 14, '0') AS bytea)"
    digit = [f"get_byte({padded}, {k})" for k in range(14)]
    triple = " + ".join(digit[k] for k in range(0, 13, 2))
    single = " + ".join(digit[k] for k in range(1, 12, 2))
    # The bytes are ASCII codes, digit + 48: 3 * 7 * 48 + 6 * 48 = 1296 = 129 * 10 + 6.
    return (
        f"CASE WHEN char_length({item}) IN (8, 12, 13, 14) AND {_digits(item)} "
        f"THEN (10 - (3 * ({triple}) + {single} - 1296) % 10) % 10 = {digit[13]} - 48 "
        "ELSE false END"
    )


def _hs_ok(item: str) -> str:
    """An HS code of 2-10 digits within the row's category (`k`): a prefix either way."""
    return (
        f"(char_length({item}) BETWEEN 2 AND 10 AND {_digits(item)} "
        f"AND ({item} LIKE ANY (k.likes) OR {item} = ANY (k.prefixes)))"
    )


def _every(
    array: str,
    ok: Callable[[str], str],
    first: str | None = None,
    second: str | None = None,
    key: Callable[[str], str] = lambda item: item,
) -> str:
    """Every item of `array` passes `ok` and no two items have the same `key`.

    Lists of up to two items, by far the most common, are checked inline (with `first`
    and `second` as their checks when given); longer ones with a subquery, which costs
    more per row.
    """
    first = first or ok(f"{array}[1]")
    second = second or ok(f"{array}[2]")
    return (
        f"CASE cardinality({array}) WHEN 0 THEN true WHEN 1 THEN {first} "
        f"WHEN 2 THEN {first} AND {second} AND {key(f'{array}[1]')} <> {key(f'{array}[2]')} "
        f"ELSE (SELECT bool_and({ok('x.item')}) AND count(DISTINCT {key('x.item')}) = count(*) "
        f"FROM unnest({array}) AS x(item)) END"
    )


def _normal_gtin(item: str) -> str:
    """A GTIN that passed `_gtin_ok` in its normal form, as `domain.validation.normal_gtin`
    gives it: 14 digits, zero-filled on the left."""
    return f"lpad({item}, 14, '0')"


# What a category allows, looked up once per category: `likes` holds a LIKE pattern per HS
# code (an item that starts with it), `prefixes` every prefix of two or more digits of each
# (an item that it starts with).
_CATEGORIES = """
SELECT pc.code,
    coalesce((SELECT array_agg(c.hs_code || '%') FROM category_hs_code c
              WHERE c.scheme_id = pc.scheme_id AND c.category_code = pc.code),
             CAST('{}' AS text[])) AS likes,
    coalesce((SELECT array_agg(DISTINCT left(c.hs_code, n)) FROM category_hs_code c,
              generate_series(2, 10) AS n
              WHERE c.scheme_id = pc.scheme_id AND c.category_code = pc.code
              AND n <= length(c.hs_code)), CAST('{}' AS text[])) AS prefixes
FROM product_category pc WHERE pc.scheme_id = :scheme
"""


def _padded(item: str) -> str:
    """A GTIN of digits only, left-padded with zeros to 14, as bytea; NULL otherwise."""
    return f"CASE WHEN {_digits(item)} THEN CAST(lpad({item}, 14, '0') AS bytea) END"


# Codes looked up in the registry (category, economy, body) are not matched against their
# patterns here: every code the registry holds was validated by those patterns when it was
# created, so a code that is found matches them.
_CONVERT = f"""
SELECT r.row_no, r.number, r.category_code,
    btrim(r.holder_name, :ws) AS holder_name, r.holder_economy,
    btrim(r.product_name, :ws) AS product_name, r.brand, r.model,
    {_list("r.gtins")} AS gtins,
    {_list("r.hs_codes")} AS hs_codes,
    coalesce(r.certification_body_id, CAST(:own AS text)) AS body,
    {_date("r.valid_from")} AS valid_from, {_date("r.valid_to")} AS valid_to,
    r.valid_from AS valid_from_text, r.valid_to AS valid_to_text,
    r.status, {_date("r.status_effective_date")} AS status_date,
    r.status_effective_date AS status_date_text,
    coalesce(nullif(btrim(r.status_reason, :ws), ''), 'imported') AS status_reason,
    r.status_reason IS NOT NULL AND btrim(r.status_reason, :ws) <> '' AS has_reason,
    r.status_events
FROM import_raw r
OFFSET 0
"""

# The first two GTINs padded once (their check digits read 14 bytes each).
_PADDED = f"""
SELECT c.*, {_padded("c.gtins[1]")} AS gtin1, {_padded("c.gtins[2]")} AS gtin2
FROM ({_CONVERT}) c
OFFSET 0
"""

_PASSES = f"""
v.number !~ '[^ -~]' AND left(v.number, 1) <> ' ' AND right(v.number, 1) <> ' '
AND char_length(v.number) <= 100 AND v.number !~ '/({"|".join(CERTIFICATE_SUB_RESOURCES)})$'
AND v.holder_name <> '' AND char_length(v.holder_name) <= 300
AND v.holder_economy IN (SELECT code FROM economy)
AND v.product_name <> '' AND char_length(v.product_name) <= 300
AND (v.brand IS NULL OR char_length(v.brand) <= 200)
AND (v.model IS NULL OR char_length(v.model) <= 200)
AND cardinality(v.gtins) <= 1000 AND {
    _every(
        "v.gtins",
        _gtin_ok,
        _gtin_ok("v.gtins[1]", "v.gtin1"),
        _gtin_ok("v.gtins[2]", "v.gtin2"),
        _normal_gtin,
    )
}
AND cardinality(v.hs_codes) <= 100 AND {_every("v.hs_codes", _hs_ok)}
AND (v.body IS NULL OR v.body IN (SELECT id FROM certification_body))
AND (CAST(:own AS text) IS NULL OR (v.body = CAST(:own AS text) AND EXISTS (
     SELECT 1 FROM body_authorization a
     WHERE a.body_id = v.body AND a.scheme_id = :scheme AND a.valid_from <= v.valid_from
     AND (a.valid_to IS NULL OR v.valid_from <= a.valid_to))))
AND {_is_date("v.valid_from", "v.valid_from_text")}
AND {_is_date("v.valid_to", "v.valid_to_text")} AND v.valid_to >= v.valid_from
AND v.status_events IS NULL
AND CASE WHEN v.status IS NULL
    THEN v.status_date_text IS NULL AND NOT v.has_reason
    ELSE v.status IN ('active', 'suspended', 'withdrawn')
         AND {_is_date("v.status_date", "v.status_date_text")}
         AND char_length(v.status_reason) <= 2000
         AND v.status_date >= v.valid_from
    END
"""


def _codes_json(column: str) -> str:
    """The list as the JSON text `bulk_staging.codes_json` writes (the items are digits only)."""
    return (
        f"CASE WHEN cardinality({column}) = 0 THEN '[]' "
        f"""ELSE '["' || array_to_string({column}, '", "') || '"]' END"""
    )


def _gtins_json(column: str) -> str:
    """The GTINs in their normal form (`_normal_gtin`) as the JSON text
    `bulk_staging.codes_json` writes; lists of up to two items inline, longer ones with a
    subquery."""
    one, two = _normal_gtin(f"{column}[1]"), _normal_gtin(f"{column}[2]")
    return (
        f"CASE cardinality({column}) WHEN 0 THEN '[]' "
        f"""WHEN 1 THEN '["' || {one} || '"]' """
        f"""WHEN 2 THEN '["' || {one} || '", "' || {two} || '"]' """
        f"""ELSE '["' || array_to_string(ARRAY(SELECT {_normal_gtin("x.item")} """
        f"""FROM unnest({column}) WITH ORDINALITY AS x(item, n) ORDER BY x.n), '", "') """
        """|| '"]' END"""
    )


_STAGE = f"""
INSERT INTO import_certificate (row_no, new_id, number, category_code, holder_name,
    holder_economy, product_name, brand, model, gtins, hs_codes, certification_body_id,
    valid_from, valid_to, first_status, first_date, first_reason, extra_events, declared,
    status, status_date, status_reason)
SELECT v.row_no, nextval({{sequence}}), v.number,
    v.category_code, v.holder_name, v.holder_economy, v.product_name, v.brand, v.model,
    {_gtins_json("v.gtins")}, {_codes_json("v.hs_codes")}, v.body, v.valid_from, v.valid_to,
    'active', v.valid_from,
    CASE WHEN v.status = 'active' AND v.status_date = v.valid_from
         THEN v.status_reason ELSE 'issued' END,
    CASE WHEN v.status IS NOT NULL AND v.status <> 'active'
         THEN CAST(json_build_array(json_build_object(
             'status', v.status,
             'effective_date', to_char(v.status_date, 'YYYY-MM-DD'),
             'reason', v.status_reason)) AS text) END,
    CASE WHEN v.status IS NULL THEN 'none' ELSE 'status' END,
    v.status, v.status_date, CASE WHEN v.status IS NOT NULL THEN v.status_reason END
FROM ({_PADDED}) v
JOIN import_category k ON k.code = v.category_code
WHERE {_PASSES}
ORDER BY v.row_no
"""


class _NotPlain(Exception):
    """A chunk of records that the fast text encoding cannot carry as is."""


def _copy_text(chunk: list[list[str]], width: int) -> str:
    """Records as COPY text format (tab-separated, `\\` escaped, '' read as NULL).

    Joined in one go; a value holding a tab, a line break or a carriage return would need
    per-value escaping, so such a chunk (or one whose records are not all `width` values
    wide) raises _NotPlain instead. A value starting with a single quote (a cell the export
    neutralized) is restored first, with the import's own rule (`restore_cell`).
    """
    data = "\n".join(map("\t".join, chunk)) + "\n"
    if data.startswith("'") or "\t'" in data or "\n'" in data:
        chunk = [[restore_cell(value) for value in record] for record in chunk]
        data = "\n".join(map("\t".join, chunk)) + "\n"
    if "\\" in data:
        data = data.replace("\\", "\\\\")
    if (
        "\r" in data
        or data.count("\t") != len(chunk) * (width - 1)
        or data.count("\n") != len(chunk)
    ):
        raise _NotPlain
    return data


def stage_csv(
    session: Session,
    scheme_id: str,
    names: Sequence[str],
    records: Iterator[list[str]],
    own_body: str | None,
    on_rows: Callable[[int], None] | None = None,
) -> int | None:
    """Stage every record into `import_certificate`, or none (returns None) and roll back.

    `names` are the file's checked column names; `records` its data records, already parsed
    (blank lines skipped). A parse error raised while reading them propagates after the
    rollback; so does any other error not raised by the database.
    """
    columns = ", ".join(names)
    savepoint = session.begin_nested()
    try:
        session.execute(text(_RAW_DDL))
        dbapi: Any = session.connection().connection.driver_connection
        written = 0
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f"COPY import_raw ({columns}) FROM STDIN (FORMAT text, NULL '')") as copy,
        ):
            while chunk := list(islice(records, _CHUNK_RECORDS)):
                copy.write(_copy_text(chunk, len(names)))
                written += len(chunk)
                if on_rows is not None:
                    on_rows(written)
        # The row count, and statistics for the codes the checks look up (the other,
        # free-text columns would only cost their sorting).
        session.execute(
            text("ANALYZE import_raw (category_code, holder_economy, certification_body_id)")
        )
        session.execute(
            text(f"CREATE TEMPORARY TABLE import_category ON COMMIT DROP AS {_CATEGORIES}"),
            {"scheme": scheme_id},
        )
        session.execute(text("ANALYZE import_category"))
        for setting in (
            "jit = off",
            "work_mem = '256MB'",
            "enable_nestloop = off",
            "DateStyle = 'ISO'",
        ):
            session.execute(text(f"SET LOCAL {setting}"))
        # The sequence as a constant, resolved once when planning (not once a row).
        sequence = session.execute(
            text("SELECT quote_literal(pg_get_serial_sequence('certificate', 'id'))")
        ).scalar_one()
        result: Any = session.execute(
            text(_STAGE.replace("{sequence}", f"CAST({sequence} AS regclass)")),
            {"scheme": scheme_id, "own": own_body, "ws": WHITESPACE},
        )
        staged = int(result.rowcount)
        for setting in ("jit", "work_mem", "enable_nestloop", "DateStyle"):
            session.execute(text(f"RESET {setting}"))
        session.execute(text("DROP TABLE import_raw, import_category"))
    except (DBAPIError, psycopg.Error, _NotPlain):
        savepoint.rollback()
        return None
    except BaseException:
        savepoint.rollback()
        raise
    if staged != written:
        savepoint.rollback()
        return None
    savepoint.commit()
    return staged
