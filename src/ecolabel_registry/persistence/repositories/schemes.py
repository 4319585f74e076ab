"""Schemes and their product categories (with the HS codes they cover)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
)

from ecolabel_registry.domain.model import (
    Coverage,
    ProductCategory,
    Scheme,
    SchemeType,
)
from ecolabel_registry.persistence.repositories.base import (
    VersionedRepository,
    by_owner,
    columns,
    from_row,
    page,
    stored,
)
from ecolabel_registry.persistence.tables import (
    CategoryHsCodeRow,
    ProductCategoryRow,
    SchemeHomeEconomyRow,
    SchemeRow,
)


class SqlSchemeRepository(VersionedRepository[Scheme]):
    def _to_domain(self, rows: Sequence[SchemeRow]) -> list[Scheme]:
        h = SchemeHomeEconomyRow
        homes = by_owner(self._s, h.scheme_id, [r.id for r in rows], h.economy_code, h.economy_code)
        return [
            from_row(
                Scheme,
                r,
                type=SchemeType(r.type),
                home_economies=tuple(homes[r.id]),
                certificate_coverage=Coverage(r.certificate_coverage),
            )
            for r in rows
        ]

    def get(self, scheme_id: str) -> Scheme | None:
        return self._by_key(SchemeRow, scheme_id)

    def existing(self, ids: Iterable[str]) -> set[str]:
        wanted = set(ids)
        if not wanted:
            return set()
        return set(self._s.execute(select(SchemeRow.id).where(SchemeRow.id.in_(wanted))).scalars())

    def find(self, after: str | None, limit: int, ids: set[str] | None) -> list[Scheme]:
        query = page(select(SchemeRow), SchemeRow.id, after, limit)
        if ids is not None:
            query = query.where(SchemeRow.id.in_(sorted(ids)))
        return self._to_domain(self._s.execute(query).scalars().all())

    def all(self) -> list[Scheme]:
        return self._to_domain(
            self._s.execute(select(SchemeRow).order_by(SchemeRow.id)).scalars().all()
        )

    def _fields(self, scheme: Scheme) -> dict[str, Any]:
        return columns(
            scheme,
            ("name", "operator", "website", "description"),
            type=scheme.type.value,
            certificate_coverage=scheme.certificate_coverage.value,
        )

    def _children(self, scheme: Scheme) -> None:
        self._s.execute(
            delete(SchemeHomeEconomyRow).where(SchemeHomeEconomyRow.scheme_id == scheme.id)
        )
        self._s.execute(
            insert(SchemeHomeEconomyRow),
            [{"scheme_id": scheme.id, "economy_code": c} for c in scheme.home_economies],
        )

    def _reload(self, scheme: Scheme) -> Scheme:
        return stored(self.get(scheme.id))

    def add(self, scheme: Scheme) -> Scheme:
        row = SchemeRow(id=scheme.id, version=1, **self._fields(scheme))
        return self._insert(row, scheme, f"scheme {scheme.id}")

    def update(self, scheme: Scheme) -> Scheme:
        return self._update(SchemeRow, SchemeRow.id == scheme.id, scheme, f"scheme {scheme.id}")


def category_from_row(r: ProductCategoryRow) -> ProductCategory:
    return from_row(ProductCategory, r, hs_codes=tuple(r.hs_codes), criteria=tuple(r.criteria))


def hs_prefixes(code: str) -> list[str]:
    """Every prefix of an HS code of two digits or more, the code itself included."""
    return [code[:n] for n in range(2, len(code) + 1)]


def hs_values(code: str) -> list[str]:
    """What `hs_matching` compares a column with for `code`: its prefixes, then the LIKE
    pattern of the codes it is a prefix of."""
    return [*hs_prefixes(code), f"{code}%"]


def hs_matching(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """SQL for "column and code match as HS prefixes either way", given `hs_values(code)`
    (as values, or as parameters bound to them)."""
    return or_(column.in_(values[:-1]), column.like(values[-1]))


def hs_matches(column: Any, code: str) -> ColumnElement[bool]:
    """SQL for "column and code match as HS prefixes either way"."""
    return hs_matching(column, hs_values(code))


class SqlCategoryRepository(VersionedRepository[ProductCategory]):
    def _to_domain(self, rows: Sequence[ProductCategoryRow]) -> list[ProductCategory]:
        return [category_from_row(r) for r in rows]

    def get(self, scheme_id: str, code: str) -> ProductCategory | None:
        return self._by_key(ProductCategoryRow, (scheme_id, code))

    def find(self, scheme_id: str, after: str | None, limit: int) -> list[ProductCategory]:
        c = ProductCategoryRow
        query = page(select(c).where(c.scheme_id == scheme_id), c.code, after, limit)
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

    def _children(self, category: ProductCategory) -> None:
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
        return columns(
            c,
            ("name", "criteria_version", "valid_from", "valid_to"),
            hs_codes=list(c.hs_codes),
            criteria=list(c.criteria),
        )

    def _reload(self, category: ProductCategory) -> ProductCategory:
        return stored(self.get(category.scheme_id, category.code))

    def add(self, category: ProductCategory) -> ProductCategory:
        row = ProductCategoryRow(
            scheme_id=category.scheme_id,
            code=category.code,
            version=1,
            **self._fields(category),
        )
        return self._insert(row, category, f"category {category.scheme_id}/{category.code}")

    def update(self, category: ProductCategory) -> ProductCategory:
        key = and_(
            ProductCategoryRow.scheme_id == category.scheme_id,
            ProductCategoryRow.code == category.code,
        )
        return self._update(ProductCategoryRow, key, category, f"category {category.code}")
