"""SQL repositories: the services' ports over one SQLAlchemy session (one transaction)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ecolabel_registry.domain.access import Role
from ecolabel_registry.domain.errors import Conflict, StaleVersion
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    Authorization,
    Certificate,
    CertificationBody,
    Chaining,
    Condition,
    Coverage,
    Direction,
    Economy,
    EconomyKind,
    Level,
    Membership,
    ProductCategory,
    Purpose,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.persistence import certificate_history, revisions, search, status_changes
from ecolabel_registry.persistence.driver import datetime_of, run_sql
from ecolabel_registry.persistence.tables import (
    AgreementPartyRow,
    AgreementRow,
    AgreementStatusEventRow,
    ApiKeyRow,
    AuditEventRow,
    BodyAuthorizationRow,
    CategoryHsCodeRow,
    CertificateGtinRow,
    CertificateHsCodeRow,
    CertificateRow,
    CertificateStatusEventRow,
    CertificationBodyRow,
    EconomyRow,
    GroupMembershipRow,
    PartyStatusEventRow,
    ProductCategoryRow,
    SchemeHomeEconomyRow,
    SchemeRow,
    ScopeEntryRow,
)
from ecolabel_registry.services.changes import ChangeFacts
from ecolabel_registry.services.keys import ApiKey
from ecolabel_registry.services.ports.registry import (
    AgreementFilter,
    CertificateFilter,
    LockedCertificate,
)


def _flush(session: Session, what: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists or collides with existing data") from exc


def _bump(
    session: Session,
    table: Any,
    key: ColumnElement[bool],
    version: int,
    what: str,
    values: Mapping[str, Any],
) -> None:
    """Update one row only if it is still at `version`; StaleVersion otherwise."""
    result = session.execute(
        update(table)
        .where(key, table.version == version)
        .values(**values, version=table.version + 1, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"{what} has changed since version {version}; read it again and retry")


def hold_write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock now, for the rest of the transaction.

    A write that reads, checks and then writes must hold the lock before it reads: SQLite
    has one writer at a time and no row locks, and in WAL mode a transaction that has read
    cannot become a writer once another has committed (`SQLITE_BUSY_SNAPSHOT`). Outside a
    transaction this is `BEGIN IMMEDIATE`, which waits for another writer up to the busy
    timeout; inside one (after earlier writes, or in the test suite's outer transaction) an
    empty UPDATE takes the lock, or fails at once if the transaction's reads are stale. The
    failure, "database is locked", is answered as a conflict. PostgreSQL locks rows instead
    (`_locked`); this does nothing there.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("UPDATE registry_revision SET revision = revision WHERE 0")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _locked(session: Session, query: Any) -> Any:
    """`query` (one row) read under the write lock: `FOR NO KEY UPDATE` on PostgreSQL (other
    writers of the row wait until this transaction ends; readers and foreign keys to the row
    do not), the database's write lock on SQLite.

    The transaction's revision is taken between the two (after SQLite's write lock, before
    PostgreSQL's row lock): see `revisions` on lock order.
    """
    hold_write_lock(session)
    revisions.recorded(session)
    return session.execute(query.with_for_update(key_share=True)).scalar_one_or_none()


def event_from_row(row: Any) -> StatusEvent:
    """A status event from its row (certificate, agreement or party events)."""
    return StatusEvent(
        status=row.status,
        effective_date=row.effective_date,
        reason=row.reason,
        id=str(row.id),
        recorded_at=row.recorded_at,
    )


def _ordered_events(rows: Iterable[Any]) -> tuple[StatusEvent, ...]:
    return tuple(event_from_row(r) for r in sorted(rows, key=lambda r: r.id))


class SqlEconomyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _members(self, codes: Sequence[str]) -> dict[str, tuple[Membership, ...]]:
        out: dict[str, list[Membership]] = defaultdict(list)
        if codes:
            rows = self._s.execute(
                select(GroupMembershipRow)
                .where(GroupMembershipRow.group_code.in_(codes))
                .order_by(GroupMembershipRow.member_code, GroupMembershipRow.valid_from)
            ).scalars()
            for r in rows:
                out[r.group_code].append(Membership(r.member_code, r.valid_from, r.valid_to))
        return {k: tuple(v) for k, v in out.items()}

    def _to_domain(self, rows: Sequence[EconomyRow]) -> list[Economy]:
        members = self._members([r.code for r in rows if r.kind == EconomyKind.GROUP])
        return [
            Economy(r.code, r.name, EconomyKind(r.kind), members.get(r.code, ()), r.version)
            for r in rows
        ]

    def get(self, code: str) -> Economy | None:
        row = self._s.get(EconomyRow, code)
        return None if row is None else self._to_domain([row])[0]

    def kinds(self, codes: Iterable[str]) -> dict[str, EconomyKind]:
        wanted = set(codes)
        if not wanted:
            return {}
        rows = self._s.execute(
            select(EconomyRow.code, EconomyRow.kind).where(EconomyRow.code.in_(wanted))
        )
        return {code: EconomyKind(kind) for code, kind in rows}

    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> list[Economy]:
        query = select(EconomyRow).order_by(EconomyRow.code).limit(limit)
        if after is not None:
            query = query.where(EconomyRow.code > after)
        if kind is not None:
            query = query.where(EconomyRow.kind == kind.value)
        return self._to_domain(self._s.execute(query).scalars().all())

    def groups(self) -> list[Economy]:
        return self.find(None, 100_000, EconomyKind.GROUP)

    def save_group(self, group: Economy, expected_version: int | None) -> Economy:
        if expected_version is None:
            self._s.add(
                EconomyRow(code=group.code, name=group.name, kind=group.kind.value, version=1)
            )
            _flush(self._s, f"economy {group.code}")
        else:
            _bump(
                self._s,
                EconomyRow,
                EconomyRow.code == group.code,
                expected_version,
                f"group {group.code}",
                {"name": group.name},
            )
            self._s.execute(
                delete(GroupMembershipRow).where(GroupMembershipRow.group_code == group.code)
            )
        if group.members:
            self._s.execute(
                insert(GroupMembershipRow),
                [
                    {
                        "group_code": group.code,
                        "member_code": m.member,
                        "valid_from": m.valid_from,
                        "valid_to": m.valid_to,
                    }
                    for m in group.members
                ],
            )
        saved = self.get(group.code)
        assert saved is not None
        return saved


class SqlSchemeRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _to_domain(self, rows: Sequence[SchemeRow]) -> list[Scheme]:
        homes: dict[str, list[str]] = defaultdict(list)
        if rows:
            for scheme_id, code in self._s.execute(
                select(SchemeHomeEconomyRow.scheme_id, SchemeHomeEconomyRow.economy_code)
                .where(SchemeHomeEconomyRow.scheme_id.in_([r.id for r in rows]))
                .order_by(SchemeHomeEconomyRow.economy_code)
            ):
                homes[scheme_id].append(code)
        return [
            Scheme(
                id=r.id,
                name=r.name,
                operator=r.operator,
                type=SchemeType(r.type),
                home_economies=tuple(homes[r.id]),
                certificate_coverage=Coverage(r.certificate_coverage),
                website=r.website,
                description=r.description,
                version=r.version,
            )
            for r in rows
        ]

    def get(self, scheme_id: str) -> Scheme | None:
        row = self._s.get(SchemeRow, scheme_id)
        return None if row is None else self._to_domain([row])[0]

    def existing(self, ids: Iterable[str]) -> set[str]:
        wanted = set(ids)
        if not wanted:
            return set()
        return set(self._s.execute(select(SchemeRow.id).where(SchemeRow.id.in_(wanted))).scalars())

    def find(self, after: str | None, limit: int, ids: set[str] | None) -> list[Scheme]:
        query = select(SchemeRow).order_by(SchemeRow.id).limit(limit)
        if after is not None:
            query = query.where(SchemeRow.id > after)
        if ids is not None:
            query = query.where(SchemeRow.id.in_(sorted(ids)))
        return self._to_domain(self._s.execute(query).scalars().all())

    def all(self) -> list[Scheme]:
        return self._to_domain(
            self._s.execute(select(SchemeRow).order_by(SchemeRow.id)).scalars().all()
        )

    def _fields(self, scheme: Scheme) -> dict[str, Any]:
        return {
            "name": scheme.name,
            "operator": scheme.operator,
            "type": scheme.type.value,
            "website": scheme.website,
            "description": scheme.description,
            "certificate_coverage": scheme.certificate_coverage.value,
        }

    def _homes(self, scheme: Scheme) -> None:
        self._s.execute(
            delete(SchemeHomeEconomyRow).where(SchemeHomeEconomyRow.scheme_id == scheme.id)
        )
        self._s.execute(
            insert(SchemeHomeEconomyRow),
            [{"scheme_id": scheme.id, "economy_code": c} for c in scheme.home_economies],
        )

    def add(self, scheme: Scheme) -> Scheme:
        self._s.add(SchemeRow(id=scheme.id, version=1, **self._fields(scheme)))
        _flush(self._s, f"scheme {scheme.id}")
        self._homes(scheme)
        saved = self.get(scheme.id)
        assert saved is not None
        return saved

    def update(self, scheme: Scheme) -> Scheme:
        _bump(
            self._s,
            SchemeRow,
            SchemeRow.id == scheme.id,
            scheme.version,
            f"scheme {scheme.id}",
            self._fields(scheme),
        )
        self._homes(scheme)
        saved = self.get(scheme.id)
        assert saved is not None
        return saved


def category_from_row(r: ProductCategoryRow) -> ProductCategory:
    return ProductCategory(
        scheme_id=r.scheme_id,
        code=r.code,
        name=r.name,
        criteria_version=r.criteria_version,
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        hs_codes=tuple(r.hs_codes),
        criteria=tuple(r.criteria),
        version=r.version,
    )


def hs_prefixes(code: str) -> list[str]:
    """Every prefix of an HS code of two digits or more, the code itself included."""
    return [code[:n] for n in range(2, len(code) + 1)]


def hs_matches(column: Any, code: str) -> ColumnElement[bool]:
    """SQL for "column and code match as HS prefixes either way"."""
    return or_(column.in_(hs_prefixes(code)), column.like(f"{code}%"))


class SqlCategoryRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, scheme_id: str, code: str) -> ProductCategory | None:
        row = self._s.get(ProductCategoryRow, (scheme_id, code))
        return None if row is None else category_from_row(row)

    def find(self, scheme_id: str, after: str | None, limit: int) -> list[ProductCategory]:
        query = (
            select(ProductCategoryRow)
            .where(ProductCategoryRow.scheme_id == scheme_id)
            .order_by(ProductCategoryRow.code)
            .limit(limit)
        )
        if after is not None:
            query = query.where(ProductCategoryRow.code > after)
        return [category_from_row(r) for r in self._s.execute(query).scalars()]

    def covering(self, hs_code: str) -> list[ProductCategory]:
        matching = select(CategoryHsCodeRow.scheme_id, CategoryHsCodeRow.category_code).where(
            hs_matches(CategoryHsCodeRow.hs_code, hs_code)
        )
        query = (
            select(ProductCategoryRow)
            .where(
                exists(
                    matching.where(
                        CategoryHsCodeRow.scheme_id == ProductCategoryRow.scheme_id,
                        CategoryHsCodeRow.category_code == ProductCategoryRow.code,
                    )
                )
            )
            .order_by(ProductCategoryRow.scheme_id, ProductCategoryRow.code)
        )
        return [category_from_row(r) for r in self._s.execute(query).scalars()]

    def _hs(self, category: ProductCategory) -> None:
        self._s.execute(
            delete(CategoryHsCodeRow).where(
                CategoryHsCodeRow.scheme_id == category.scheme_id,
                CategoryHsCodeRow.category_code == category.code,
            )
        )
        self._s.execute(
            insert(CategoryHsCodeRow),
            [
                {"scheme_id": category.scheme_id, "category_code": category.code, "hs_code": c}
                for c in category.hs_codes
            ],
        )

    @staticmethod
    def _fields(c: ProductCategory) -> dict[str, Any]:
        return {
            "name": c.name,
            "criteria_version": c.criteria_version,
            "valid_from": c.valid_from,
            "valid_to": c.valid_to,
            "hs_codes": list(c.hs_codes),
            "criteria": list(c.criteria),
        }

    def add(self, category: ProductCategory) -> ProductCategory:
        self._s.add(
            ProductCategoryRow(
                scheme_id=category.scheme_id,
                code=category.code,
                version=1,
                **self._fields(category),
            )
        )
        _flush(self._s, f"category {category.scheme_id}/{category.code}")
        self._hs(category)
        saved = self.get(category.scheme_id, category.code)
        assert saved is not None
        return saved

    def update(self, category: ProductCategory) -> ProductCategory:
        key = and_(
            ProductCategoryRow.scheme_id == category.scheme_id,
            ProductCategoryRow.code == category.code,
        )
        _bump(
            self._s,
            ProductCategoryRow,
            key,
            category.version,
            f"category {category.code}",
            self._fields(category),
        )
        self._hs(category)
        self._s.expire_all()
        saved = self.get(category.scheme_id, category.code)
        assert saved is not None
        return saved


class SqlBodyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _to_domain(self, rows: Sequence[CertificationBodyRow]) -> list[CertificationBody]:
        auths: dict[str, list[Authorization]] = defaultdict(list)
        if rows:
            for a in self._s.execute(
                select(BodyAuthorizationRow)
                .where(BodyAuthorizationRow.body_id.in_([r.id for r in rows]))
                .order_by(BodyAuthorizationRow.id)
            ).scalars():
                auths[a.body_id].append(Authorization(a.scheme_id, a.valid_from, a.valid_to))
        return [
            CertificationBody(
                r.id, r.name, r.economy_code, r.accreditation_ref, tuple(auths[r.id]), r.version
            )
            for r in rows
        ]

    def get(self, body_id: str) -> CertificationBody | None:
        row = self._s.get(CertificationBodyRow, body_id)
        return None if row is None else self._to_domain([row])[0]

    def find(self, after: str | None, limit: int, scheme_id: str | None) -> list[CertificationBody]:
        query = select(CertificationBodyRow).order_by(CertificationBodyRow.id).limit(limit)
        if after is not None:
            query = query.where(CertificationBodyRow.id > after)
        if scheme_id is not None:
            query = query.where(
                exists().where(
                    BodyAuthorizationRow.body_id == CertificationBodyRow.id,
                    BodyAuthorizationRow.scheme_id == scheme_id,
                )
            )
        return self._to_domain(self._s.execute(query).scalars().all())

    def _auths(self, body: CertificationBody) -> None:
        self._s.execute(delete(BodyAuthorizationRow).where(BodyAuthorizationRow.body_id == body.id))
        if body.authorizations:
            self._s.execute(
                insert(BodyAuthorizationRow),
                [
                    {
                        "body_id": body.id,
                        "scheme_id": a.scheme_id,
                        "valid_from": a.valid_from,
                        "valid_to": a.valid_to,
                    }
                    for a in body.authorizations
                ],
            )

    @staticmethod
    def _fields(b: CertificationBody) -> dict[str, Any]:
        return {"name": b.name, "economy_code": b.economy, "accreditation_ref": b.accreditation_ref}

    def add(self, body: CertificationBody) -> CertificationBody:
        self._s.add(CertificationBodyRow(id=body.id, version=1, **self._fields(body)))
        _flush(self._s, f"certification body {body.id}")
        self._auths(body)
        saved = self.get(body.id)
        assert saved is not None
        return saved

    def update(self, body: CertificationBody) -> CertificationBody:
        _bump(
            self._s,
            CertificationBodyRow,
            CertificationBodyRow.id == body.id,
            body.version,
            f"certification body {body.id}",
            self._fields(body),
        )
        self._auths(body)
        self._s.expire_all()
        saved = self.get(body.id)
        assert saved is not None
        return saved


def certificate_from_row(row: Any, events: tuple[StatusEvent, ...]) -> Certificate:
    """A certificate from a row holding the `certificate` table's columns by name (an ORM
    row or a Core row) and its status history, in recording order.

    The one mapping of a stored certificate for the ORM and Core readers; the hot read path
    (`persistence.hot`) reads only a certificate's terms (`CertificateTerms`), not whole
    certificates.
    """
    return Certificate(
        scheme_id=row.scheme_id,
        number=row.number,
        category_code=row.category_code,
        holder_name=row.holder_name,
        holder_economy=row.holder_economy,
        product_name=row.product_name,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        brand=row.brand,
        model=row.model,
        gtins=tuple(row.gtins),
        hs_codes=tuple(row.hs_codes),
        certification_body_id=row.certification_body_id,
        status_events=events,
        version=row.version,
    )


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
        return [certificate_from_row(r, _ordered_events(events[r.id])) for r in rows]

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
        row = _locked(
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
            .order_by(e.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(e.id > after)
        return [event_from_row(r) for r in self._s.execute(query).scalars()]

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
        dialect = self._s.get_bind().dialect.name
        driver = search.fts_driver(dialect, filters.terms)
        terms = filters.terms if driver is None else driver.rest
        key = CertificateRow.id.expression if driver is None else driver.rowid
        # Core rows, not ORM objects: a search reads a page of them for every request.
        query = select(*CertificateRow.__table__.c).order_by(key).limit(limit)
        if driver is not None:
            query = (
                query.select_from(driver.table)
                .join(CertificateRow, CertificateRow.id == driver.rowid)
                .where(driver.match)
            )
        if after is not None:
            query = query.where(key > after)
        if filters.scheme_id is not None:
            query = query.where(CertificateRow.scheme_id == filters.scheme_id)
        if filters.category_code is not None:
            query = query.where(CertificateRow.category_code == filters.category_code)
        if filters.certification_body_id is not None:
            query = query.where(
                CertificateRow.certification_body_id == filters.certification_body_id
            )
        if filters.gtin is not None:
            query = query.where(
                exists().where(
                    CertificateGtinRow.certificate_id == CertificateRow.id,
                    CertificateGtinRow.gtin == filters.gtin,
                )
            )
        if filters.holder is not None:
            escaped = (
                filters.holder.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            )
            query = query.where(
                func.lower(CertificateRow.holder_name).like(f"%{escaped}%", escape="\\")
            )
        if filters.hs_code is not None:
            own = exists().where(
                CertificateHsCodeRow.certificate_id == CertificateRow.id,
                hs_matches(CertificateHsCodeRow.hs_code, filters.hs_code),
            )
            has_own = exists().where(CertificateHsCodeRow.certificate_id == CertificateRow.id)
            by_category = exists().where(
                CategoryHsCodeRow.scheme_id == CertificateRow.scheme_id,
                CategoryHsCodeRow.category_code == CertificateRow.category_code,
                hs_matches(CategoryHsCodeRow.hs_code, filters.hs_code),
            )
            query = query.where(or_(own, and_(~has_own, by_category)))
        for term in terms:
            query = query.where(search.term_match(dialect, term))
        rows = self._s.execute(query).all()
        return list(zip([r.id for r in rows], self._to_domain(rows), strict=True))

    @staticmethod
    def _fields(c: Certificate) -> dict[str, Any]:
        return {
            "category_code": c.category_code,
            "holder_name": c.holder_name,
            "holder_economy": c.holder_economy,
            "product_name": c.product_name,
            "brand": c.brand,
            "model": c.model,
            "gtins": list(c.gtins),
            "hs_codes": list(c.hs_codes),
            "certification_body_id": c.certification_body_id,
            "valid_from": c.valid_from,
            "valid_to": c.valid_to,
        }

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
        _flush(self._s, f"certificate {certificate.scheme_id}/{certificate.number}")
        self._index(row.id, certificate, replace=False)
        for event in certificate.status_events:
            self._insert_event(row.id, event)
        self._refresh_status_changes(row.id)
        saved = self.get(certificate.scheme_id, certificate.number)
        assert saved is not None
        return saved

    def update(self, certificate: Certificate) -> Certificate:
        row = self._row(certificate.scheme_id, certificate.number)
        assert row is not None
        revision = self._keep_history(row.id)
        _bump(
            self._s,
            CertificateRow,
            CertificateRow.id == row.id,
            certificate.version,
            f"certificate {certificate.number}",
            {**self._fields(certificate), "recorded_revision": revision},
        )
        self._index(row.id, certificate, replace=True)
        self._s.expire_all()
        saved = self.get(certificate.scheme_id, certificate.number)
        assert saved is not None
        return saved

    def _insert_event(self, certificate_id: int, event: StatusEvent) -> StatusEvent:
        row = CertificateStatusEventRow(
            certificate_id=certificate_id,
            status=str(event.status),
            effective_date=event.effective_date,
            reason=event.reason,
        )
        self._s.add(row)
        self._s.flush()
        self._s.refresh(row)
        return event_from_row(row)

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


def _scope_entry(r: ScopeEntryRow) -> ScopeEntry:
    return ScopeEntry(
        id=r.id,
        recognized_scheme_id=r.recognized_scheme_id,
        recognizing_scheme_id=r.recognizing_scheme_id,
        level=Level(r.level),
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        category_code=r.category_code,
        hs_prefixes=tuple(r.hs_prefixes),
        equivalent_category_code=r.equivalent_category_code,
        conditions=tuple(Condition(c["text"], tuple(c.get("criteria", ()))) for c in r.conditions),
        version=r.version,
    )


class SqlAgreementRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _load(self, rows: Sequence[AgreementRow]) -> list[Agreement]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        parties: dict[str, list[str]] = defaultdict(list)
        for p in self._s.execute(
            select(AgreementPartyRow)
            .where(AgreementPartyRow.agreement_id.in_(ids))
            .order_by(AgreementPartyRow.scheme_id)
        ).scalars():
            parties[p.agreement_id].append(p.scheme_id)
        party_events: dict[tuple[str, str], list[PartyStatusEventRow]] = defaultdict(list)
        for pe in self._s.execute(
            select(PartyStatusEventRow).where(PartyStatusEventRow.agreement_id.in_(ids))
        ).scalars():
            party_events[(pe.agreement_id, pe.scheme_id)].append(pe)
        events: dict[str, list[AgreementStatusEventRow]] = defaultdict(list)
        for e in self._s.execute(
            select(AgreementStatusEventRow).where(AgreementStatusEventRow.agreement_id.in_(ids))
        ).scalars():
            events[e.agreement_id].append(e)
        entries: dict[str, list[ScopeEntry]] = defaultdict(list)
        for s in self._s.execute(
            select(ScopeEntryRow)
            .where(ScopeEntryRow.agreement_id.in_(ids))
            .order_by(ScopeEntryRow.valid_from, ScopeEntryRow.created_at, ScopeEntryRow.id)
        ).scalars():
            entries[s.agreement_id].append(_scope_entry(s))
        return [
            Agreement(
                id=r.id,
                title=r.title,
                reference=r.reference,
                url=r.url,
                signed_on=r.signed_on,
                direction=Direction(r.direction),
                chaining=Chaining(r.chaining),
                purpose=Purpose(r.purpose),
                effective_from=r.effective_from,
                effective_to=r.effective_to,
                recognizing_scheme_id=r.recognizing_scheme_id,
                recognized_scheme_id=r.recognized_scheme_id,
                parties=tuple(
                    AgreementParty(s, _ordered_events(party_events[(r.id, s)]))
                    for s in parties[r.id]
                ),
                scope_entries=tuple(entries[r.id]),
                status_events=_ordered_events(events[r.id]),
                version=r.version,
            )
            for r in rows
        ]

    def get(self, agreement_id: str) -> Agreement | None:
        row = self._s.get(AgreementRow, agreement_id)
        return None if row is None else self._load([row])[0]

    def lock(self, agreement_id: str) -> bool:
        query = select(AgreementRow.id).where(AgreementRow.id == agreement_id)
        return _locked(self._s, query) is not None

    def status_events(self, agreement_id: str, after: int | None, limit: int) -> list[StatusEvent]:
        e = AgreementStatusEventRow
        query = select(e).where(e.agreement_id == agreement_id).order_by(e.id).limit(limit)
        if after is not None:
            query = query.where(e.id > after)
        return [event_from_row(r) for r in self._s.execute(query).scalars()]

    def party_status_events(
        self, agreement_id: str, scheme_id: str, after: int | None, limit: int
    ) -> list[StatusEvent]:
        e = PartyStatusEventRow
        query = (
            select(e)
            .where(e.agreement_id == agreement_id, e.scheme_id == scheme_id)
            .order_by(e.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(e.id > after)
        return [event_from_row(r) for r in self._s.execute(query).scalars()]

    def scope_entries(
        self, agreement_id: str, after: str | None, limit: int
    ) -> list[ScopeEntry] | None:
        s = ScopeEntryRow
        query = (
            select(s)
            .where(s.agreement_id == agreement_id)
            .order_by(s.valid_from, s.created_at, s.id)
            .limit(limit)
        )
        if after is not None:
            anchor = select(s.id).where(s.id == after, s.agreement_id == agreement_id)
            if self._s.execute(anchor).scalar_one_or_none() is None:
                return None
            # The anchor's own values, compared in SQL (a timestamp read back and bound again
            # would not compare equal to itself on SQLite).
            a = aliased(ScopeEntryRow)
            valid_from = select(a.valid_from).where(a.id == after).scalar_subquery()
            created_at = select(a.created_at).where(a.id == after).scalar_subquery()
            query = query.where(
                or_(
                    s.valid_from > valid_from,
                    and_(
                        s.valid_from == valid_from,
                        or_(
                            s.created_at > created_at,
                            and_(s.created_at == created_at, s.id > after),
                        ),
                    ),
                )
            )
        return [_scope_entry(r) for r in self._s.execute(query).scalars()]

    def find(self, filters: AgreementFilter, after: str | None, limit: int) -> list[Agreement]:
        query = select(AgreementRow).order_by(AgreementRow.id).limit(limit)
        if after is not None:
            query = query.where(AgreementRow.id > after)
        if filters.scheme_ids is not None:
            query = query.where(
                exists().where(
                    AgreementPartyRow.agreement_id == AgreementRow.id,
                    AgreementPartyRow.scheme_id.in_(filters.scheme_ids),
                )
            )
        if filters.purpose is not None:
            query = query.where(AgreementRow.purpose == filters.purpose.value)
        if filters.in_force_on is not None:
            on = filters.in_force_on
            latest = (
                select(AgreementStatusEventRow.status)
                .where(
                    AgreementStatusEventRow.agreement_id == AgreementRow.id,
                    AgreementStatusEventRow.effective_date <= on,
                )
                .order_by(
                    AgreementStatusEventRow.effective_date.desc(), AgreementStatusEventRow.id.desc()
                )
                .limit(1)
                .scalar_subquery()
            )
            query = query.where(
                AgreementRow.effective_from <= on,
                or_(AgreementRow.effective_to.is_(None), AgreementRow.effective_to >= on),
                func.coalesce(latest, "in_force") == "in_force",
            )
        return self._load(self._s.execute(query).scalars().all())

    def all(self) -> list[Agreement]:
        return self._load(
            self._s.execute(select(AgreementRow).order_by(AgreementRow.id)).scalars().all()
        )

    @staticmethod
    def _fields(a: Agreement) -> dict[str, Any]:
        return {
            "title": a.title,
            "reference": a.reference,
            "url": a.url,
            "signed_on": a.signed_on,
            "chaining": a.chaining.value,
            "purpose": a.purpose.value,
            "effective_to": a.effective_to,
        }

    def add(self, agreement: Agreement) -> Agreement:
        self._s.add(
            AgreementRow(
                id=agreement.id,
                direction=agreement.direction.value,
                effective_from=agreement.effective_from,
                recognizing_scheme_id=agreement.recognizing_scheme_id,
                recognized_scheme_id=agreement.recognized_scheme_id,
                version=1,
                **self._fields(agreement),
            )
        )
        _flush(self._s, f"agreement {agreement.id}")
        self._s.execute(
            insert(AgreementPartyRow),
            [{"agreement_id": agreement.id, "scheme_id": p.scheme_id} for p in agreement.parties],
        )
        for entry in agreement.scope_entries:
            self.add_scope_entry(agreement.id, entry)
        for event in agreement.status_events:
            self.add_status_event(agreement.id, event)
        saved = self.get(agreement.id)
        assert saved is not None
        return saved

    def update(self, agreement: Agreement) -> Agreement:
        _bump(
            self._s,
            AgreementRow,
            AgreementRow.id == agreement.id,
            agreement.version,
            f"agreement {agreement.id}",
            self._fields(agreement),
        )
        self._s.expire_all()
        saved = self.get(agreement.id)
        assert saved is not None
        return saved

    def touch(self, agreement_id: str) -> None:
        self._s.execute(
            update(AgreementRow)
            .where(AgreementRow.id == agreement_id)
            .values(version=AgreementRow.version + 1, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
        self._s.expire_all()

    def add_status_event(self, agreement_id: str, event: StatusEvent) -> StatusEvent:
        row = AgreementStatusEventRow(
            agreement_id=agreement_id,
            status=str(event.status),
            effective_date=event.effective_date,
            reason=event.reason,
        )
        self._s.add(row)
        self._s.flush()
        self._s.refresh(row)
        return event_from_row(row)

    def add_party_status_event(
        self, agreement_id: str, scheme_id: str, event: StatusEvent
    ) -> StatusEvent:
        row = PartyStatusEventRow(
            agreement_id=agreement_id,
            scheme_id=scheme_id,
            status=str(event.status),
            effective_date=event.effective_date,
            reason=event.reason,
        )
        self._s.add(row)
        self._s.flush()
        self._s.refresh(row)
        return event_from_row(row)

    @staticmethod
    def _entry_fields(e: ScopeEntry) -> dict[str, Any]:
        return {
            "recognized_scheme_id": e.recognized_scheme_id,
            "recognizing_scheme_id": e.recognizing_scheme_id,
            "category_code": e.category_code,
            "equivalent_category_code": e.equivalent_category_code,
            "hs_prefixes": list(e.hs_prefixes),
            "level": e.level.value,
            "conditions": [{"text": c.text, "criteria": list(c.criteria)} for c in e.conditions],
            "valid_from": e.valid_from,
            "valid_to": e.valid_to,
        }

    def add_scope_entry(self, agreement_id: str, entry: ScopeEntry) -> ScopeEntry:
        row = ScopeEntryRow(
            id=entry.id, agreement_id=agreement_id, version=1, **self._entry_fields(entry)
        )
        self._s.add(row)
        _flush(self._s, f"scope entry {entry.id}")
        return _scope_entry(row)

    def update_scope_entry(
        self, agreement_id: str, entry: ScopeEntry, expected_version: int
    ) -> ScopeEntry:
        key = and_(ScopeEntryRow.id == entry.id, ScopeEntryRow.agreement_id == agreement_id)
        _bump(
            self._s,
            ScopeEntryRow,
            key,
            expected_version,
            f"scope entry {entry.id}",
            {"valid_to": entry.valid_to},
        )
        self._s.expire_all()
        row = self._s.get(ScopeEntryRow, entry.id)
        assert row is not None
        return _scope_entry(row)

    def scope_entry_version(self, entry_id: str) -> int | None:
        return self._s.execute(
            select(ScopeEntryRow.version).where(ScopeEntryRow.id == entry_id)
        ).scalar_one_or_none()


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._s = session

    def record(
        self,
        *,
        actor_key_id: str,
        actor_name: str,
        operation: str,
        entity_type: str,
        entity_id: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        self._s.execute(
            insert(AuditEventRow).values(
                actor_key_id=actor_key_id,
                actor_name=actor_name,
                operation=operation,
                entity_type=entity_type,
                entity_id=entity_id,
                before=None if before is None else dict(before),
                after=None if after is None else dict(after),
            )
        )


class SqlRegistry:
    """Every repository over one session: the unit of work of one request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        revisions.watch(session)
        self.economies = SqlEconomyRepository(session)
        self.schemes = SqlSchemeRepository(session)
        self.categories = SqlCategoryRepository(session)
        self.bodies = SqlBodyRepository(session)
        self.certificates = SqlCertificateRepository(session)
        self.agreements = SqlAgreementRepository(session)
        self.audit = SqlAuditLog(session)

    def changed(self, entity_type: str, entity_id: str, facts: ChangeFacts | None = None) -> None:
        """Log the entity under this transaction's revision (`revisions.changed`), with what
        the change feed says of it."""
        revisions.changed(self.session, entity_type, entity_id, facts)


