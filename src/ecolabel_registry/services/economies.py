"""Economies: ISO countries out of the box, and registered groups with dated memberships."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import (
    Conflict,
    FieldError,
    NotFound,
    StaleVersion,
    VersionRequired,
)
from ecolabel_registry.domain.model import Economy, EconomyKind, Membership, windows_overlap
from ecolabel_registry.domain.operative import cyclic_members
from ecolabel_registry.domain.validation import check_window
from ecolabel_registry.services._common import audit, found, page_of, raise_if, require_version
from ecolabel_registry.services.authz import require_operator
from ecolabel_registry.services.ports.registry import Page, Registry


class EconomyService:
    """Reads economies; registers and amends groups."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, code: str) -> Economy:
        """The economy with this code, or NotFound."""
        return found(
            self._r.economies.get(code),
            f"no economy {code!r}: use an ISO 3166-1 alpha-2 code or a registered group",
        )

    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> Page[Economy]:
        """Economies ordered by code."""
        return page_of(self._r.economies.find(after, limit + 1, kind), limit, lambda e: e.code)

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
        economies (a member may be a group), ordered windows, no two overlapping windows for
        the same member, and no group that would contain itself.
        """
        require_operator(actor, "record economies and groups")
        existing = self._r.economies.get(code)
        if existing is not None and existing.kind is EconomyKind.COUNTRY:
            raise Conflict(
                f"{code} is an ISO 3166-1 country, not a group; countries cannot be changed"
            )
        errors = self._check_members(
            code, members, lambda i: ("body", "members", i), lambda i: ("body", "members", i)
        )
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

    def memberships_of(self, code: str, member: str) -> tuple[Economy, list[Membership]]:
        """A group and the membership windows of one member in it (NotFound when none)."""
        group = self._group(code)
        windows = [m for m in group.members if m.member == member]
        if not windows:
            raise NotFound(f"{member} has never been a member of {code}")
        return group, windows

    def add_membership(self, actor: Actor, code: str, membership: Membership) -> Economy:
        """Add one membership window to a group, leaving its other memberships as they are."""
        require_operator(actor, "record economies and groups")
        group = self._group(code)
        members = [*group.members, membership]
        # Only the new membership is checked: the member is in the path, its window the body.
        raise_if(
            self._check_members(
                code, members, lambda _i: ("path",), lambda _i: ("body",), only=len(members) - 1
            )
        )
        saved = self._save(group, members, group.version)
        audit(self._r, actor, "economy.membership.add", "economy", code, group, saved)
        return saved

    def end_membership(
        self,
        actor: Actor,
        code: str,
        member: str,
        valid_to: dt.date,
        expected_version: int | None,
    ) -> Economy:
        """End a member's open membership on `valid_to` (its last day as a member)."""
        require_operator(actor, "record economies and groups")
        group = self._group(code)
        version = require_version(expected_version, f"group {code}")
        windows = [i for i, m in enumerate(group.members) if m.member == member]
        if not windows:
            raise NotFound(f"{member} has never been a member of {code}")
        current = [i for i in windows if group.members[i].valid_to is None]
        if not current:
            ended = max(group.members[i].valid_to or dt.date.min for i in windows)
            raise Conflict(
                f"{member}'s membership of {code} already ended on {ended}; add a new "
                "membership to record a return"
            )
        index = current[0]
        errors: list[FieldError] = []
        check_window(errors, ("body",), group.members[index].valid_from, valid_to)
        raise_if(errors)
        members = list(group.members)
        members[index] = dataclasses.replace(members[index], valid_to=valid_to)
        saved = self._save(group, members, version)
        audit(self._r, actor, "economy.membership.end", "economy", code, group, saved)
        return saved

    def _group(self, code: str) -> Economy:
        group = self.get(code)
        if group.kind is not EconomyKind.GROUP:
            raise NotFound(f"{code} is a country, not a group: it has no members")
        return group

    def _save(self, group: Economy, members: list[Membership], version: int) -> Economy:
        return self._r.economies.save_group(
            dataclasses.replace(group, members=tuple(members)), version
        )

    def _check_members(
        self,
        code: str,
        members: list[Membership],
        member_loc: Callable[[int], tuple[str | int, ...]],
        window_loc: Callable[[int], tuple[str | int, ...]],
        only: int | None = None,
    ) -> list[FieldError]:
        """What is wrong with a group's memberships (with `only`, the last one, with it)."""
        errors: list[FieldError] = []
        kinds = self._r.economies.kinds(m.member for m in members)
        groups = {g.code: g for g in self._r.economies.groups()}
        cyclic = cyclic_members(groups, code, {m.member for m in members})
        by_member: dict[str, list[tuple[int, Membership]]] = defaultdict(list)
        for i, m in enumerate(members):
            checked = only is None or i == only
            if checked:
                if kinds.get(m.member) is None:
                    errors.append(
                        FieldError((*member_loc(i), "member"), f"unknown economy {m.member!r}")
                    )
                elif m.member in cyclic:
                    what = (
                        f"{code} cannot be a member of itself"
                        if m.member == code
                        else f"{m.member} contains {code}, so it cannot be a member of {code}"
                    )
                    errors.append(
                        FieldError(
                            (*member_loc(i), "member"),
                            f"{what}: a group cannot contain itself, directly or through its "
                            "member groups",
                        )
                    )
                check_window(errors, window_loc(i), m.valid_from, m.valid_to)
            # The first earlier window it overlaps is enough to say what is wrong; naming
            # every pair would make a body of n copies of one membership cost n^2 errors.
            if checked:
                for j, other in by_member[m.member]:
                    if windows_overlap(m.valid_from, m.valid_to, other.valid_from, other.valid_to):
                        message = (
                            f"overlaps membership {j} of {m.member}"
                            if only is None
                            else f"overlaps {m.member}'s membership from {other.valid_from}"
                        )
                        errors.append(FieldError((*window_loc(i), "valid_from"), message))
                        break
            by_member[m.member].append((i, m))
        return errors
