"""Certification bodies and their scheme authorizations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ecolabel_registry.api.deps import ActorDep, BodiesDep, Cursor, IfMatchDep, Limit, tag
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.bodies import (
    CertificationBodyCreate,
    CertificationBodyRead,
    CertificationBodyUpdate,
    authorizations,
)
from ecolabel_registry.api.schemas.common import PageOut, changes

router = APIRouter(prefix="/v1/certification-bodies", tags=["certification bodies"])
BodyPath = Annotated[str, Path(max_length=64, description="The body's id.")]


@router.get("", responses=responses(422))
def list_certification_bodies(
    service: BodiesDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    scheme: Annotated[
        str | None, Query(max_length=64, description="Only bodies ever authorized for this scheme.")
    ] = None,
) -> PageOut[CertificationBodyRead]:
    """Certification bodies, by id."""
    page = service.find(cursor, limit, scheme)
    return PageOut.of(page, CertificationBodyRead.read)


@router.post("", status_code=201, responses=responses(401, 403, 409, 422))
def create_certification_body(
    body: CertificationBodyCreate, service: BodiesDep, actor: ActorDep, response: Response
) -> CertificationBodyRead:
    """Register a certification body."""
    saved = service.create(actor, body.to_domain())
    tag(response, saved.version, f"/v1/certification-bodies/{saved.id}")
    return CertificationBodyRead.read(saved)


@router.get("/{body_id}", responses=responses(404, 422))
def get_certification_body(
    body_id: BodyPath, service: BodiesDep, response: Response
) -> CertificationBodyRead:
    """One certification body with its authorizations."""
    saved = service.get(body_id)
    tag(response, saved.version)
    return CertificationBodyRead.read(saved)


@router.patch("/{body_id}", responses=responses(401, 403, 404, 412, 422, 428))
def update_certification_body(
    body_id: BodyPath,
    body: CertificationBodyUpdate,
    service: BodiesDep,
    actor: ActorDep,
    version: IfMatchDep,
    response: Response,
) -> CertificationBodyRead:
    """Change a body; `authorizations` replaces the whole list. Needs If-Match."""
    fields = changes(body, frozenset({"accreditation_ref"}))
    if body.authorizations is not None:
        fields["authorizations"] = authorizations(body.authorizations)
    saved = service.update(actor, body_id, fields, version)
    tag(response, saved.version)
    return CertificationBodyRead.read(saved)
