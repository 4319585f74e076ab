"""Schemes and their product categories."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ecolabel_registry.api.deps import (
    ActorDep,
    AsRecordedQuery,
    Cursor,
    IfMatchDep,
    Limit,
    RecordedDep,
    SchemePath,
    SchemesDep,
    instant_of,
    tag,
    today,
)
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.common import PageOut, changes
from ecolabel_registry.api.schemas.schemes import (
    CategoryCreate,
    CategoryRead,
    CategoryUpdate,
    SchemeCreate,
    SchemeRead,
    SchemeUpdate,
)
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN

router = APIRouter(prefix="/v1/schemes", tags=["schemes"])
CodePath = Annotated[str, Path(max_length=64, description="The category code within the scheme.")]


@router.get("", responses=responses(422))
def list_schemes(
    service: SchemesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    economy: Annotated[
        str | None,
        Query(
            pattern=ECONOMY_CODE_PATTERN,
            description="Only schemes operative in this economy on `on`: at home there, in a "
            "group it belongs to, or (for a group) in every country of it.",
        ),
    ] = None,
    on: Annotated[
        dt.date | None, Query(description="The date `economy` is read on; today when absent.")
    ] = None,
) -> PageOut[SchemeRead]:
    """Registered schemes, by id."""
    page = service.find(cursor, limit, economy, on or today())
    return PageOut.of(page, SchemeRead.read)


@router.post("", status_code=201, responses=responses(401, 403, 409, 422))
def create_scheme(
    body: SchemeCreate, service: SchemesDep, actor: ActorDep, response: Response
) -> SchemeRead:
    """Register a scheme (registry operator)."""
    scheme = service.create(actor, body.to_domain())
    tag(response, scheme.version, f"/v1/schemes/{scheme.id}")
    return SchemeRead.read(scheme)


@router.get("/{scheme_id}", responses=responses(404, 422))
def get_scheme(
    scheme_id: SchemePath,
    service: SchemesDep,
    recorded: RecordedDep,
    response: Response,
    as_recorded: AsRecordedQuery = None,
) -> SchemeRead:
    """One scheme; with `as_recorded`, as the registry had recorded it at that instant."""
    instant = instant_of(as_recorded, ("query", "as_recorded"))
    scheme = service.get(scheme_id) if instant is None else recorded.scheme(scheme_id, instant)
    tag(response, scheme.version)
    return SchemeRead.read(scheme)


@router.patch("/{scheme_id}", responses=responses(401, 403, 404, 412, 422, 428))
def update_scheme(
    scheme_id: SchemePath,
    body: SchemeUpdate,
    service: SchemesDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> SchemeRead:
    """Change a scheme (registry operator or its scheme operator); needs If-Match."""
    scheme = service.update(
        actor, scheme_id, changes(body, frozenset({"website", "description"})), version
    )
    tag(response, scheme.version)
    return SchemeRead.read(scheme)


@router.get("/{scheme_id}/categories", responses=responses(404, 422))
def list_categories(
    scheme_id: SchemePath, service: SchemesDep, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[CategoryRead]:
    """A scheme's product categories, by code."""
    page = service.list_categories(scheme_id, cursor, limit)
    return PageOut.of(page, CategoryRead.read)


@router.post(
    "/{scheme_id}/categories", status_code=201, responses=responses(401, 403, 404, 409, 422)
)
def create_category(
    scheme_id: SchemePath,
    body: CategoryCreate,
    service: SchemesDep,
    actor: ActorDep,
    response: Response,
) -> CategoryRead:
    """Add a product category to a scheme (its scheme operator)."""
    category = service.create_category(actor, body.to_domain(scheme_id))
    tag(response, category.version, f"/v1/schemes/{scheme_id}/categories/{category.code}")
    return CategoryRead.read(category)


@router.get("/{scheme_id}/categories/{code}", responses=responses(404, 422))
def get_category(
    scheme_id: SchemePath, code: CodePath, service: SchemesDep, response: Response
) -> CategoryRead:
    """One product category."""
    category = service.get_category(scheme_id, code)
    tag(response, category.version)
    return CategoryRead.read(category)


@router.patch("/{scheme_id}/categories/{code}", responses=responses(401, 403, 404, 412, 422, 428))
def update_category(
    scheme_id: SchemePath,
    code: CodePath,
    body: CategoryUpdate,
    service: SchemesDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> CategoryRead:
    """Change a product category; needs If-Match."""
    category = service.update_category(
        actor, scheme_id, code, changes(body, frozenset({"valid_to"})), version
    )
    tag(response, category.version)
    return CategoryRead.read(category)
