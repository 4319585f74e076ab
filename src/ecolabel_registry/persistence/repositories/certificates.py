"""Certificates: their status events, search, and the history kept of each write."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import (
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import (
    CERTIFICATE_FIELDS,
    CERTIFICATE_TERMS_CHANGEABLE,
    Certificate,
    StatusEvent,
)
from ecolabel_registry.persistence import certificate_history, revisions, search, status_changes
from ecolabel_registry.persistence.repositories.base import (
    bump_version,
    columns,
    event_page,
    flush_new,
    from_row,
    insert_event,
    locked,
    ordered_events,
    stored,
)
from ecolabel_registry.persistence.tables import (
    CertificateGtinRow,
    CertificateHsCodeRow,
    CertificateRow,
    CertificateStatusEventRow,
)
from ecolabel_registry.services.ports.registry import (
    CertificateFilter,
    LockedCertificate,
)


def certificate_from_row(row: Any, events: tuple[StatusEvent, ...]) -> Certificate:
    """A certificate from a row holding the `certificate` table's columns by name (an ORM
    row or a Core row) and its status history, in recording order.

    The one mapping of a stored certificate for the ORM and Core readers; the plain-SQL
    readers (the lists, the certificate page) read their rows with `WholeRows`.
    """
    return from_row(
        Certificate,
        row,
        gtins=tuple(row.gtins),
        hs_codes=tuple(row.hs_codes),
        status_events=events,
    )


def timestamp(text: str) -> dt.datetime:
    """A recorded_at as the events' JSON holds it (PostgreSQL's ISO form, or SQLite's stored
    text, naive UTC)."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


WHOLE_NAMES = ("scheme_id", *CERTIFICATE_FIELDS, "version", "events")
"""A whole certificate as the plain-SQL readers select it (`persistence.hot.dialect.whole`):
the columns of `certificate` in the order of `CERTIFICATE_FIELDS`, lists as JSON text, the
events as one JSON text."""


class WholeRows:
    """Certificates from rows of `WHOLE_NAMES`, dates converted once per read: the one reader
    of such rows, for the certificate page, the lists and the search."""

    def __init__(self, text_dates: bool) -> None:
        self._text_dates = text_dates
        self._dates: dict[str, dt.date] = {}
        self._lists: dict[str | None, tuple[str, ...]] = {"[]": (), None: ()}

    def _date(self, text: str) -> dt.date:
        day = self._dates.get(text)
        if day is None:
            day = self._dates[text] = dt.date.fromisoformat(text)
        return day

    def _list(self, text: str | None) -> tuple[str, ...]:
        value = self._lists.get(text)
        if value is None:
            value = self._lists[text] = tuple(orjson.loads(text or "[]"))
        return value

    def certificate(self, row: Sequence[Any]) -> Certificate:
        """One certificate of a row of `WHOLE_NAMES`, through `certificate_from_row`."""
        fields = dict(zip(WHOLE_NAMES, row, strict=True))
        events = fields.pop("events")
        if self._text_dates:
            fields["valid_from"] = self._date(fields["valid_from"])
            fields["valid_to"] = self._date(fields["valid_to"])
        fields["gtins"] = self._list(fields["gtins"])
        fields["hs_codes"] = self._list(fields["hs_codes"])
        date = self._date
        return certificate_from_row(
            SimpleNamespace(**fields),
            tuple(
                StatusEvent(
                    status=status,
                    effective_date=date(effective),
                    reason=reason,
                    id=str(event_id),
                    recorded_at=None if recorded is None else timestamp(recorded),
                )
                for event_id, status, effective, reason, recorded in orjson.loads(events or "[]")
            ),
        )

    def listed(self, rows: Iterable[Sequence[Any]]) -> list[tuple[int, Certificate]]:
        """Certificates of rows of `listed_columns` (the id, then `WHOLE_NAMES`)."""
        return [(row[0], self.certificate(row[1:])) for row in rows]


class SqlCertificateRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _to_domain(self, rows: Sequence[Any]) -> list[Certificate]:
        """Certificates of ORM or Core rows of `certificate`, their events read as Core rows
        (no ORM objects: a page of them is read for every search)."""
        events: dict[int, list[Any]] = defaultdict(list)
        if rows:
            table = CertificateStatusEventRow.__table__
            for e in self._s.execute(
                select(table).where(table.c.certificate_id.in_([r.id for r in rows]))
            ):
                events[e.certificate_id].append(e)
        return [certificate_from_row(r, ordered_events(events[r.id])) for r in rows]

    def _row(self, scheme_id: str, number: str) -> CertificateRow | None:
        return self._s.execute(
            select(CertificateRow).where(
                CertificateRow.scheme_id == scheme_id, CertificateRow.number == number
            )
        ).scalar_one_or_none()

    def get(self, scheme_id: str, number: str) -> Certificate | None:
        row = self._row(scheme_id, number)
        return None if row is None else self._to_domain([row])[0]

    def lock(self, scheme_id: str, number: str) -> LockedCertificate | None:
        row = locked(
            self._s,
            select(CertificateRow).where(
                CertificateRow.scheme_id == scheme_id, CertificateRow.number == number
            ),
        )
        if row is None:
            return None
        return LockedCertificate(
            certificate_from_row(row, ()), status_changes.parse(row.status_changes)
        )

    def status_events(
        self, scheme_id: str, number: str, after: int | None, limit: int
    ) -> list[StatusEvent]:
        e = CertificateStatusEventRow
        query = (
            select(e)
            .join(CertificateRow, CertificateRow.id == e.certificate_id)
            .where(CertificateRow.scheme_id == scheme_id, CertificateRow.number == number)
        )
        return event_page(self._s, e, query, after, limit)

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Certificate]:
        by_scheme: dict[str, set[str]] = defaultdict(set)
        for scheme_id, number in keys:
            by_scheme[scheme_id].add(number)
        rows: list[CertificateRow] = []
        for scheme_id, numbers in by_scheme.items():
            ordered = sorted(numbers)
            for start in range(0, len(ordered), 500):
                rows.extend(
                    self._s.execute(
                        select(CertificateRow).where(
                            CertificateRow.scheme_id == scheme_id,
                            CertificateRow.number.in_(ordered[start : start + 500]),
                        )
                    ).scalars()
                )
        return {(c.scheme_id, c.number): c for c in self._to_domain(rows)}

    def find(
        self, filters: CertificateFilter, after: int | None, limit: int
    ) -> list[tuple[int, Certificate]]:
        # The hot reads' statement of a list (persistence.search.listed), on this session's
        # connection. Imported here: persistence.hot reads certificates with this module.
        from ecolabel_registry.persistence.hot.reads import terms_dialect

        name = self._s.get_bind().dialect.name
        dialect = terms_dialect(name)
        sql, params = search.listed(name, dialect.listed_columns, filters, after, limit)
        rows = self._s.connection().exec_driver_sql(sql, params).all()
        return WholeRows(dialect.text_dates).listed(rows)

    @staticmethod
    def _fields(c: Certificate) -> dict[str, Any]:
        # The terms an update may change, and the issuing body (set when it is added).
        return columns(
            c,
            (*CERTIFICATE_TERMS_CHANGEABLE, "certification_body_id"),
            gtins=list(c.gtins),
            hs_codes=list(c.hs_codes),
        )

    def _index(self, certificate_id: int, c: Certificate, replace: bool) -> None:
        if replace:
            self._s.execute(
                delete(CertificateGtinRow).where(
                    CertificateGtinRow.certificate_id == certificate_id
                )
            )
            self._s.execute(
                delete(CertificateHsCodeRow).where(
                    CertificateHsCodeRow.certificate_id == certificate_id
                )
            )
        if c.gtins:
            self._s.execute(
                insert(CertificateGtinRow),
                [{"certificate_id": certificate_id, "gtin": g} for g in c.gtins],
            )
        if c.hs_codes:
            self._s.execute(
                insert(CertificateHsCodeRow),
                [{"certificate_id": certificate_id, "hs_code": h} for h in c.hs_codes],
            )

    def add(self, certificate: Certificate) -> Certificate:
        row = CertificateRow(
            scheme_id=certificate.scheme_id,
            number=certificate.number,
            version=1,
            recorded_revision=revisions.recorded(self._s).revision,
            **self._fields(certificate),
        )
        self._s.add(row)
        flush_new(self._s, f"certificate {certificate.scheme_id}/{certificate.number}")
        self._index(row.id, certificate, replace=False)
        for event in certificate.status_events:
            self._insert_event(row.id, event)
        self._refresh_status_changes(row.id)
        return stored(self.get(certificate.scheme_id, certificate.number))

    def update(self, certificate: Certificate) -> Certificate:
        row = self._row(certificate.scheme_id, certificate.number)
        assert row is not None
        revision = self._keep_history(row.id)
        bump_version(
            self._s,
            CertificateRow,
            CertificateRow.id == row.id,
            certificate.version,
            f"certificate {certificate.number}",
            {**self._fields(certificate), "recorded_revision": revision},
        )
        self._index(row.id, certificate, replace=True)
        self._s.expire_all()
        return stored(self.get(certificate.scheme_id, certificate.number))

    def _insert_event(self, certificate_id: int, event: StatusEvent) -> StatusEvent:
        return insert_event(
            self._s, CertificateStatusEventRow, event, certificate_id=certificate_id
        )

    def add_status_event(
        self, scheme_id: str, number: str, event: StatusEvent
    ) -> tuple[StatusEvent, int]:
        row = self._row(scheme_id, number)
        assert row is not None
        revision = self._keep_history(row.id)
        saved = self._insert_event(row.id, event)
        version = self._s.execute(
            update(CertificateRow)
            .where(CertificateRow.id == row.id)
            .values(
                version=CertificateRow.version + 1,
                updated_at=func.now(),
                recorded_revision=revision,
            )
            .returning(CertificateRow.version)
            .execution_options(synchronize_session=False)
        ).scalar_one()
        self._refresh_status_changes(row.id)
        self._s.expire_all()
        return saved, version

    def _keep_history(self, certificate_id: int) -> int:
        """Copy the row into `certificate_history` before this transaction changes it; the
        transaction's revision, which the row is then recorded at."""
        revision = revisions.recorded(self._s).revision
        self._s.execute(
            text(certificate_history.keep("c.id = :id")),
            {"id": certificate_id, "revision": revision},
        )
        return revision

    def _refresh_status_changes(self, certificate_id: int) -> None:
        postgres = self._s.get_bind().dialect.name == "postgresql"
        self._s.execute(
            text(status_changes.refresh(postgres, "certificate.id = :id")), {"id": certificate_id}
        )
