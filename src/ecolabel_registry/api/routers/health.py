"""Liveness and readiness, outside /v1."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.api.problems import responses
from ecolabel_registry.domain.errors import DomainError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Unready(DomainError):
    pass


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", responses=responses(503))
def readyz(request: Request) -> Health:
    """The database answers."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ready")
