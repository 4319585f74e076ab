"""The resolver's facts as recorded: an append-only log of fact versions (ADR 0007).

`fact_version` holds each version of an economy, scheme, product category or agreement
(with its parties, statuses, scope entries, conditions, chaining and purpose) exactly as the
facts loader returns it: the domain object, encoded by msgspec (one definition: the domain
types). A transaction that changed facts writes, before it commits, the new version of each
fact it changed, read back through the repositories as the cache's delta update reads them
(`SqlFacts.read`), and closes the previous version at its revision. Nothing is updated in
place but the closing revision of the version it supersedes.

The facts as recorded at revision R are the versions with `recorded_revision <= R` and no
`superseded_revision` at or before R.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import (
    Agreement,
    Certificate,
    Economy,
    EconomyKind,
    ProductCategory,
    Scheme,
)
from ecolabel_registry.domain.resolver import RegistryFacts
from ecolabel_registry.persistence import revisions, status_changes
from ecolabel_registry.persistence.facts import SqlFacts
from ecolabel_registry.persistence.repositories import (
    SqlAgreementRepository,
    SqlEconomyRepository,
    SqlSchemeRepository,
    certificate_from_row,
    event_from_row,
)
from ecolabel_registry.persistence.tables import (
    CertificateHistoryRow,
    CertificateRow,
    CertificateStatusEventRow,
    EconomyRow,
    FactVersionRow,
    RegistryRevisionLogRow,
)
from ecolabel_registry.services.ports.equivalence import FactChanges

ECONOMY, SCHEME, CATEGORY, AGREEMENT = "economy", "scheme", "product_category", "agreement"
_encode = msgspec.json.Encoder().encode
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    ECONOMY: msgspec.json.Decoder(Economy),
    SCHEME: msgspec.json.Decoder(Scheme),
    CATEGORY: msgspec.json.Decoder(ProductCategory),
    AGREEMENT: msgspec.json.Decoder(Agreement),
}

Facts = tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]


def _entries(changes: FactChanges) -> list[tuple[str, str, Any]]:
    return [
        *((ECONOMY, code, e) for code, e in changes.economies.items()),
        *((SCHEME, key, s) for key, s in changes.schemes.items()),
        *((CATEGORY, f"{k[0]}/{k[1]}", c) for k, c in changes.categories.items()),
        *((AGREEMENT, key, a) for key, a in changes.agreements.items()),
    ]


def _write(session: Session, revision: int, entries: Iterable[tuple[str, str, Any]]) -> None:
    rows = [
        {
            "kind": kind,
            "key": key,
            "recorded_revision": revision,
            "body": None if value is None else _encode(value).decode(),
        }
        for kind, key, value in entries
    ]
    if rows:
        session.execute(insert(FactVersionRow), rows)


def record(session: Session, revision: int, changed: Iterable[tuple[str, str]]) -> None:
    """Write the new version of each cached fact among `changed` (change-log ids), recorded
    at `revision`, and close the versions they supersede (before the transaction commits)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for entity_type, entity_id in changed:
        wanted[entity_type].add(entity_id)
    changes = SqlFacts(session).read(revision, wanted)
    if changes is None:
        return
    entries = _entries(changes)
    if not entries:
        return
    v = FactVersionRow
    for kind in {kind for kind, _key, _value in entries}:
        keys = [key for k, key, _value in entries if k == kind]
        session.execute(
            update(v)
            .where(
                v.kind == kind,
                v.key.in_(keys),
                v.superseded_revision.is_(None),
                v.recorded_revision < revision,
            )
            .values(superseded_revision=revision)
            .execution_options(synchronize_session=False)
        )
    _write(session, revision, entries)


def ensure_baseline(session: Session) -> None:
    """Write the baseline versions of every fact when there are none yet (the first recorded
    write transaction after migration 0008), recorded at the first logged revision.

    Called with the revision counter's lock held and before the transaction's own writes:
    no fact has changed since the migration, so the facts as they are now are the facts as
    recorded then.
    """
    if session.execute(select(FactVersionRow.id).limit(1)).first() is not None:
        return
    first = session.execute(select(func.min(RegistryRevisionLogRow.revision))).scalar_one()
    if first is None:
        return
    facts, categories, _codes = SqlFacts(session).load()
    groups = SqlEconomyRepository(session)
    countries = [
        Economy(r.code, r.name, EconomyKind.COUNTRY, (), r.version)
        for r in session.execute(select(EconomyRow).where(EconomyRow.kind == "country")).scalars()
    ]
    _write(
        session,
        int(first),
        _entries(
            FactChanges(
                revision=int(first),
                economies={
                    **{e.code: e for e in countries},
                    **{g.code: g for g in groups.groups()},
                },
                schemes=dict(facts.schemes),
                categories=categories,
                agreements={a.id: a for a in facts.agreements},
            )
        ),
    )


def _as_of(revision: int) -> Any:
    v = FactVersionRow
    return and_(
        v.recorded_revision <= revision,
        or_(v.superseded_revision.is_(None), v.superseded_revision > revision),
    )


