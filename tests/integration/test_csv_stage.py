"""The set-based CSV staging of PostgreSQL agrees with the row-by-row import, file by file.

Every file here is imported twice in the same database state: once as the service does it
(set-based first, row by row when the store declines) and once row by row only. The
outcome must be the same: the same report and the same certificates and histories (the
export), or the same errors. Plain valid files must take the set-based path.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM, Actor, Role
from ecolabel_registry.domain.errors import Forbidden
from ecolabel_registry.domain.model import (
    Authorization,
    CertificationBody,
    Coverage,
    ProductCategory,
    Scheme,
    SchemeType,
)
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.imports import COLUMNS as IMPORT_COLUMNS
from ecolabel_registry.services.imports import (
    CertificateImportService,
    ImportFormat,
    ImportRejected,
)
from ecolabel_registry.services.ports.registry import CertificateFilter
from ecolabel_registry.services.schemes import SchemeService

SCHEME = "stage-label"
BODY = "stage-body"
COLUMNS = tuple(c for c in IMPORT_COLUMNS if c != "status_events")  # events aside


def gtin(n: int, length: int = 13) -> str:
    body = f"{n:0{length - 1}d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def bad_check_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


BASE: dict[str, str] = {
    "number": "S-0001",
    "category_code": "paints",
    "holder_name": "Holder Co., Ltd.",
    "holder_economy": "KR",
    "product_name": "Wall paint",
    "brand": "Brand",
    "model": "M-1",
    "gtins": gtin(4006001),
    "hs_codes": "320810",
    "certification_body_id": BODY,
    "valid_from": "2023-01-01",
    "valid_to": "2027-12-31",
    "status": "",
    "status_effective_date": "",
    "status_reason": "",
}


def csv_file(*changes: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> bytes:
    """A header and one row per change of BASE (numbers S-0001, S-0002, ...)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for i, change in enumerate(changes, start=1):
        row = {**BASE, "number": f"S-{i:04d}", **change}
        writer.writerow([row[c] for c in columns])
    return out.getvalue().encode()


PLAIN = csv_file({}, {"category_code": "paper", "hs_codes": "480210;480220"})

# Valid files that the set-based path must take.
FAST: dict[str, bytes] = {
    "plain": PLAIN,
    "quotes, commas, backslashes": csv_file(
        {"holder_name": 'Say "Hi", Ltd.'}, {"product_name": "A\\B \\N"}
    ),
    "unicode and unicode whitespace": csv_file(
        {"holder_name": "\u00a0Ökotex 株式会社\u3000", "product_name": " Farbe\u2003"}
    ),
    "code lists with spaces and empty items": csv_file(
        {"gtins": f" {gtin(1)} ; ;{gtin(2, 8)};", "hs_codes": " 3208 ; 320810"},
        {"gtins": "", "hs_codes": ""},
        {"gtins": f"{gtin(3, 14)};{gtin(4, 12)};{gtin(5)}", "hs_codes": "32;3208;320890"},
    ),
    "empty optional values": csv_file(
        {"brand": "", "model": "", "certification_body_id": ""}, {"number": "AB 12"}
    ),
    "status columns": csv_file(
        {"status": "active", "status_effective_date": "2023-01-01"},
        {"status": "active", "status_effective_date": "2024-05-01", "status_reason": "ok"},
        {"status": "suspended", "status_effective_date": "2023-06-01", "status_reason": " a "},
        {"status": "withdrawn", "status_effective_date": "2025-02-28", "status_reason": "gone"},
        {"status": "withdrawn", "status_effective_date": "2023-01-01", "status_reason": "\u3000"},
    ),
    "leap day": csv_file({"valid_from": "2024-02-29", "valid_to": "2028-02-29"}),
    "a subset of the columns": csv_file(
        {}, columns=(*COLUMNS[:5], "valid_from", "valid_to", "hs_codes")
    ),
    "cells the export neutralized": csv_file(
        {"number": "'=S-1", "holder_name": "'=HYPERLINK(1)", "product_name": "'+1"},
        {"brand": "'-2", "model": "'@m", "status": "suspended"}
        | {"status_effective_date": "2024-01-01", "status_reason": "'-why"},
        {"holder_name": "''Quoted", "product_name": "'''Two", "brand": "'"},
    ),
    "CRLF, a BOM and blank lines": b"\xef\xbb\xbf"
    + PLAIN.replace(b"\n", b"\r\n").replace(b"\r\nS-0002", b"\r\n\r\nS-0002"),
}

