"""Liveness and readiness, outside /v1."""

from __future__ import annotations

import anyio.to_thread
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
async def readyz(request: Request) -> Health:
    """The database answers, on both ways the app reads it: the sessions' pool and the
    equivalence question's own connections (ready only when a question would be answered)."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    def ping() -> None:
        with factory() as session:
            session.execute(text("SELECT 1"))

    await anyio.to_thread.run_sync(ping)
    await request.app.state.hot_reads.fetch("SELECT 1", ())
    return Health(status="ready")
