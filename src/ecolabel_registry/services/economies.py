"""Economies: ISO countries out of the box, and registered groups with dated memberships."""

from __future__ import annotations

from collections import defaultdict

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import (
    Conflict,
    FieldError,
    NotFound,
    StaleVersion,
    VersionRequired,
)
from ecolabel_registry.domain.model import Economy, EconomyKind, Membership, windows_overlap
from ecolabel_registry.domain.validation import check_window
from ecolabel_registry.services._common import audit, raise_if
from ecolabel_registry.services.authz import require_operator
from ecolabel_registry.services.ports import Page, Registry


class EconomyService:
    """Reads economies; registers and amends groups."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, code: str) -> Economy:
        """The economy with this code, or NotFound."""
        economy = self._r.economies.get(code)
        if economy is None:
            raise NotFound(
                f"no economy {code!r}: use an ISO 3166-1 alpha-2 code or a registered group"
            )
        return economy

    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> Page[Economy]:
        """Economies ordered by code."""
        rows = self._r.economies.find(after, limit + 1, kind)
        more = len(rows) > limit
        items = rows[:limit]
        return Page(items, items[-1].code if more else None)

    def put_group(
        self,
        actor: Actor,
        code: str,
        name: str,
        members: list[Membership],
        expected_version: int | None,
    ) -> tuple[Economy, bool]:
        """Create a group, or replace its name and memberships; True when created.

        A replacement must name the version it replaces. Memberships are validated: known
        countries, ordered windows, no two overlapping windows for the same member.
        """
        require_operator(actor, "record economies and groups")
        existing = self._r.economies.get(code)
        if existing is not None and existing.kind is EconomyKind.COUNTRY:
            raise Conflict(
                f"{code} is an ISO 3166-1 country, not a group; countries cannot be changed"
            )
        errors: list[FieldError] = []
        kinds = self._r.economies.kinds(m.member for m in members)
        by_member: dict[str, list[tuple[int, Membership]]] = defaultdict(list)
        for i, m in enumerate(members):
            loc = ("body", "members", i)
            kind = kinds.get(m.member)
            if kind is None:
                errors.append(FieldError((*loc, "member"), f"unknown economy {m.member!r}"))
            elif kind is not EconomyKind.COUNTRY:
                errors.append(
                    FieldError((*loc, "member"), f"{m.member} is a group; members are countries")
                )
            check_window(errors, loc, m.valid_from, m.valid_to)
            for j, other in by_member[m.member]:
                if windows_overlap(m.valid_from, m.valid_to, other.valid_from, other.valid_to):
                    errors.append(
                        FieldError((*loc, "valid_from"), f"overlaps membership {j} of {m.member}")
                    )
            by_member[m.member].append((i, m))
        raise_if(errors)
        group = Economy(
            code=code,
            name=name,
            kind=EconomyKind.GROUP,
            members=tuple(members),
            version=existing.version if existing else 1,
        )
        if existing is None and expected_version is not None:
            raise StaleVersion(f"group {code} does not exist; If-Match names no version of it")
        if existing is not None and expected_version is None:
            raise VersionRequired(f"group {code} exists; send If-Match with its ETag to replace it")
        saved = self._r.economies.save_group(
            group, expected_version if existing is not None else None
        )
        audit(self._r, actor, "economy.put", "economy", code, existing, saved)
        return saved, existing is None
