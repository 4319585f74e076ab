"""Query parameters an operation does not declare are refused, never ignored.

`GET /v1/equivalence?...&date=2027-06-01` would otherwise answer for today: `date` is not a
parameter (`on` is). Every operation's known names come from its own declaration (the query
parameters of the route and of its dependencies), so a new route or parameter is covered
without being listed anywhere.
"""

from __future__ import annotations

import re
import weakref
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import annotated_types
from fastapi import APIRouter, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import Response

from ecolabel_registry.domain.errors import FieldError, InvalidInput
from ecolabel_registry.domain.messages import unknown_parameter_message

UNKNOWN_PARAMETER = "unknown_parameter"
"""The `type` of the error naming a query parameter the operation does not take."""

# Each route's names, found once. Routes compare by value (no hash): kept by identity, for as
# long as the route lives (tests build many apps).
_names: dict[int, tuple[weakref.ref[APIRoute], tuple[str, ...]]] = {}


def query_names(route: APIRoute) -> tuple[str, ...]:
    """The query parameters `route` declares, its dependencies' included, in their order."""
    held = _names.get(id(route))
    if held is not None and held[0]() is route:
        return held[1]
    key = id(route)
    names = tuple(dict.fromkeys(_declared(route.dependant)))
    _names[key] = (weakref.ref(route, lambda _: _names.pop(key, None)), names)
    return names


def _declared(dependant: Dependant) -> list[str]:
    names: list[str] = []
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # A model of query parameters: each of its fields is one parameter.
            names.extend(f.alias or n for n, f in annotation.model_fields.items())
        else:
            names.append(field.alias)
    for sub in dependant.dependencies:
        names.extend(_declared(sub))
    return names


def unknown_parameters(request: Request, known: tuple[str, ...]) -> InvalidInput:
    """The 422 naming each parameter of the request not in `known` (there is at least one)."""
    errors = [
        FieldError(("query", name), unknown_parameter_message(name, known), UNKNOWN_PARAMETER)
        for name in dict.fromkeys(request.query_params.keys())
        if name not in known
    ]
    return InvalidInput(errors, "; ".join(f"{e.loc[-1]}: {e.message}" for e in errors))


async def known_query_only(request: Request) -> None:
    """A dependency of every operation: 422 for a query parameter the operation does not take.

    An `async def` with nothing to solve, so that it costs no threadpool hop.
    """
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):  # pragma: no cover - dependencies run on API routes
        return
    known = query_names(route)
    if any(name not in known for name in request.query_params):
        raise unknown_parameters(request, known)


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a query parameter's declaration accepts of its text: its length and pattern
    (`Query(min_length=, max_length=, pattern=)`), and for a number its range (`ge=`, `le=`).
    """

    min_length: int = 0
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    ge: int | None = None
    le: int | None = None

    def accepts(self, text: str) -> bool:
        """Whether the text is within the declared length and matches the whole pattern
        (a trailing newline too: FastAPI's patterns do not let `$` match before one), and
        holds no NUL character (refused before any route: `api/middleware.py`)."""
        if (
            "\x00" in text
            or len(text) < self.min_length
            or (self.max_length is not None and len(text) > self.max_length)
        ):
            return False
        return self.pattern is None or self.pattern.fullmatch(text) is not None

    def holds(self, number: int) -> bool:
        """Whether the number is within the declared range."""
        return (self.ge is None or number >= self.ge) and (self.le is None or number <= self.le)


def declared_route(router: APIRouter, endpoint: Callable[..., Any]) -> APIRoute:
    """The route of `router` that `endpoint` answers (LookupError when none does)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
    raise LookupError(f"{endpoint.__name__} is not declared")


def declared_bounds(route: APIRoute) -> dict[str, Bounds]:
    """The bounds each query parameter of `route` declares (its own, not its dependencies'):
    what a quick route checks before it answers without FastAPI's parameter machinery, so
    that it takes no value the declaration would refuse, read from the one declaration."""
    bounds: dict[str, Bounds] = {}
    for field in route.dependant.query_params:
        found: dict[str, Any] = {}
        for item in field.field_info.metadata:
            if isinstance(item, annotated_types.MinLen):
                found["min_length"] = item.min_length
            elif isinstance(item, annotated_types.MaxLen):
                found["max_length"] = item.max_length
            elif isinstance(item, annotated_types.Ge):
                found["ge"] = item.ge
            elif isinstance(item, annotated_types.Le):
                found["le"] = item.le
            elif getattr(item, "pattern", None) is not None:
                found["pattern"] = re.compile(item.pattern)
        bounds[field.alias] = Bounds(**found)
    return bounds


def declared_values(
    items: list[tuple[str, str]], bounds: dict[str, Bounds]
) -> dict[str, str] | None:
    """The query `items` by name when each is a parameter the route declares (`bounds`' names)
    given once, and each value is within its bounds; None otherwise."""
    values = dict(items)
    if len(values) != len(items) or not values.keys() <= bounds.keys():
        return None
    if any(not bounds[name].accepts(text) for name, text in values.items()):
        return None
    return values


Asked = TypeVar("Asked")


class QuickRoute(APIRoute, ABC, Generic[Asked]):
    """A route that answers a query the declared parameters accept as it is, with reads open
    to all, without FastAPI's parameter machinery (a third of a question's time in the
    framework). Anything else goes to the declared handler, which checks, authorizes and
    words its errors as always.

    A subclass gives `check`, the values the declared handler would be given (None on any
    doubt, for FastAPI to decide and word the error), and `answer`, the answer to them that
    the declared handler gives too.
    """

    @abstractmethod
    def check(self, items: list[tuple[str, str]]) -> Asked | None: ...

    @abstractmethod
    def answer(self, request: Request, asked: Asked) -> Awaitable[Response]: ...

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.app.state.settings.public_reads:
                asked = self.check(request.query_params.multi_items())
                if asked is not None:
                    return await self.answer(request, asked)
            return await declared(request)

        return handler
