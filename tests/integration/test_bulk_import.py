"""The bulk import path on a real database: chunked staging, set-based merges, bounded queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.model import (
    Authorization,
    CertificationBody,
    Coverage,
    ProductCategory,
    Scheme,
    SchemeType,
)
from ecolabel_registry.persistence.bulk import ANALYZE_AFTER_ROWS, SqlCertificateBulkStore
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.bodies import CertificationBodyService
from ecolabel_registry.services.imports import (
    COLUMNS,
    CertificateImportService,
    ImportFormat,
    ImportRejected,
    ImportReport,
)
from ecolabel_registry.services.schemes import SchemeService

SCHEME = "bulk-label"
HEADER = tuple(c for c in COLUMNS if c not in {"brand", "model", "status_events"})


def gtin(n: int) -> str:
    body = f"4006{n:08d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def arrange(registry: SqlRegistry) -> None:
    schemes = SchemeService(registry)
    schemes.create(
        SYSTEM, Scheme(SCHEME, "Bulk", "op", SchemeType.ISO14024, ("KR",), Coverage.PARTIAL)
    )
    for code, hs in (("paints", "3208"), ("paper", "4802")):
        schemes.create_category(
            SYSTEM, ProductCategory(SCHEME, code, code, "1", dt.date(2015, 1, 1), None, (hs,))
        )
    CertificationBodyService(registry).create(
        SYSTEM,
        CertificationBody(
            "bulk-body", "Bulk body", "KR", None, (Authorization(SCHEME, dt.date(2015, 1, 1)),)
        ),
    )


def rows(n: int, *, start: int = 1, suspended_every: int = 0, holder: str = "Holder") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(start, start + n):
        paints = i % 2 == 0
        status = ("", "", "")
        if suspended_every and i % suspended_every == 0:
            status = ("suspended", "2024-03-01", "audit")
        writer.writerow(
            (
                f"B-{i:06d}",
                "paints" if paints else "paper",
                f"{holder} {i}",
                "KR",
                f"Product {i}",
                f"{gtin(2 * i)};{gtin(2 * i + 1)}" if i % 3 else "",
                "320810" if paints else "480210;480220",
                "bulk-body",
                "2023-01-01",
                "2027-12-31",
                *status,
            )
        )
    return out.getvalue().encode()


def chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def run(
    session: Session, data: bytes, chunk_rows: int = 1000, rebuild: int | None = 2000
) -> ImportReport:
    """Import through the bulk path; PostgreSQL rebuilds indexes from `rebuild` new rows."""
    service = CertificateImportService(
        SqlRegistry(session), SqlCertificateBulkStore(session, rebuild), chunk_rows
    )
    return service.import_certificates(SYSTEM, SCHEME, chunks(data), ImportFormat.CSV)


def count(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def counts(session: Session) -> dict[str, int]:
    return {
        t: count(session, t)
        for t in (
            "certificate",
            "certificate_gtin",
            "certificate_hs_code",
            "certificate_status_event",
        )
    }


@contextmanager
def statements(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


@pytest.fixture
def arranged(registry: SqlRegistry, session: Session) -> Session:
    arrange(registry)
    session.flush()
    return session


def test_a_multi_chunk_import_writes_every_table(arranged: Session) -> None:
    report = run(arranged, rows(5000, suspended_every=10))
    assert (report.rows, report.created, report.updated, report.unchanged) == (5000, 5000, 0, 0)
    with_gtins = sum(1 for i in range(1, 5001) if i % 3)
    assert counts(arranged) == {
        "certificate": 5000,
        "certificate_gtin": 2 * with_gtins,
        "certificate_hs_code": 2500 + 2 * 2500,
        "certificate_status_event": 5000 + 500,
    }
    saved = SqlRegistry(arranged).certificates.get(SCHEME, "B-000010")
    assert saved is not None
    assert saved.hs_codes == ("320810",)
    assert saved.gtins == ("0" + gtin(20), "0" + gtin(21))  # their 14-digit form
    assert [(e.status, e.effective_date) for e in saved.status_events] == [
        ("active", dt.date(2023, 1, 1)),
        ("suspended", dt.date(2024, 3, 1)),
    ]


def test_the_number_of_queries_grows_with_chunks_not_rows(
    arranged: Session, connection: Connection
) -> None:
    with statements(connection) as small:
        run(arranged, rows(1000), chunk_rows=500, rebuild=None)
    with statements(connection) as large:
        run(arranged, rows(4000, start=1001), chunk_rows=2000, rebuild=None)
    assert len(large) == len(small)


def test_reimport_across_chunks_updates_only_what_changed(arranged: Session) -> None:
    run(arranged, rows(3000))
    before = counts(arranged)
    again = run(arranged, rows(3000))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3000)
    assert counts(arranged) == before
    changed = run(arranged, rows(3000, suspended_every=100, holder="New holder"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 3000, 0)
    assert counts(arranged)["certificate_status_event"] == before["certificate_status_event"] + 30
    saved = SqlRegistry(arranged).certificates.get(SCHEME, "B-000100")
    assert saved is not None
    assert saved.holder_name == "New holder 100"
    assert saved.version == 2
    assert [e.status for e in saved.status_events] == ["active", "suspended"]


def test_duplicates_far_apart_in_a_large_file_are_found(arranged: Session) -> None:
    data = rows(2500) + rows(1, start=7).split(b"\n", 1)[1]
    with pytest.raises(ImportRejected) as caught:
        run(arranged, data)
    assert [(e.loc[2], e.loc[3]) for e in caught.value.errors] == [(2501, "number")]
    assert "row 7" in caught.value.errors[0].message


def test_a_bad_last_row_leaves_no_staged_row_behind(arranged: Session) -> None:
    data = rows(2500) + b"B-999999,paints,H,KR,P,,3208,bulk-body,2023-01-01,2022-01-01,,,\n"
    with arranged.begin_nested() as attempt:
        with pytest.raises(ImportRejected) as caught:
            run(arranged, data)
        attempt.rollback()
    assert [(e.loc[2], e.loc[3]) for e in caught.value.errors] == [(2501, "valid_to")]
    assert count(arranged, "certificate") == 0


def test_export_reads_every_page_in_registration_order(arranged: Session) -> None:
    run(arranged, rows(2500))
    service = CertificateImportService(SqlRegistry(arranged), SqlCertificateBulkStore(arranged))
    exported = "".join(service.export(SCHEME, ImportFormat.CSV))
    records = list(csv.DictReader(io.StringIO(exported)))
    assert [r["number"] for r in records] == [f"B-{i:06d}" for i in range(1, 2501)]
    # Re-importing the export changes nothing.
    again = run(arranged, exported.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2500)


def _schema(session: Session) -> set[tuple[str, str]]:
    indexes = session.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename LIKE 'certificate%' AND schemaname = current_schema()"
        )
    ).all()
    keys = session.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE CAST(conrelid AS regclass)::text LIKE 'certificate%'"
        )
    ).all()
    return {(str(a), str(b)) for a, b in [*indexes, *keys]}


def test_a_large_postgresql_load_restores_every_index_and_foreign_key(
    arranged: Session, connection: Connection
) -> None:
    if connection.dialect.name != "postgresql":
        pytest.skip("the index and foreign key rebuild is PostgreSQL's bulk path")
    arranged.execute(text("ANALYZE certificate"))  # rows of earlier, rolled-back tests count not
    before = _schema(arranged)
    with statements(connection) as seen:
        run(arranged, rows(3000), rebuild=2000)
    assert any(s.startswith("DROP INDEX") for s in seen)
    assert _schema(arranged) == before
    assert counts(arranged)["certificate"] == 3000


def test_a_large_postgresql_load_leaves_fresh_statistics_words_included(
    arranged: Session, connection: Connection
) -> None:
    """The planner knows the new rows as soon as the import commits, even with autovacuum
    off, the words index's expression included: without its statistics the planner guesses
    how frequent a searched word is."""
    if connection.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no planner statistics to refresh")
    arranged.execute(text("ALTER TABLE certificate SET (autovacuum_enabled = false)"))
    run(arranged, rows(ANALYZE_AFTER_ROWS), chunk_rows=5000, rebuild=2000)
    analyzed = {
        (str(table), str(column))
        for table, column in arranged.execute(
            text(
                "SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema() "
                "AND tablename IN ('certificate', 'ix_certificate_words')"
            )
        )
    }
    assert {("certificate", "number"), ("certificate", "holder_name")} <= analyzed
    assert any(table == "ix_certificate_words" for table, _ in analyzed)
