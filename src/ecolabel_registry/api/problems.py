"""RFC 9457 problem+json: one mapping from every error to its HTTP answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ecolabel_registry.domain.errors import (
    Busy,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    StaleVersion,
    Unauthenticated,
    Unavailable,
    VersionRequired,
)
from ecolabel_registry.domain.messages import date_message, pattern_message

log = logging.getLogger("ecolabel_registry.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ecolabel-registry.dev/problems/"

# error class -> (status, type slug, title)
PROBLEMS: dict[type[DomainError], tuple[int, str, str]] = {
    InvalidInput: (422, "validation-error", "The request is not valid"),
    NotFound: (404, "not-found", "Not found"),
    Conflict: (409, "conflict", "Conflict with the registry's state"),
    StaleVersion: (412, "stale-version", "The resource has changed"),
    VersionRequired: (428, "version-required", "If-Match is required"),
    Unauthenticated: (401, "unauthenticated", "Valid API key required"),
    Forbidden: (403, "forbidden", "Not allowed for this key"),
    Unavailable: (503, "unavailable", "Service unavailable"),
    QuotaExceeded: (429, "quota-exceeded", "Quota exceeded"),
}

HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Valid API key required"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    503: ("unavailable", "Service unavailable"),
}


class ProblemFieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str | int]
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def note_failure(scope: Any, exc: BaseException) -> None:
    """Keep what failed for the request's log line: the exception's type and message.

    A database error is described by the driver's own message, never by SQLAlchemy's, which
    would add the statement's parameters (the hash of the caller's key among them).
    """
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    message = " ".join(str(cause).split())[:500]
    state = scope.setdefault("state", {})
    state["error_type"] = type(cause).__name__
    state["error"] = message


def _field_name(loc: tuple[str | int, ...] | list[str | int]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def domain_problem(request: Request, exc: DomainError) -> Response:
    """The problem for a domain error."""
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            status, slug, title = PROBLEMS[cls]
            break
    else:  # pragma: no cover - every DomainError subclass is mapped
        status, slug, title = 400, "bad-request", "Bad request"
    errors = None
    if isinstance(exc, InvalidInput):
        errors = [
            {"loc": list(e.loc), "field": _field_name(e.loc), "message": e.message, "type": e.type}
            for e in exc.errors
        ]
    extra = getattr(exc, "problem_extra", None)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Busy | Unavailable | QuotaExceeded) and exc.retry_after is not None:
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        status,
        slug,
        title,
        exc.detail,
        instance=request.url.path,
        errors=errors,
        extra=extra,
        headers=headers,
    )


# pydantic's error types for a value that is not a date (a date field's text, a number).
DATE_ERRORS = frozenset(
    {"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"}
)


def field_message(error: Mapping[str, Any]) -> str:
    """A pydantic error in the registry's words (`domain.messages`): what is expected, with an
    example, never a regular expression; the same words as the batch and the services use."""
    kind = error.get("type")
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return pattern_message(str(context.get("pattern", "")), error.get("input"))
    if kind in DATE_ERRORS:
        return date_message(error.get("input"))
    if kind == "value_error" and "error" in context:
        # A validator's own words, without pydantic's "Value error, " in front.
        return str(context["error"])
    return str(error.get("msg", ""))


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    """The 422 problem for a request that failed schema validation."""
    errors = []
    for e in exc.errors():
        loc = [p if isinstance(p, str | int) else str(p) for p in e.get("loc", ())]
        if e.get("type") == "json_invalid":
            # The position of a JSON syntax error is no field: the body as a whole is wrong.
            loc = ["body"]
        errors.append(
            {
                "loc": loc,
                "field": _field_name(loc),
                "message": field_message(e),
                "type": str(e.get("type", "")),
            }
        )
    detail = "; ".join(f"{err['field']}: {err['message']}" for err in errors[:10])
    return problem_response(
        422,
        "validation-error",
        "The request is not valid",
        detail,
        instance=request.url.path,
        errors=errors,
    )


BODY_UNREADABLE = (
    (UnicodeDecodeError, "the body is not valid UTF-8"),
    (RecursionError, "the body is nested too deeply"),
)


def body_problem(request: Request, cause: BaseException) -> Response:
    """422 naming the body when it could not be decoded at all (bad UTF-8, nested too deep)."""
    message = next(
        (text for cls, text in BODY_UNREADABLE if isinstance(cause, cls)),
        "the body could not be read as JSON",
    )
    return problem_response(
        422,
        "validation-error",
        "The request is not valid",
        f"body: {message}",
        instance=request.url.path,
        errors=[{"loc": ["body"], "field": "body", "message": message, "type": "json_invalid"}],
    )


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    """A problem for Starlette's own HTTP errors (unknown path, wrong method...)."""
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's "There was an error parsing the body", raised from the decoding error.
        return body_problem(request, exc.__cause__)
    slug, title = HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        exc.status_code,
        slug,
        title,
        str(exc.detail),
        instance=request.url.path,
        headers=headers or None,
    )


