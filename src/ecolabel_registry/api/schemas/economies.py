"""Bodies of economies, groups and their memberships."""

from __future__ import annotations

from pydantic import Field

from ecolabel_registry.api.schemas.common import (
    EconomyCode,
    Input,
    IsoDate,
    Name,
    Output,
)
from ecolabel_registry.domain.model import (
    EconomyKind,
    Membership,
)


class MembershipIO(Input):
    member: EconomyCode
    valid_from: IsoDate
    valid_to: IsoDate | None = None


class MembershipRead(Output):
    member: str
    valid_from: IsoDate
    valid_to: IsoDate | None


class GroupPut(Input):
    """A group and all its memberships (a PUT replaces them)."""

    name: Name
    members: list[MembershipIO] = Field(max_length=1000)


class EconomyRead(Output):
    code: str
    name: str
    kind: EconomyKind
    members: list[MembershipRead]
    version: int


def memberships(body: GroupPut) -> list[Membership]:
    return [Membership(m.member, m.valid_from, m.valid_to) for m in body.members]


class MembershipAdd(Input):
    """One more membership window of the member named in the path."""

    valid_from: IsoDate
    valid_to: IsoDate | None = None


class MembershipEnd(Input):
    valid_to: IsoDate = Field(description="The member's last day in the group.")
