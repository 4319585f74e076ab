"""Fact gathering for the resolver: a few set-based queries, whatever the registry's size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Row, and_, select
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import (
    Certificate,
    CertificateTerms,
    ProductCategory,
    StatusEvent,
)
from ecolabel_registry.domain.resolver import RegistryFacts
from ecolabel_registry.persistence.repositories import (
    SqlAgreementRepository,
    SqlCategoryRepository,
    SqlEconomyRepository,
    SqlSchemeRepository,
    category_from_row,
    certificate_from_row,
)
from ecolabel_registry.persistence.tables import (
    CertificateRow,
    CertificateStatusEventRow,
    EconomyRow,
    ProductCategoryRow,
    RegistryChangeRow,
    RegistryRevisionRow,
    ScopeEntryRow,
)
from ecolabel_registry.services._common import CACHED_FACTS
from ecolabel_registry.services.equivalence import FactChanges

_CERTIFICATE_COLUMNS = (
    CertificateRow.id,
    CertificateRow.scheme_id,
    CertificateRow.number,
    CertificateRow.category_code,
    CertificateRow.holder_name,
    CertificateRow.holder_economy,
    CertificateRow.product_name,
    CertificateRow.brand,
    CertificateRow.model,
    CertificateRow.gtins,
    CertificateRow.hs_codes,
    CertificateRow.certification_body_id,
    CertificateRow.valid_from,
    CertificateRow.valid_to,
    CertificateRow.version,
)
_EVENT_COLUMNS = (
    CertificateStatusEventRow.id.label("event_id"),
    CertificateStatusEventRow.status,
    CertificateStatusEventRow.effective_date,
    CertificateStatusEventRow.reason,
    CertificateStatusEventRow.recorded_at,
)
_BATCH_CHUNK = 500
DELTA_LIMIT = 200
"""Most facts a process reloads one by one; more changes since its snapshot: a full load."""


class SqlFacts:
    """Reads what the resolver needs: the small, slowly changing facts, and certificates."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def revision(self) -> int:
        """The counter every write to cached facts increments."""
        value = self._s.execute(
            select(RegistryRevisionRow.revision).where(RegistryRevisionRow.id == 1)
        ).scalar_one_or_none()
        return int(value or 0)

    def load(self) -> tuple[RegistryFacts, dict[tuple[str, str], ProductCategory], frozenset[str]]:
        """Every economy, scheme, agreement and category: the resolver's cacheable facts."""
        economies = SqlEconomyRepository(self._s)
        codes = frozenset(self._s.execute(select(EconomyRow.code)).scalars())
        groups = {g.code: g for g in economies.groups()}
        schemes = {s.id: s for s in SqlSchemeRepository(self._s).all()}
        agreements = SqlAgreementRepository(self._s).all()
        categories = {
            (c.scheme_id, c.code): c
            for c in (
                category_from_row(r) for r in self._s.execute(select(ProductCategoryRow)).scalars()
            )
        }
        return (
            RegistryFacts(economies=groups, schemes=schemes, agreements=agreements),
            categories,
            codes,
        )

    def changes(self, since: int) -> FactChanges | None:
        """The facts written after revision `since`, read again (see FactsSource.changes).

        None (a full load is needed) when the change log does not hold every revision since
        (pruned, or a counter moved by hand), when it names a kind of fact this does not
        know, or when more than DELTA_LIMIT facts changed (a full load is then as quick).
        """
        revision = self.revision()
        if revision < since:
            return None
        logged = self._s.execute(
            select(RegistryChangeRow.entity_type, RegistryChangeRow.entity_id).where(
                RegistryChangeRow.revision > since, RegistryChangeRow.revision <= revision
            )
        ).all()
        if len(logged) != revision - since:
            return None
        wanted: dict[str, set[str]] = defaultdict(set)
        for entity_type, entity_id in logged:
            wanted[entity_type].add(entity_id)
        if not wanted.keys() <= CACHED_FACTS or sum(map(len, wanted.values())) > DELTA_LIMIT:
            return None
        if any("/" not in key for key in wanted["product_category"]):  # not "scheme/code"
            return None
        if wanted["scope_entry"]:
            wanted["agreement"].update(
                self._s.execute(
                    select(ScopeEntryRow.agreement_id).where(
                        ScopeEntryRow.id.in_(wanted["scope_entry"])
                    )
                ).scalars()
            )
        economies = SqlEconomyRepository(self._s)
        schemes = SqlSchemeRepository(self._s)
        categories = SqlCategoryRepository(self._s)
        agreements = SqlAgreementRepository(self._s)
        return FactChanges(
            revision=revision,
            economies={code: economies.get(code) for code in wanted["economy"]},
            schemes={scheme_id: schemes.get(scheme_id) for scheme_id in wanted["scheme"]},
            categories={
                (scheme_id, code): categories.get(scheme_id, code)
                for scheme_id, code in (key.split("/", 1) for key in wanted["product_category"])
            },
            agreements={
                agreement_id: agreements.get(agreement_id) for agreement_id in wanted["agreement"]
            },
        )

    def terms(self, scheme_id: str, number: str) -> CertificateTerms | None:
        """What the resolver reads of one certificate, in one query."""
        rows = self._s.execute(
            select(*_CERTIFICATE_COLUMNS, *_EVENT_COLUMNS)
            .outerjoin(
                CertificateStatusEventRow,
                CertificateStatusEventRow.certificate_id == CertificateRow.id,
            )
            .where(CertificateRow.scheme_id == scheme_id, CertificateRow.number == number)
            .order_by(CertificateStatusEventRow.id)
        ).all()
        found = _assemble(rows).get((scheme_id, number))
        return None if found is None else found.terms()

    def terms_and_revision(
        self, scheme_id: str, number: str
    ) -> tuple[int, CertificateTerms | None]:
        """The revision counter and one certificate's terms, from its events, in one query."""
        revision = RegistryRevisionRow.__table__
        rows = self._s.execute(
            select(RegistryRevisionRow.revision, *_CERTIFICATE_COLUMNS, *_EVENT_COLUMNS)
            .select_from(revision)
            .outerjoin(
                CertificateRow,
                and_(CertificateRow.scheme_id == scheme_id, CertificateRow.number == number),
            )
            .outerjoin(
                CertificateStatusEventRow,
                CertificateStatusEventRow.certificate_id == CertificateRow.id,
            )
            .where(RegistryRevisionRow.id == 1)
            .order_by(CertificateStatusEventRow.id)
        ).all()
        if not rows:
            return 0, None
        value = int(rows[0]._mapping["revision"] or 0)
        found = _assemble(r for r in rows if r._mapping["id"] is not None)
        certificate = found.get((scheme_id, number))
        return value, None if certificate is None else certificate.terms()

    def certificate_terms(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], CertificateTerms]:
        """What the resolver reads of many certificates (see `certificates`)."""
        return {key: certificate.terms() for key, certificate in self.certificates(keys).items()}

    def certificates(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Certificate]:
        """Many certificates with their histories: one query per scheme and 500 numbers."""
        by_scheme: dict[str, set[str]] = defaultdict(set)
        for scheme_id, number in keys:
            by_scheme[scheme_id].add(number)
        found: dict[tuple[str, str], Certificate] = {}
        for scheme_id, numbers in by_scheme.items():
            ordered = sorted(numbers)
            for start in range(0, len(ordered), _BATCH_CHUNK):
                rows = self._s.execute(
                    select(*_CERTIFICATE_COLUMNS, *_EVENT_COLUMNS)
                    .outerjoin(
                        CertificateStatusEventRow,
                        CertificateStatusEventRow.certificate_id == CertificateRow.id,
                    )
                    .where(
                        CertificateRow.scheme_id == scheme_id,
                        CertificateRow.number.in_(ordered[start : start + _BATCH_CHUNK]),
                    )
                    .order_by(CertificateRow.id, CertificateStatusEventRow.id)
                ).all()
                found.update(_assemble(rows))
        return found


def _assemble(rows: Iterable[Row[tuple[object, ...]]]) -> dict[tuple[str, str], Certificate]:
    heads: dict[int, Row[tuple[object, ...]]] = {}
    events: dict[int, list[StatusEvent]] = defaultdict(list)
    for row in rows:
        m = row._mapping
        heads.setdefault(m["id"], row)
        if m["event_id"] is not None:
            events[m["id"]].append(
                StatusEvent(
                    status=m["status"],
                    effective_date=m["effective_date"],
                    reason=m["reason"],
                    id=str(m["event_id"]),
                    recorded_at=m["recorded_at"],
                )
            )
    out: dict[tuple[str, str], Certificate] = {}
    for cid, row in heads.items():
        m = row._mapping
        out[(m["scheme_id"], m["number"])] = certificate_from_row(row, tuple(events[cid]))
    return out