class SqlFactVersions:
    """Reads the resolver's facts as recorded at a revision (`services.ports.equivalence.
    RecordedSource`)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def facts_revision(self, revision: int) -> int:
        """The last revision at or before `revision` that recorded a fact version (0: none)."""
        found = self._s.execute(
            select(func.max(FactVersionRow.recorded_revision)).where(
                FactVersionRow.recorded_revision <= revision
            )
        ).scalar_one()
        return int(found or 0)

    def load_at(self, revision: int) -> Facts:
        """Every fact as recorded at `revision` (the facts as they are when no version has
        been written yet: nothing changed since the migration)."""
        if self._s.execute(select(FactVersionRow.id).limit(1)).first() is None:
            return SqlFacts(self._s).load()
        v = FactVersionRow
        rows = self._s.execute(
            select(v.kind, v.key, v.body).where(_as_of(revision), v.body.is_not(None))
        ).all()
        return _facts([(kind, _DECODERS[kind].decode(body)) for kind, _key, body in rows])

    def changes_between(self, base: int, revision: int, limit: int) -> FactChanges | None:
        """The facts that differ between revisions `base` and `revision`, as recorded at
        `revision`; None when more than `limit` do."""
        low, high = sorted((base, revision))
        v = FactVersionRow
        keys = self._s.execute(
            select(v.kind, v.key)
            .where(v.recorded_revision > low, v.recorded_revision <= high)
            .distinct()
            .limit(limit + 1)
        ).all()
        if len(keys) > limit:
            return None
        by_kind: dict[str, set[str]] = defaultdict(set)
        for kind, key in keys:
            by_kind[kind].add(key)
        values: dict[tuple[str, str], Any] = {}
        for kind, wanted in by_kind.items():
            for key, body in self._s.execute(
                select(v.key, v.body).where(v.kind == kind, v.key.in_(wanted), _as_of(revision))
            ):
                values[(kind, key)] = None if body is None else _DECODERS[kind].decode(body)
        return _changes(revision, by_kind, values)

    def get(self, kind: str, key: str, revision: int) -> Any:
        """One fact as recorded at `revision`; None when it did not exist then."""
        v = FactVersionRow
        body = self._s.execute(
            select(v.body).where(v.kind == kind, v.key == key, _as_of(revision))
        ).scalar_one_or_none()
        return None if body is None else _DECODERS[kind].decode(body)

    def has_versions(self) -> bool:
        return self._s.execute(select(FactVersionRow.id).limit(1)).first() is not None


def _facts(values: Iterable[tuple[str, Any]]) -> Facts:
    groups: dict[str, Economy] = {}
    codes: set[str] = set()
    schemes: dict[str, Scheme] = {}
    categories: dict[tuple[str, str], ProductCategory] = {}
    agreements: dict[str, Agreement] = {}
    for kind, value in values:
        if kind == ECONOMY:
            codes.add(value.code)
            if value.kind is EconomyKind.GROUP:
                groups[value.code] = value
        elif kind == SCHEME:
            schemes[value.id] = value
        elif kind == CATEGORY:
            categories[(value.scheme_id, value.code)] = value
        else:
            agreements[value.id] = value
    facts = RegistryFacts(
        economies=groups,
        schemes=schemes,
        agreements=[agreements[k] for k in sorted(agreements)],
    )
    return facts, categories, frozenset(codes)


def _changes(
    revision: int, by_kind: Mapping[str, set[str]], values: Mapping[tuple[str, str], Any]
) -> FactChanges:
    def of(kind: str) -> dict[str, Any]:
        return {key: values.get((kind, key)) for key in by_kind.get(kind, ())}

    return FactChanges(
        revision=revision,
        economies=of(ECONOMY),
        schemes=of(SCHEME),
        categories={tuple(key.split("/", 1)): value for key, value in of(CATEGORY).items()},  # type: ignore[misc]
        agreements=of(AGREEMENT),
    )


class SqlRecordedEntities:
    """Entities as recorded at a revision (`services.recorded.RecordedEntities`)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def recorded_revision(self, instant: dt.datetime) -> tuple[int, int] | None:
        log = RegistryRevisionLogRow
        revision = self._s.execute(
            select(log.revision)
            .where(log.recorded_at <= instant)
            .order_by(log.recorded_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if revision is None:
            return None
        return int(revision), SqlFactVersions(self._s).facts_revision(int(revision))

    def first_recorded(self) -> dt.datetime | None:
        first = self._s.execute(select(func.min(RegistryRevisionLogRow.recorded_at))).scalar()
        return None if first is None else revisions.utc(first)

    def certificate(self, scheme_id: str, number: str, revision: int) -> Certificate | None:
        """The certificate's row in force at `revision` and the status events it held then
        (its `status_changes` copy the events in recording order, so the first as many)."""
        row: Any = self._s.execute(
            select(CertificateRow).where(
                CertificateRow.scheme_id == scheme_id,
                CertificateRow.number == number,
                CertificateRow.recorded_revision <= revision,
            )
        ).scalar_one_or_none()
        certificate_id = None if row is None else row.id
        if row is None:
            h = CertificateHistoryRow
            row = self._s.execute(
                select(h).where(
                    h.scheme_id == scheme_id,
                    h.number == number,
                    h.recorded_revision <= revision,
                    h.superseded_revision > revision,
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            certificate_id = row.certificate_id
        held = len(status_changes.parse(row.status_changes))
        events = tuple(
            event_from_row(e)
            for e in self._s.execute(
                select(CertificateStatusEventRow)
                .where(CertificateStatusEventRow.certificate_id == certificate_id)
                .order_by(CertificateStatusEventRow.id)
                .limit(held)
            ).scalars()
        )
        return certificate_from_row(row, events)

    def fact(self, kind: str, key: str, revision: int) -> object | None:
        versions = SqlFactVersions(self._s)
        if not versions.has_versions():  # nothing changed since the migration
            return _current(self._s, kind, key)
        found: object | None = versions.get(kind, key, revision)
        return found


def _current(session: Session, kind: str, key: str) -> object | None:
    if kind == ECONOMY:
        return SqlEconomyRepository(session).get(key)
    if kind == SCHEME:
        return SqlSchemeRepository(session).get(key)
    return SqlAgreementRepository(session).get(key)
