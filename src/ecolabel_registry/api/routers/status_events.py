"""The status history of a certificate, of an agreement and of an agreement's party: the same
two routes for each, a page of the history and an event appended to it, declared once here.

The entity's router gives a dependency that reads the entity's key from the path and answers
with its `History`; `status_event_routes` declares the two routes on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Response

from ecolabel_registry.api.deps import ActorDep, Cursor, Limit, tag
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.common import (
    Listed,
    PageOut,
    StatusEventCreate,
    StatusEventRead,
)
from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.model import StatusEvent


@dataclass(frozen=True, slots=True)
class History:
    """One entity's status history, as its two routes reach it."""

    url: str
    """The history's path: the Location of an appended event."""
    page: Callable[[str | None, int], Listed[StatusEvent]]
    """A page of the history, in the order it was recorded: (cursor, limit)."""
    append: Callable[[Actor, StatusEvent], tuple[int | None, StatusEvent]]
    """Append an event for the actor: the entity's new version (its ETag; None where the
    entity's routes show none for an event) and the event as recorded."""


def status_event_routes(
    router: APIRouter,
    path: str,
    history: Callable[..., History],
    body: type[StatusEventCreate],
    entity: str,
    docs: tuple[str, str],
) -> None:
    """Declare GET `path` (`list_{entity}_status_events`) and POST `path`
    (`add_{entity}_status_event`, 201) on `router`; `body` is the entity's event body (its
    statuses), `docs` the two routes' descriptions."""
    of_path = Depends(history)

    @router.get(
        path,
        name=f"list_{entity}_status_events",
        description=docs[0],
        responses=responses(404, 422),
    )
    def listed(
        history: History = of_path, limit: Limit = 50, cursor: Cursor = None
    ) -> PageOut[StatusEventRead]:
        return PageOut.of(history.page(cursor, limit), StatusEventRead.read)

    def added(
        *,
        history: History = of_path,
        body: StatusEventCreate,
        actor: ActorDep,
        response: Response,
    ) -> StatusEventRead:
        version, event = history.append(actor, body.to_domain())
        if version is None:
            response.headers["Location"] = history.url
        else:
            tag(response, version, history.url)
        return StatusEventRead.read(event)

    # FastAPI reads the body's model from the annotation: the entity's own (its statuses).
    added.__annotations__["body"] = body
    router.post(
        path,
        name=f"add_{entity}_status_event",
        description=docs[1],
        status_code=201,
        responses=responses(401, 403, 404, 409, 422),
    )(added)
