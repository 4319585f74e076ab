"""Schemes and their product categories."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import Conflict, FieldError
from ecolabel_registry.domain.model import ProductCategory, Scheme
from ecolabel_registry.domain.operative import OperativeRule
from ecolabel_registry.domain.validation import (
    check_criteria,
    check_hs_codes,
    check_window,
)
from ecolabel_registry.services._common import (
    audit,
    found,
    page_of,
    raise_if,
    registered,
    revised,
    valid,
)
from ecolabel_registry.services.authz import require_operator, require_scheme_operator
from ecolabel_registry.services.ports.registry import Page, Registry

SCHEME_UPDATABLE = frozenset(
    {"name", "operator", "type", "website", "description", "home_economies", "certificate_coverage"}
)
CATEGORY_UPDATABLE = frozenset(
    {"name", "criteria_version", "valid_from", "valid_to", "hs_codes", "criteria"}
)


def operative_in(registry: Registry, economy: str, on: dt.date) -> frozenset[str]:
    """The ids of the schemes operative in `economy` on `on` (the resolver's rule)."""
    groups = {g.code: g for g in registry.economies.groups()}
    return OperativeRule.of(groups, registry.schemes.all()).schemes_in(economy, on)


class SchemeService:
    """Registers schemes and their product categories."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, scheme_id: str) -> Scheme:
        """The scheme, or NotFound."""
        return found(self._r.schemes.get(scheme_id), f"no scheme {scheme_id!r}")

    def find(self, after: str | None, limit: int, economy: str | None, on: dt.date) -> Page[Scheme]:
        """Schemes ordered by id, optionally only those operative in `economy` on `on`."""
        ids = None
        if economy is not None:
            ids = set(operative_in(self._r, economy, on))
        return page_of(self._r.schemes.find(after, limit + 1, ids), limit, lambda s: s.id)

    def create(self, actor: Actor, scheme: Scheme) -> Scheme:
        """Register a new scheme."""
        require_operator(actor, "register schemes")
        return registered(self._r, actor, self._r.schemes, scheme, self._check, "scheme")

    def update(
        self, actor: Actor, scheme_id: str, changes: Mapping[str, Any], expected_version: int | None
    ) -> Scheme:
        """Change a scheme's fields; `expected_version` is the caller's If-Match."""
        current = self.get(scheme_id)
        require_scheme_operator(actor, scheme_id, "change this scheme")
        what = f"scheme {scheme_id}"
        updated = valid(
            revised(current, changes, SCHEME_UPDATABLE, expected_version, what), self._check
        )
        saved = self._r.schemes.update(updated)
        audit(self._r, actor, "scheme.update", "scheme", scheme_id, current, saved)
        return saved

    def _check(self, scheme: Scheme, errors: list[FieldError]) -> None:
        if not scheme.home_economies:
            errors.append(
                FieldError(("body", "home_economies"), "at least one home economy is required")
            )
        kinds = self._r.economies.kinds(scheme.home_economies)
        for i, code in enumerate(scheme.home_economies):
            if code not in kinds:
                errors.append(
                    FieldError(("body", "home_economies", i), f"unknown economy {code!r}")
                )
        if len(set(scheme.home_economies)) != len(scheme.home_economies):
            errors.append(FieldError(("body", "home_economies"), "an economy is listed twice"))

    # Product categories

    def get_category(self, scheme_id: str, code: str) -> ProductCategory:
        """The category, or NotFound."""
        self.get(scheme_id)
        return found(
            self._r.categories.get(scheme_id, code),
            f"scheme {scheme_id!r} has no product category {code!r}",
        )

    def list_categories(
        self, scheme_id: str, after: str | None, limit: int
    ) -> Page[ProductCategory]:
        """A scheme's categories ordered by code."""
        self.get(scheme_id)
        rows = self._r.categories.find(scheme_id, after, limit + 1)
        return page_of(rows, limit, lambda c: c.code)

    def create_category(self, actor: Actor, category: ProductCategory) -> ProductCategory:
        """Register a product category of a scheme."""
        self.get(category.scheme_id)
        require_scheme_operator(actor, category.scheme_id, "add categories to this scheme")
        errors: list[FieldError] = []
        self._check_category(category, errors)
        raise_if(errors)
        if self._r.categories.get(category.scheme_id, category.code) is not None:
            raise Conflict(
                f"scheme {category.scheme_id!r} already has a category {category.code!r}"
            )
        saved = self._r.categories.add(dataclasses.replace(category, version=1))
        audit(
            self._r,
            actor,
            "category.create",
            "product_category",
            f"{saved.scheme_id}/{saved.code}",
            None,
            saved,
        )
        return saved

    def update_category(
        self,
        actor: Actor,
        scheme_id: str,
        code: str,
        changes: Mapping[str, Any],
        expected_version: int | None,
    ) -> ProductCategory:
        """Change a category's fields; `expected_version` is the caller's If-Match."""
        current = self.get_category(scheme_id, code)
        require_scheme_operator(actor, scheme_id, "change categories of this scheme")
        what = f"category {scheme_id}/{code}"
        updated = valid(
            revised(current, changes, CATEGORY_UPDATABLE, expected_version, what),
            self._check_category,
        )
        saved = self._r.categories.update(updated)
        audit(
            self._r,
            actor,
            "category.update",
            "product_category",
            f"{scheme_id}/{code}",
            current,
            saved,
        )
        return saved

    @staticmethod
    def _check_category(category: ProductCategory, errors: list[FieldError]) -> None:
        check_window(errors, ("body",), category.valid_from, category.valid_to)
        if not category.hs_codes:
            errors.append(FieldError(("body", "hs_codes"), "at least one HS code is required"))
        check_hs_codes(errors, ("body", "hs_codes"), category.hs_codes)
        check_criteria(errors, ("body", "criteria"), category.criteria)
