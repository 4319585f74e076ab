"""Economies: ISO countries and registered groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ecolabel_registry.api.deps import ActorDep, Cursor, EconomiesDep, IfMatchDep, Limit, etag
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas import EconomyRead, GroupPut, PageOut, memberships
from ecolabel_registry.domain.model import EconomyKind

router = APIRouter(prefix="/v1/economies", tags=["economies"])
CodePath = Annotated[
    str, Path(pattern=r"^[A-Z][A-Z0-9]{1,9}$", description="ISO alpha-2 code or group code.")
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
    return PageOut(items=[EconomyRead.of(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/{code}", responses=responses(404, 422))
def get_economy(code: CodePath, service: EconomiesDep, response: Response) -> EconomyRead:
    """One economy; a group lists its dated memberships."""
    economy = service.get(code)
    response.headers["ETag"] = etag(economy.version)
    return EconomyRead.of(economy)


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
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/v1/economies/{code}"
    response.headers["ETag"] = etag(group.version)
    return EconomyRead.of(group)