def allowed_methods(request: Request) -> str:
    """The `Allow` of a 405 (RFC 9110, 15.5.6): the methods of every route taking the path.

    Starlette names only the methods of the first route whose path matched; a resource
    served by several routes (GET and PATCH, GET and POST) has them all.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(route.methods or ())
    return ", ".join(sorted(methods))


DriverMeaning = Callable[[BaseException], DomainError | None]
"""What a database driver's error means to the caller (None: not theirs to retry)."""


def driver_problem(meaning: DriverMeaning) -> Callable[[Request, Exception], Response]:
    """The handler of a database driver's error: what `meaning` says it means to the caller,
    with the driver's own message kept for the request's log line; a 500 when nothing."""

    def handle(request: Request, exc: Exception) -> Response:
        mapped = meaning(exc)
        if mapped is None:
            return internal_problem(request, exc)
        note_failure(request.scope, exc)
        return domain_problem(request, mapped)

    return handle


def internal_problem(request: Request, exc: Exception) -> Response:
    """500 without any internal detail; the log keeps the trace."""
    note_failure(request.scope, exc)
    # A database error's own text carries the statement's parameters: log the driver's error.
    logged = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=logged)
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "the registry failed to answer; the error is logged",
        instance=request.url.path,
    )


Handlers = list[tuple[type[Exception], Callable[[Request, Any], Response]]]


def install(
    app: FastAPI, driver_errors: tuple[type[Exception], ...], meaning: DriverMeaning
) -> None:
    """Register every problem handler on the app; the composition root names the database
    driver's errors and what they mean (persistence.errors)."""
    handlers: Handlers = [
        (DomainError, domain_problem),
        (RequestValidationError, validation_problem),
        (StarletteHTTPException, http_problem),
        *((cls, driver_problem(meaning)) for cls in driver_errors),
        (Exception, internal_problem),
    ]
    app.state.problem_handlers = handlers
    for cls, handler in handlers:
        app.add_exception_handler(cls, handler)


def problem_for(request: Request, exc: Exception) -> Response:
    """The answer the app's handlers give to `exc`, for code that runs outside the app (the
    middleware): the handler of the nearest class in the exception's MRO.
    """
    handlers: dict[type[Exception], Callable[[Request, Any], Response]] = dict(
        request.app.state.problem_handlers
    )
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls](request, exc)
    return internal_problem(request, exc)  # pragma: no cover - Exception is in the handlers


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring the problem answers a route can give."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": HTTP_TITLES.get(status, (None, _describe(status)))[1],
        }
    return out


def _describe(status: int) -> str:
    for s, _, title in PROBLEMS.values():
        if s == status:
            return title
    return {422: "Validation error", 500: "Internal error"}.get(status, "Error")
