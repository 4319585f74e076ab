"""Query parameters an operation does not declare are refused, never ignored.

`GET /v1/equivalence?...&date=2027-06-01` would otherwise answer for today: `date` is not a
parameter (`on` is). Every operation's known names come from its own declaration (the query
parameters of the route and of its dependencies), so a new route or parameter is covered
without being listed anywhere.
"""

from __future__ import annotations

import weakref

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

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
