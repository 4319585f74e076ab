"""Certification bodies and their dated scheme authorizations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import FieldError, Forbidden
from ecolabel_registry.domain.model import Authorization, CertificationBody, windows_overlap
from ecolabel_registry.domain.validation import check_window
from ecolabel_registry.services._common import (
    audit,
    found,
    page_of,
    registered,
    revised,
    valid,
)
from ecolabel_registry.services.ports.registry import Page, Registry

BODY_UPDATABLE = frozenset({"name", "economy", "accreditation_ref", "authorizations"})


class CertificationBodyService:
    """Registers certification bodies; scheme operators manage authorizations for their schemes."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, body_id: str) -> CertificationBody:
        """The body, or NotFound."""
        return found(self._r.bodies.get(body_id), f"no certification body {body_id!r}")

    def find(self, after: str | None, limit: int, scheme_id: str | None) -> Page[CertificationBody]:
        """Bodies ordered by id, optionally only those ever authorized for a scheme."""
        return page_of(self._r.bodies.find(after, limit + 1, scheme_id), limit, lambda b: b.id)

    def create(self, actor: Actor, body: CertificationBody) -> CertificationBody:
        """Register a body. A scheme operator may register one authorized only for its schemes."""
        _require_may_authorize(actor, {a.scheme_id for a in body.authorizations}, creating=True)
        return registered(self._r, actor, self._r.bodies, body, self._check, "certification_body")

    def update(
        self, actor: Actor, body_id: str, changes: Mapping[str, Any], expected_version: int | None
    ) -> CertificationBody:
        """Change a body. A scheme operator may only change authorizations for its schemes."""
        current = self.get(body_id)
        fields = {k: v for k, v in changes.items() if k in BODY_UPDATABLE}
        if actor.role is not Role.OPERATOR:
            if set(fields) - {"authorizations"}:
                raise Forbidden(
                    "only the registry operator may change a body's name, economy or accreditation"
                )
            before = set(current.authorizations)
            after = set(fields.get("authorizations", current.authorizations))
            _require_may_authorize(actor, {a.scheme_id for a in before ^ after}, creating=False)
        what = f"certification body {body_id}"
        updated = valid(
            revised(current, fields, BODY_UPDATABLE, expected_version, what), self._check
        )
        saved = self._r.bodies.update(updated)
        audit(
            self._r,
            actor,
            "certification_body.update",
            "certification_body",
            body_id,
            current,
            saved,
        )
        return saved

    def _check(self, body: CertificationBody, errors: list[FieldError]) -> None:
        if body.economy not in self._r.economies.kinds([body.economy]):
            errors.append(FieldError(("body", "economy"), f"unknown economy {body.economy!r}"))
        known = self._r.schemes.existing(a.scheme_id for a in body.authorizations)
        seen: list[tuple[int, Authorization]] = []
        for i, auth in enumerate(body.authorizations):
            loc = ("body", "authorizations", i)
            if auth.scheme_id not in known:
                errors.append(FieldError((*loc, "scheme_id"), f"unknown scheme {auth.scheme_id!r}"))
            check_window(errors, loc, auth.valid_from, auth.valid_to)
            for j, other in seen:
                if other.scheme_id == auth.scheme_id and windows_overlap(
                    auth.valid_from, auth.valid_to, other.valid_from, other.valid_to
                ):
                    errors.append(
                        FieldError(
                            (*loc, "valid_from"), f"overlaps authorization {j} for the same scheme"
                        )
                    )
                    break  # the first overlap says what is wrong; all pairs would be n^2
            seen.append((i, auth))


def _require_may_authorize(actor: Actor, scheme_ids: set[str], *, creating: bool) -> None:
    if actor.role is Role.OPERATOR:
        return
    if (
        actor.role is Role.SCHEME_OPERATOR
        and (scheme_ids or not creating)
        and scheme_ids <= actor.scheme_ids
    ):
        return
    raise Forbidden(
        "only the registry operator, or a scheme operator for authorizations under its own "
        "schemes, may do this"
    )
