"""Economies and groups (with their memberships)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
)

from ecolabel_registry.domain.model import (
    Economy,
    EconomyKind,
    Membership,
)
from ecolabel_registry.persistence.repositories.base import (
    VersionedRepository,
    by_owner,
    page,
    stored,
)
from ecolabel_registry.persistence.tables import (
    EconomyRow,
    GroupMembershipRow,
)


class SqlEconomyRepository(VersionedRepository[Economy]):
    def _members(self, codes: Sequence[str]) -> dict[str, tuple[Membership, ...]]:
        m = GroupMembershipRow
        found = by_owner(self._s, m.group_code, codes, m, m.member_code, m.valid_from)
        return {
            code: tuple(Membership(r.member_code, r.valid_from, r.valid_to) for r in group)
            for code, group in found.items()
        }

    def _to_domain(self, rows: Sequence[EconomyRow]) -> list[Economy]:
        members = self._members([r.code for r in rows if r.kind == EconomyKind.GROUP])
        return [
            Economy(r.code, r.name, EconomyKind(r.kind), members.get(r.code, ()), r.version)
            for r in rows
        ]

    def get(self, code: str) -> Economy | None:
        return self._by_key(EconomyRow, code)

    def kinds(self, codes: Iterable[str]) -> dict[str, EconomyKind]:
        wanted = set(codes)
        if not wanted:
            return {}
        rows = self._s.execute(
            select(EconomyRow.code, EconomyRow.kind).where(EconomyRow.code.in_(wanted))
        )
        return {code: EconomyKind(kind) for code, kind in rows}

    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> list[Economy]:
        query = page(select(EconomyRow), EconomyRow.code, after, limit)
        if kind is not None:
            query = query.where(EconomyRow.kind == kind.value)
        return self._to_domain(self._s.execute(query).scalars().all())

    def groups(self) -> list[Economy]:
        return self.find(None, 100_000, EconomyKind.GROUP)

    @staticmethod
    def _fields(group: Economy) -> dict[str, Any]:
        return {"name": group.name}

    def _children(self, group: Economy) -> None:
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

    def _reload(self, group: Economy) -> Economy:
        return stored(self.get(group.code))

    def save_group(self, group: Economy, expected_version: int | None) -> Economy:
        if expected_version is None:
            row = EconomyRow(code=group.code, name=group.name, kind=group.kind.value, version=1)
            return self._insert(row, group, f"economy {group.code}")
        key = EconomyRow.code == group.code
        current = dataclasses.replace(group, version=expected_version)
        return self._update(EconomyRow, key, current, f"group {group.code}")