_KEY_BY_HASH = (
    "SELECT id, name, role, scheme_ids, certification_body_id, created_at, revoked_at "
    "FROM api_key WHERE key_hash = ?"
)


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The key of `key_hash`, read with one plain statement: every write authenticates
    first, and the ORM's read of the row costs many times the database's."""
    rows = run_sql(session, _KEY_BY_HASH, (key_hash,), fetch=True)
    if not rows:
        return None
    key_id, name, role, scheme_ids, body_id, created_at, revoked_at = rows[0]
    return ApiKey(
        id=key_id,
        name=name,
        role=Role(role),
        scheme_ids=tuple(json.loads(scheme_ids) if isinstance(scheme_ids, str) else scheme_ids),
        certification_body_id=body_id,
        created_at=datetime_of(created_at),
        revoked_at=datetime_of(revoked_at),
    )


class SqlApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
        self.audit = SqlAuditLog(session)

    @staticmethod
    def _key(r: ApiKeyRow) -> ApiKey:
        return ApiKey(
            id=r.id,
            name=r.name,
            role=Role(r.role),
            scheme_ids=tuple(r.scheme_ids),
            certification_body_id=r.certification_body_id,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return api_key_by_hash(self._s, key_hash)

    def get(self, key_id: str) -> ApiKey | None:
        row = self._s.get(ApiKeyRow, key_id)
        return None if row is None else self._key(row)

    def add(self, key: ApiKey, key_hash: str) -> None:
        self._s.add(
            ApiKeyRow(
                id=key.id,
                name=key.name,
                role=key.role.value,
                scheme_ids=list(key.scheme_ids),
                certification_body_id=key.certification_body_id,
                key_hash=key_hash,
            )
        )
        self._s.flush()

    def find(self) -> list[ApiKey]:
        return [
            self._key(r)
            for r in self._s.execute(
                select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
            ).scalars()
        ]

    def revoke(self, key_id: str) -> None:
        self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )

    def schemes_exist(self, scheme_ids: tuple[str, ...]) -> set[str]:
        return SqlSchemeRepository(self._s).existing(scheme_ids)

    def body_exists(self, body_id: str) -> bool:
        return self._s.get(CertificationBodyRow, body_id) is not None
