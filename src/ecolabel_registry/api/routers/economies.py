"""Economies: ISO countries and registered groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ecolabel_registry.api.deps import (
    ActorDep,
    AsRecordedQuery,
    Cursor,
    EconomiesDep,
    IfMatchDep,
    Limit,
    RecordedDep,
    instant_of,
    tag,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.common import PageOut
from ecolabel_registry.api.schemas.economies import (
    EconomyRead,
    GroupPut,
    MembershipAdd,
    MembershipEnd,
    MembershipRead,
    memberships,
)
from ecolabel_registry.domain.model import EconomyKind, Membership
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN

router = APIRouter(prefix="/v1/economies", tags=["economies"])
CodePath = Annotated[
    str, Path(pattern=ECONOMY_CODE_PATTERN, description="ISO alpha-2 code or group code.")
]
MemberPath = Annotated[
    str,
    Path(
        pattern=ECONOMY_CODE_PATTERN,
        description="The member: an ISO alpha-2 code or a group code.",
    ),
]


@router.get("", responses=responses(422))
def list_economies(
    service: EconomiesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[EconomyKind | None, Query()] = None,
) -> PageOut[EconomyRead]:
    """Every known economy: ISO 3166-1 countries and registered groups."""
    page = service.find(cursor, limit, kind)
    return PageOut.of(page, EconomyRead.read)


@router.get("/{code}", responses=responses(404, 422))
def get_economy(
    code: CodePath,
    service: EconomiesDep,
    recorded: RecordedDep,
    response: Response,
    as_recorded: AsRecordedQuery = None,
) -> EconomyRead:
    """One economy; a group lists its dated memberships. With `as_recorded`: as the registry
    had recorded it at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    economy = service.get(code) if instant is None else recorded.economy(code, instant)
    tag(response, economy.version)
    return EconomyRead.read(economy)


@router.put("/{code}", responses=responses(401, 403, 409, 412, 422, 428), status_code=200)
def put_group(
    code: CodePath,
    body: GroupPut,
    service: EconomiesDep,
    actor: ActorDep,
    response: Response,
    version: IfMatchDep,
) -> EconomyRead:
    """Register a group (201) or replace its name and memberships (200, with If-Match)."""
    group, created = service.put_group(actor, code, body.name, memberships(body), version)
    location = None
    if created:
        response.status_code = 201
        location = f"/v1/economies/{code}"
    tag(response, group.version, location)
    return EconomyRead.read(group)


@router.get("/{code}/members/{member}", responses=responses(404, 422))
def list_membership_windows(
    code: CodePath, member: MemberPath, service: EconomiesDep, response: Response
) -> PageOut[MembershipRead]:
    """The windows in which `member` belongs to the group; the ETag is the group's."""
    group, windows = service.memberships_of(code, member)
    tag(response, group.version)
    return PageOut(
        items=[
            MembershipRead(member=m.member, valid_from=m.valid_from, valid_to=m.valid_to)
            for m in windows
        ],
        next_cursor=None,
    )


@router.post(
    "/{code}/members/{member}",
    status_code=201,
    responses=responses(401, 403, 404, 409, 422),
)
def add_membership(
    code: CodePath,
    member: MemberPath,
    body: MembershipAdd,
    service: EconomiesDep,
    actor: ActorDep,
    response: Response,
) -> EconomyRead:
    """Add one membership window to the group (a country or a group joins, or returns); the
    other memberships stay as they are."""
    group = service.add_membership(actor, code, Membership(member, body.valid_from, body.valid_to))
    tag(response, group.version, f"/v1/economies/{code}/members/{member}")
    return EconomyRead.read(group)


@router.patch("/{code}/members/{member}", responses=responses(401, 403, 404, 409, 412, 422, 428))
def end_membership(
    code: CodePath,
    member: MemberPath,
    body: MembershipEnd,
    service: EconomiesDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> EconomyRead:
    """End the member's open membership on `valid_to`; needs If-Match with the group's ETag."""
    group = service.end_membership(actor, code, member, body.valid_to, version)
    tag(response, group.version)
    return EconomyRead.read(group)
