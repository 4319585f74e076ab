"""Bulk certificate writes: staging tables, COPY on PostgreSQL, set-based merges.

Implements `services.ports.imports.CertificateBulkStore` over one SQLAlchemy session (the
caller's transaction). Rows are staged in temporary tables (PostgreSQL: psycopg COPY;
SQLite: executemany), compared with the scheme's certificates in one join, and merged with
a handful of INSERT ... SELECT / UPDATE ... FROM statements into certificate,
certificate_gtin, certificate_hs_code and certificate_status_event. New certificates get
their ids when staged (from the sequence on PostgreSQL), so the child rows need no join.
The staging tables and the SQL that differs by engine are in `bulk_staging`, the audit
events and change log of a merge in `bulk_audit`, the export's reads in `bulk_export`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import Conflict
from ecolabel_registry.domain.model import Certificate, StatusEvent
from ecolabel_registry.persistence import certificate_history, revisions, status_changes
from ecolabel_registry.persistence.bulk_audit import record_changes
from ecolabel_registry.persistence.bulk_export import export_certificates
from ecolabel_registry.persistence.bulk_staging import (
    EVENT_DDL,
    FIELDS,
    STAGING_COLUMNS,
    STAGING_DDL,
    Dialect,
    existing_match,
    import_lock_key,
    sqlite_value,
    staging_record,
)
from ecolabel_registry.persistence.csv_stage import stage_csv
from ecolabel_registry.persistence.repositories import hold_write_lock
from ecolabel_registry.persistence.tables import CertificateStatusEventRow
from ecolabel_registry.services.ports.imports import ExistingMatch, StagedCertificate
from ecolabel_registry.services.ports.registry import CertificateFilter

ANALYZE_AFTER_ROWS = 10_000
_CERTIFICATE_TABLES = (
    "certificate",
    "certificate_gtin",
    "certificate_hs_code",
    "certificate_status_event",
)


class SqlCertificateBulkStore:
    """The bulk paths of one session: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, session: Session, rebuild_threshold: int | None = None) -> None:
        """`rebuild_threshold`: on PostgreSQL, from this many new certificates (and at least as
        many as the table holds), drop the certificate tables' foreign keys and secondary
        indexes for the merge and restore them after, set-based. That holds an exclusive lock
        on those tables while the merge runs (seconds), so only the command line asks for it.
        """
        self._s = session
        self._rebuild_threshold = rebuild_threshold
        self._d = Dialect(session.get_bind().dialect.name == "postgresql")
        self._scheme_id = ""
        self._staged = 0
        self._matched = 0
        self._events = 0
        self._next_id = self._opened_at = 0

    # Helpers

    def _sql(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        return self._s.execute(text(statement), params or {})

    def _dbapi(self) -> Any:
        return self._s.connection().connection.driver_connection

    # Staging

    def open(self, scheme_id: str) -> None:
        self._scheme_id = scheme_id
        self._staged = self._matched = self._events = 0
        suffix = " ON COMMIT DROP" if self._d.postgres else ""
        for table in ("import_certificate", "import_match", "import_event"):
            self._sql(f"DROP TABLE IF EXISTS {table}")
        self._sql(STAGING_DDL.format(suffix=suffix))
        self._sql(EVENT_DDL.format(suffix=suffix))
        if self._d.postgres:
            # Imports of one scheme run one after the other; single writes are not blocked.
            # An advisory lock, not the scheme's row: a scheme's own writes take the
            # registry's revision before its row (see `revisions` on lock order).
            self._sql("SELECT pg_advisory_xact_lock(:k)", {"k": import_lock_key(scheme_id)})
        else:
            self._next_id = self._opened_at = self._max_id()

    def _max_id(self) -> int:
        return int(self._sql("SELECT coalesce(max(id), 0) FROM certificate").scalar())

    def _new_ids(self, n: int) -> list[int]:
        if self._d.postgres:
            rows = self._sql(
                "SELECT nextval(pg_get_serial_sequence('certificate', 'id')) "
                "FROM generate_series(1, :n)",
                {"n": n},
            )
            return [r[0] for r in rows]
        first = self._next_id + 1
        self._next_id += n
        return list(range(first, first + n))

    def stage(self, rows: Sequence[StagedCertificate]) -> None:
        if not rows:
            return
        ids = self._new_ids(len(rows))
        records = [staging_record(r, i) for r, i in zip(rows, ids, strict=True)]
        if self._d.postgres:
            with self._dbapi().cursor() as cur:
                columns = ", ".join(STAGING_COLUMNS)
                with cur.copy(f"COPY import_certificate ({columns}) FROM STDIN") as copy:
                    for record in records:
                        copy.write_row(record)
        else:
            marks = ", ".join("?" for _ in STAGING_COLUMNS)
            self._dbapi().executemany(
                f"INSERT INTO import_certificate VALUES ({marks})",
                [tuple(sqlite_value(v) for v in record) for record in records],
            )
        self._staged += len(rows)

    @property
    def stages_csv(self) -> bool:
        return self._d.postgres

    def stage_csv(
        self,
        names: Sequence[str],
        records: Iterator[list[str]],
        own_body: str | None,
        on_rows: Callable[[int], None] | None = None,
    ) -> int | None:
        if not self._d.postgres or self._staged:
            return None
        staged = stage_csv(self._s, self._scheme_id, names, records, own_body, on_rows)
        if staged is not None:
            self._staged += staged
        return staged

    def duplicates(self, limit: int) -> tuple[list[tuple[int, str, int]], int]:
        if self._d.postgres:
            # Statistics for the columns the comparing joins and groups on (the others
            # would cost their sorting and tell the planner nothing it uses).
            self._sql("ANALYZE import_certificate (row_no, number)")
        repeated = (
            "SELECT number, min(row_no) AS first_row, count(*) AS n FROM import_certificate "
            "GROUP BY number HAVING count(*) > 1"
        )
        total = int(self._sql(f"SELECT coalesce(sum(n - 1), 0) FROM ({repeated}) d").scalar())
        if total == 0:
            return [], 0
        listed = self._sql(
            f"SELECT s.row_no, s.number, d.first_row FROM import_certificate s "
            f"JOIN ({repeated}) d ON d.number = s.number WHERE s.row_no > d.first_row "
            "ORDER BY s.row_no LIMIT :limit",
            {"limit": limit},
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in listed], total

    def match_existing(self) -> int:
        # From here to the commit no other write interleaves on SQLite (the file has been
        # read: no lock is held while it arrives). New ids were taken from the largest id
        # when the import opened: certificates created since then move them along.
        hold_write_lock(self._s)
        revisions.recorded(self._s)  # before the first row write (lock order)
        if not self._d.postgres:
            grown = self._max_id() - self._opened_at
            if grown > 0:
                self._sql("UPDATE import_certificate SET new_id = new_id + :n", {"n": grown})
                self._next_id += grown
        d = self._d
        changed = " OR ".join(
            f"NOT {d.same_json('c.' + f, 's.' + f)}"
            if f in ("gtins", "hs_codes")
            else d.distinct("c." + f, "s." + f)
            for f in FIELDS
        )
        self._sql(
            "CREATE TEMPORARY TABLE import_match"
            + (" ON COMMIT DROP" if d.postgres else "")
            + " AS SELECT s.*, c.id AS certificate_id, c.version AS certificate_version, "
            "c.certification_body_id AS current_body_id, "
            f"({changed}) AS fields_changed "
            "FROM import_certificate s JOIN certificate c "
            "ON c.scheme_id = :scheme AND c.number = s.number",
            {"scheme": self._scheme_id},
        )
        self._matched = int(self._sql("SELECT count(*) FROM import_match").scalar())
        if self._matched:
            self._sql("CREATE UNIQUE INDEX import_match_row ON import_match (row_no)")
        return self._matched

    def matches(self, chunk_rows: int) -> Iterator[list[ExistingMatch]]:
        after = 0
        events_table = CertificateStatusEventRow.__table__
        while True:
            rows = self._sql(
                "SELECT row_no, certificate_id, number, certification_body_id, current_body_id, "
                "fields_changed, declared, first_status, first_date, first_reason, "
                "extra_events, status, status_date, status_reason "
                "FROM import_match WHERE row_no > :after ORDER BY row_no LIMIT :n",
                {"after": after, "n": chunk_rows},
            ).all()
            if not rows:
                return
            after = int(rows[-1][0])
            histories: dict[int, list[StatusEvent]] = {int(r[1]): [] for r in rows}
            for e in self._s.execute(
                select(
                    events_table.c.certificate_id,
                    events_table.c.status,
                    events_table.c.effective_date,
                    events_table.c.reason,
                    events_table.c.id,
                )
                .where(events_table.c.certificate_id.in_(list(histories)))
                .order_by(events_table.c.certificate_id, events_table.c.id)
            ):
                histories[int(e[0])].append(StatusEvent(e[1], e[2], e[3], str(e[4])))
            yield [existing_match(r, tuple(histories[int(r[1])])) for r in rows]

    def stage_events(self, events: Sequence[tuple[int, StatusEvent]]) -> None:
        records = []
        for certificate_id, e in events:
            self._events += 1
            records.append(
                {
                    "seq": self._events,
                    "certificate_id": certificate_id,
                    "status": str(e.status),
                    "effective_date": e.effective_date,
                    "reason": e.reason,
                }
            )
        self._s.execute(
            text(
                "INSERT INTO import_event (seq, certificate_id, status, effective_date, reason) "
                "VALUES (:seq, :certificate_id, :status, :effective_date, :reason)"
            ),
            records,
        )

    # Auditing

    def record_changes(self, actor: Actor, operation: str) -> None:
        record_changes(
            self._s, self._d, self._scheme_id, self._matched, self._events, actor, operation
        )

    # Merging

    def merge(self) -> int:
        try:
            if self._matched:
                self._merge_existing()
            self._insert_new()
        except IntegrityError as exc:
            raise Conflict(
                "another write added or changed some of these certificates meanwhile; "
                "send the file again"
            ) from exc
        if self._d.postgres and self._staged >= ANALYZE_AFTER_ROWS:
            # Fresh planner statistics, so that queries keep using the indexes after a large
            # load even where autovacuum is off or has not come round yet. The words index's
            # expression too, though that is the dearest part (the words function over the
            # whole sample: a second of a 10,000-row import): without them the planner guesses
            # how frequent a searched word is, and a search's plan turns on that
            # (docs/performance.md, "the words stored in a generated column").
            for table in _CERTIFICATE_TABLES:
                self._sql(f"ANALYZE {table}")
        return self._staged - self._matched

    def _merge_existing(self) -> None:
        d = self._d
        assignments = ", ".join(
            f"{f} = {d.json('m.' + f)}" if f in ("gtins", "hs_codes") else f"{f} = m.{f}"
            for f in FIELDS
        )
        touched = (
            "(m.fields_changed OR EXISTS "
            "(SELECT 1 FROM import_event e WHERE e.certificate_id = m.certificate_id))"
        )
        # Each touched certificate is updated only if it is still at the version its fields
        # and history were compared at: a single write that got in between (PostgreSQL locks
        # rows, not the table) makes the import a conflict, never a history it did not check.
        expected = int(self._sql(f"SELECT count(*) FROM import_match m WHERE {touched}").scalar())
        revision = revisions.recorded(self._s).revision
        # The rows as they were go to the history first, closed at this revision (only those
        # still at the version compared: the others make the import a conflict below).
        self._sql(
            certificate_history.keep(
                "c.id IN (SELECT m.certificate_id FROM import_match m "
                f"WHERE {touched} AND m.certificate_version = c.version)"
            ),
            {"revision": revision},
        )
        updated = self._sql(
            f"UPDATE certificate SET {assignments}, version = certificate.version + 1, "
            "updated_at = CURRENT_TIMESTAMP, recorded_revision = :revision FROM import_match m "
            f"WHERE certificate.id = m.certificate_id AND {touched} "
            "AND certificate.version = m.certificate_version",
            {"revision": revision},
        ).rowcount
        if updated != expected:
            raise Conflict(
                f"{expected - updated} of these certificates were changed by another write "
                "while the file was compared with them; nothing was written: send the file again"
            )
        for table, column, field in (
            ("certificate_gtin", "gtin", "gtins"),
            ("certificate_hs_code", "hs_code", "hs_codes"),
        ):
            self._sql(
                f"DELETE FROM {table} WHERE certificate_id IN "
                "(SELECT certificate_id FROM import_match WHERE fields_changed)"
            )
            self._sql(
                f"INSERT INTO {table} (certificate_id, {column}) "
                f"SELECT m.certificate_id, g.value FROM import_match m, "
                f"{d.elements('m.' + field, 'g')} WHERE m.fields_changed"
            )
        if self._events:
            self._sql(
                "INSERT INTO certificate_status_event "
                "(certificate_id, status, effective_date, reason) "
                "SELECT certificate_id, status, effective_date, reason FROM import_event "
                "ORDER BY seq"
            )
            self._sql(
                status_changes.refresh(
                    d.postgres, "certificate.id IN (SELECT certificate_id FROM import_event)"
                )
            )

    def _insert_new(self) -> None:
        if self._staged == self._matched:
            return
        restore = self._drop_for_rebuild(self._staged - self._matched)
        self._insert_new_rows()
        for statement in restore:
            self._sql(statement)

    def _drop_for_rebuild(self, new_rows: int) -> list[str]:
        """Drop the keys, foreign keys and indexes of the certificate tables for a large load.

        Returns the statements that restore them exactly as they were (definitions read
        from the catalog): primary keys and unique constraints first (each built in one
        sort and checked as it is built), then the plain indexes, then the foreign keys
        (each re-checked in one query).
        """
        threshold = self._rebuild_threshold
        if not self._d.postgres or threshold is None or new_rows < threshold:
            return []
        held = self._sql(
            "SELECT reltuples FROM pg_class WHERE oid = CAST('certificate' AS regclass)"
        ).scalar()
        if new_rows < float(held or 0):
            return []
        tables = ", ".join(f"CAST('{t}' AS regclass)" for t in _CERTIFICATE_TABLES)
        constraint = (
            "SELECT CAST(conrelid AS regclass)::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE "
        )
        foreign_keys = self._sql(
            f"{constraint}contype = 'f' AND (conrelid IN ({tables}) OR confrelid IN ({tables}))"
        ).all()
        keys = self._sql(f"{constraint}contype IN ('p', 'u') AND conrelid IN ({tables})").all()
        indexes = self._sql(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            f"FROM pg_index i WHERE i.indrelid IN ({tables}) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ).all()
        self._sql("SET LOCAL maintenance_work_mem = '256MB'")
        for table, name, _ in [*foreign_keys, *keys]:
            self._sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            self._sql(f"DROP INDEX {name}")
        return (
            [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in keys
            ]
            + [definition for _, definition in indexes]
            + [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in foreign_keys
            ]
        )

    def _insert_new_rows(self) -> None:
        d = self._d
        new = (
            "NOT EXISTS (SELECT 1 FROM import_match m WHERE m.row_no = s.row_no)"
            if self._matched
            else d.true
        )
        self._sql(
            "INSERT INTO certificate (id, scheme_id, number, category_code, holder_name, "
            "holder_economy, product_name, brand, model, gtins, hs_codes, "
            "certification_body_id, valid_from, valid_to, status_changes, version, "
            "recorded_revision) "
            "SELECT s.new_id, :scheme, s.number, s.category_code, s.holder_name, "
            "s.holder_economy, s.product_name, s.brand, s.model, "
            f"{d.json('s.gtins')}, {d.json('s.hs_codes')}, s.certification_body_id, "
            f"s.valid_from, s.valid_to, {self._new_status_changes()}, 1, :revision "
            f"FROM import_certificate s WHERE {new}",
            {"scheme": self._scheme_id, "revision": revisions.recorded(self._s).revision},
        )
        for table, column, field in (
            ("certificate_gtin", "gtin", "gtins"),
            ("certificate_hs_code", "hs_code", "hs_codes"),
        ):
            self._sql(
                f"INSERT INTO {table} (certificate_id, {column}) "
                f"SELECT s.new_id, g.value FROM import_certificate s, "
                f"{d.elements('s.' + field, 'g')} WHERE s.{field} <> '[]' AND {new}"
            )
        self._sql(
            "INSERT INTO certificate_status_event (certificate_id, status, effective_date, reason) "
            "SELECT s.new_id, s.first_status, s.first_date, s.first_reason "
            f"FROM import_certificate s WHERE {new}"
        )
        source, status, day, reason, position = d.objects("s.extra_events", "e")
        self._sql(
            "INSERT INTO certificate_status_event (certificate_id, status, effective_date, reason) "
            f"SELECT s.new_id, {status}, {day}, {reason} FROM import_certificate s, {source} "
            f"WHERE s.extra_events IS NOT NULL AND {new} ORDER BY s.new_id, {position}"
        )

    def _new_status_changes(self) -> str:
        """`status_changes` of a staged new certificate: its first status, then its extra
        events in file order (the order `_insert_new_rows` records them in)."""
        d = self._d
        source, status, day, _reason, position = d.objects("s.extra_events", "e")
        changes = (
            "SELECT s.first_status AS status, s.first_date AS day, -1 AS pos UNION ALL "
            f"SELECT {status}, {day}, {position} FROM {source}"
        )
        if d.postgres:
            first = "json_build_array(json_build_array(s.first_status, s.first_date))::text"
            many = (
                "SELECT json_agg(json_build_array(x.status, x.day) ORDER BY x.pos)::text "
                f"FROM ({changes}) x"
            )
        else:  # the aggregate takes the rows in the order given (see status_changes)
            first = "json_array(json_array(s.first_status, s.first_date))"
            many = (
                "SELECT json_group_array(json_array(x.status, x.day)) "
                f"FROM (SELECT * FROM ({changes}) ORDER BY pos) x"
            )
        return f"CASE WHEN s.extra_events IS NULL THEN {first} ELSE ({many}) END"

    def close(self) -> None:
        for table in ("import_certificate", "import_match", "import_event"):
            self._sql(f"DROP TABLE IF EXISTS {table}")

    # Export

    def export(self, scheme_id: str, filters: CertificateFilter) -> Iterator[Certificate]:
        return export_certificates(self._s, scheme_id, filters)