# Files that either path must refuse or that only the row path can read; same outcome.
OTHER: dict[str, bytes] = {
    "non-ASCII number": csv_file({"number": "Ü-1"}),
    "status_events column": csv_file(
        {"status_events": '[{"status": "active", "effective_date": "2023-01-01", "reason": "i"}]'},
        columns=(*COLUMNS, "status_events"),
    ),
    "tab inside a value": csv_file({"holder_name": "A\tB"}),
    "line break inside a value": csv_file({"product_name": "two\nlines"}),
    "number with a trailing space": csv_file({"number": "S-1 "}),
    "number of 101 characters": csv_file({"number": "N" * 101}),
    "unknown category": csv_file({"category_code": "nope"}),
    "blank holder": csv_file({"holder_name": " \u00a0 "}),
    "holder of 301 characters": csv_file({"holder_name": "h" * 301}),
    "unknown economy": csv_file({"holder_economy": "XX"}),
    "economy in lower case": csv_file({"holder_economy": "kr"}),
    "GTIN check digit": csv_file({"gtins": bad_check_digit(gtin(7))}),
    "GTIN twice": csv_file({"gtins": f"{gtin(7)};{gtin(7)}"}),
    "GTIN twice among three": csv_file({"gtins": f"{gtin(7)};{gtin(8)};{gtin(7)}"}),
    "GTIN twice in two forms": csv_file({"gtins": f"{gtin(7)};0{gtin(7)}"}),
    "GTIN twice in two forms among three": csv_file({"gtins": f"0{gtin(7)};{gtin(8)};{gtin(7)}"}),
    "GTIN of 9 digits": csv_file({"gtins": "123456789"}),
    "GTIN with a letter": csv_file({"gtins": "400600100001X"}),
    "GTIN with inner space": csv_file({"gtins": "4006 00100001"}),
    "HS code outside the category": csv_file({"hs_codes": "9403"}),
    "HS code twice": csv_file({"hs_codes": "320810;320810"}),
    "HS code of one digit": csv_file({"hs_codes": "3"}),
    "HS code of 11 digits": csv_file({"hs_codes": "32081000000"}),
    "HS code bad among three": csv_file({"hs_codes": "3208;320810;4802"}),
    "unknown body": csv_file({"certification_body_id": "nobody"}),
    "no such day": csv_file({"valid_from": "2023-02-30"}),
    "date without padding": csv_file({"valid_to": "2027-1-05"}),
    "year zero": csv_file({"valid_from": "0000-01-01"}),
    "date with a time": csv_file({"valid_to": "2027-12-31T00:00"}),
    "word for a date": csv_file({"valid_to": "tomorrow!!"}),
    "window inverted": csv_file({"valid_to": "2022-12-31"}),
    "status in capitals": csv_file({"status": "Active", "status_effective_date": "2023-01-01"}),
    "status without a date": csv_file({"status": "suspended"}),
    "date without a status": csv_file({"status_effective_date": "2023-01-01"}),
    "reason without a status": csv_file({"status_reason": "why"}),
    "blank reason without a status": csv_file({"status_reason": "  "}),
    "withdrawn before it was valid": csv_file(
        {"status": "withdrawn", "status_effective_date": "2022-12-31"}
    ),
    "suspended before it was valid": csv_file(
        {"status": "suspended", "status_effective_date": "2022-12-31"}
    ),
    "active before it was valid": csv_file(
        {"status": "active", "status_effective_date": "2022-12-31"}
    ),
    "brand of 201 characters": csv_file({"brand": "b" * 201}),
    "number twice": csv_file({}, {"number": "S-0001"}),
    "a short row": PLAIN + b"S-0009,paints\n",
    "a stray quote": PLAIN + b'S-0009,paints,Say "Hi" Ltd,KR,P,,,,3208,,2023-01-01,2024-01-01,,,\n',
    "a lone carriage return": PLAIN.replace(b"\nS-0002", b"\rS-0002"),
    "not UTF-8": PLAIN.replace(b"Holder", b"Hold\xff"),
}
FILTER = CertificateFilter(scheme_id=SCHEME)
BODY_ACTOR = Actor("k-body", "body key", Role.CERTIFICATION_BODY, certification_body_id=BODY)


@pytest.fixture
def arranged(registry: SqlRegistry, session: Session, connection: Connection) -> Session:
    if connection.dialect.name != "postgresql":
        pytest.skip("set-based staging is PostgreSQL's path; SQLite always reads row by row")
    schemes = SchemeService(registry)
    schemes.create(
        SYSTEM, Scheme(SCHEME, "Stage", "op", SchemeType.ISO14024, ("KR",), Coverage.PARTIAL)
    )
    for code, hs in (("paints", "3208"), ("paper", "4802")):
        schemes.create_category(
            SYSTEM, ProductCategory(SCHEME, code, code, "1", dt.date(2015, 1, 1), None, (hs,))
        )
    bodies = CertificationBodyService(registry)
    bodies.create(
        SYSTEM,
        CertificationBody(
            BODY, "Stage body", "KR", None, (Authorization(SCHEME, dt.date(2015, 1, 1)),)
        ),
    )
    bodies.create(SYSTEM, CertificationBody("other-body", "Other", "KR", None, ()))
    session.flush()
    return session


