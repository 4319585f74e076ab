"""Fact gathering for the resolver: a few set-based queries, whatever the registry's size."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecolabel_registry.domain.model import ProductCategory
from ecolabel_registry.domain.resolver import RegistryFacts
from ecolabel_registry.persistence.repositories import (
    SqlAgreementRepository,
    SqlCategoryRepository,
    SqlEconomyRepository,
    SqlSchemeRepository,
    category_from_row,
)
from ecolabel_registry.persistence.tables import (
    EconomyRow,
    ProductCategoryRow,
    RegistryChangeRow,
    RegistryRevisionLogRow,
    RegistryRevisionRow,
    ScopeEntryRow,
)
from ecolabel_registry.services.ports.equivalence import CACHED_FACTS, DELTA_LIMIT, FactChanges


class SqlFacts:
    """Reads the resolver's small, slowly changing facts (certificates: `hot.HotFacts`)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def revision(self) -> int:
        """The registry's revision: the counter every recorded write transaction increments."""
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

        None (a full load is needed) when the revision log does not hold every revision
        since (revisions from before it existed, or a counter moved by hand), or when more
        than DELTA_LIMIT facts changed (a full load is then as quick). Only the change rows
        of the kinds cached here are read: revisions that changed only certificates (or
        bodies) give empty changes.
        """
        revision = self.revision()
        if revision < since:
            return None
        logged = self._s.execute(
            select(func.count()).where(
                RegistryRevisionLogRow.revision > since, RegistryRevisionLogRow.revision <= revision
            )
        ).scalar_one()
        if logged != revision - since:
            return None
        wanted: dict[str, set[str]] = defaultdict(set)
        if revision > since:
            for entity_type, entity_id in self._s.execute(
                select(RegistryChangeRow.entity_type, RegistryChangeRow.entity_id).where(
                    RegistryChangeRow.revision > since,
                    RegistryChangeRow.revision <= revision,
                    RegistryChangeRow.entity_type.in_(sorted(CACHED_FACTS)),
                )
            ):
                wanted[entity_type].add(entity_id)
        if sum(map(len, wanted.values())) > DELTA_LIMIT:
            return None
        return self.read(revision, wanted)

    def read(self, revision: int, wanted: Mapping[str, Iterable[str]]) -> FactChanges | None:
        """The facts named by change-log ids (`wanted`: entity type -> ids), as they are now
        (labelled `revision`); a scope entry names its agreement. None when an id cannot be
        read back (a category id not "scheme/code")."""
        ids: defaultdict[str, set[str]] = defaultdict(set)
        for kind, keys in wanted.items():
            if kind in CACHED_FACTS:
                ids[kind].update(keys)
        if any("/" not in key for key in ids["product_category"]):  # not "scheme/code"
            return None
        if ids["scope_entry"]:
            ids["agreement"].update(
                self._s.execute(
                    select(ScopeEntryRow.agreement_id).where(
                        ScopeEntryRow.id.in_(ids["scope_entry"])
                    )
                ).scalars()
            )
        economies = SqlEconomyRepository(self._s)
        if sum(map(len, ids.values())) > DELTA_LIMIT:
            # Many facts (a registry loaded in one transaction): read them all set-based, a
            # few statements, rather than each through its repository.
            facts, loaded, _codes = self.load()
            every = {a.id: a for a in facts.agreements}
            return FactChanges(
                revision=revision,
                economies={code: economies.get(code) for code in ids["economy"]},
                schemes={key: facts.schemes.get(key) for key in ids["scheme"]},
                categories={
                    (scheme_id, code): loaded.get((scheme_id, code))
                    for scheme_id, code in (key.split("/", 1) for key in ids["product_category"])
                },
                agreements={key: every.get(key) for key in ids["agreement"]},
            )
        schemes = SqlSchemeRepository(self._s)
        categories = SqlCategoryRepository(self._s)
        agreements = SqlAgreementRepository(self._s)
        return FactChanges(
            revision=revision,
            economies={code: economies.get(code) for code in ids["economy"]},
            schemes={scheme_id: schemes.get(scheme_id) for scheme_id in ids["scheme"]},
            categories={
                (scheme_id, code): categories.get(scheme_id, code)
                for scheme_id, code in (key.split("/", 1) for key in ids["product_category"])
            },
            agreements={
                agreement_id: agreements.get(agreement_id) for agreement_id in ids["agreement"]
            },
        )