def outcome(
    session: Session, data: bytes, actor: Actor = SYSTEM, *, set_based: bool = True
) -> tuple[Any, list[int | None]]:
    """What importing `data` gives, rolled back after; and what set-based staging returned."""
    staged: list[int | None] = []
    with session.begin_nested() as attempt:
        bulk = SqlCertificateBulkStore(session)
        original: Callable[..., int | None] = bulk.stage_csv

        def spy(*args: Any, **kwargs: Any) -> int | None:
            staged.append(original(*args, **kwargs) if set_based else None)
            return staged[-1]

        bulk.stage_csv = spy  # type: ignore[method-assign]
        service = CertificateImportService(SqlRegistry(session), bulk)
        try:
            report = service.import_certificates(actor, SCHEME, [data], ImportFormat.CSV)
            result: Any = (
                "imported",
                dataclasses.astuple(report),
                "".join(service.export(SCHEME, ImportFormat.CSV)),
            )
        except ImportRejected as exc:
            result = ("rejected", exc.detail, [(e.loc, e.message) for e in exc.errors])
        except Forbidden as exc:
            result = ("forbidden", exc.detail)
        attempt.rollback()
    return result, staged


@pytest.mark.parametrize("name", sorted(FAST))
def test_valid_files_take_the_set_based_path_with_the_same_result(
    arranged: Session, name: str
) -> None:
    fast, staged = outcome(arranged, FAST[name])
    rows, _ = outcome(arranged, FAST[name], set_based=False)
    assert fast[0] == "imported", fast
    assert staged, "the set-based path was not tried"
    assert staged[0] is not None, "the set-based path declined a valid file"
    assert fast == rows


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_files_end_as_the_row_by_row_import_ends(arranged: Session, name: str) -> None:
    fast, _ = outcome(arranged, OTHER[name])
    rows, _ = outcome(arranged, OTHER[name], set_based=False)
    assert fast == rows


def test_rows_the_row_path_accepts_are_still_imported_when_staging_declines(
    arranged: Session,
) -> None:
    fast, staged = outcome(arranged, OTHER["non-ASCII number"])
    assert staged == [None]
    assert fast[0] == "imported"


@pytest.mark.parametrize(
    "change",
    [
        {"certification_body_id": ""},
        {"certification_body_id": BODY},
        {"certification_body_id": "other-body"},
        {"valid_from": "2014-12-31"},
    ],
)
def test_a_certification_body_gets_the_same_answer_either_way(
    arranged: Session, change: dict[str, str]
) -> None:
    data = csv_file({}, change)
    fast, _ = outcome(arranged, data, BODY_ACTOR)
    rows, _ = outcome(arranged, data, BODY_ACTOR, set_based=False)
    assert fast == rows


def test_existing_certificates_are_compared_after_set_based_staging(arranged: Session) -> None:
    first, _ = outcome(arranged, PLAIN)
    service = CertificateImportService(SqlRegistry(arranged), SqlCertificateBulkStore(arranged))
    service.import_certificates(SYSTEM, SCHEME, [PLAIN], ImportFormat.CSV)
    changed = csv_file(
        {"holder_name": "New holder", "status": "suspended", "status_effective_date": "2024-01-01"},
        {"category_code": "paper", "hs_codes": "480210;480220"},
    )
    fast, staged = outcome(arranged, changed)
    rows, _ = outcome(arranged, changed, set_based=False)
    assert staged == [2]
    assert fast == rows
    assert fast[1][-3:] == (0, 1, 1)  # created, updated, unchanged
    assert first[0] == "imported"


def test_neutralized_cells_are_restored_when_staged_set_based(arranged: Session) -> None:
    data = FAST["cells the export neutralized"]
    _, staged = outcome(arranged, data)
    assert staged == [3]
    service = CertificateImportService(SqlRegistry(arranged), SqlCertificateBulkStore(arranged))
    service.import_certificates(SYSTEM, SCHEME, [data], ImportFormat.CSV)
    saved = {c.number: c for c in SqlCertificateBulkStore(arranged).export(SCHEME, FILTER)}
    assert (saved["=S-1"].holder_name, saved["=S-1"].product_name) == ("=HYPERLINK(1)", "+1")
    assert (saved["S-0002"].brand, saved["S-0002"].model) == ("-2", "@m")
    assert saved["S-0002"].status_events[-1].reason == "-why"
    third = saved["S-0003"]
    assert (third.holder_name, third.product_name, third.brand) == ("'Quoted", "''Two", None)
    # The export neutralizes them again: the same cells as in the file.
    exported = "".join(service.export(SCHEME, ImportFormat.CSV))
    assert "'=HYPERLINK(1)" in exported
    assert "''Quoted" in exported
