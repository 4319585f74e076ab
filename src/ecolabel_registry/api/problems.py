"""RFC 9457 problem+json: one mapping from every error to its HTTP answer."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ecolabel_registry.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
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


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout passed
QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout passed (or a cancel request)


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


def unavailable_problem(request: Request, exc: Exception) -> Response:
    """503 while the database cannot be reached; clients retry after a few seconds.

    A lock waited for past `lock_timeout` is a 409 and a statement stopped by
    `statement_timeout` a 503 that says so (PostgreSQL reports both as operational errors).
    """
    note_failure(request.scope, exc)
    sqlstate = getattr(exc.orig if isinstance(exc, DBAPIError) else exc, "sqlstate", None)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return problem_response(
            409,
            "conflict",
            "Conflict with the registry's state",
            "another request is changing the same records (an import of this scheme, for "
            "example) and did not finish in time; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    if sqlstate == QUERY_CANCELED:
        return problem_response(
            503,
            "unavailable",
            "Service unavailable",
            "the database took too long to answer this request; retry shortly",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    return problem_response(
        503,
        "unavailable",
        "Service unavailable",
        "the database cannot be reached right now; retry shortly",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


def _sqlite_busy(exc: BaseException) -> bool:
    """Whether SQLite refused a write because another connection held the write lock (past
    the busy timeout) or had written since this transaction read (`SQLITE_BUSY_SNAPSHOT`)."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(cause, "sqlite_errorcode", None)
    return isinstance(cause, sqlite3.OperationalError) and code is not None and code & 0xFF == 5


def busy_problem(request: Request, exc: Exception) -> Response:
    """409 for a write that lost the race for SQLite's one write lock: nothing was written."""
    note_failure(request.scope, exc)
    return problem_response(
        409,
        "conflict",
        "Conflict with the registry's state",
        "another write to the registry was in progress and this one could not wait for it; "
        "nothing was written: send the request again",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def database_problem(request: Request, exc: DBAPIError) -> Response:
    """Database errors: 409 when SQLite's write lock was taken, 503 when the connection is
    gone, 500 (without details) otherwise."""
    if _sqlite_busy(exc):
        return busy_problem(request, exc)
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return unavailable_problem(request, exc)
    return internal_problem(request, exc)


def raw_sqlite_problem(request: Request, exc: Exception) -> Response:
    """A raw SQLite connection's error: 409 when the write lock was taken, else 503."""
    if _sqlite_busy(exc):
        return busy_problem(request, exc)
    return unavailable_problem(request, exc)


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


HANDLERS: list[tuple[type[Exception], Callable[[Request, Any], Response]]] = [
    (DomainError, domain_problem),
    (RequestValidationError, validation_problem),
    (StarletteHTTPException, http_problem),
    (PoolTimeout, unavailable_problem),
    # Raw driver connections (engine.raw_connection()) raise the driver's own errors.
    (psycopg.OperationalError, unavailable_problem),
    (sqlite3.OperationalError, raw_sqlite_problem),
    (DBAPIError, database_problem),
    (Exception, internal_problem),
]


def install(app: FastAPI) -> None:
    """Register every problem handler on the app."""
    for cls, handler in HANDLERS:
        app.add_exception_handler(cls, handler)


def problem_for(request: Request, exc: Exception) -> Response:
    """The answer the app's handlers give to `exc`, for code that runs outside the app (the
    middleware): the handler of the nearest class in the exception's MRO.
    """
    handlers = dict(HANDLERS)
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls](request, exc)
    return internal_problem(request, exc)  # pragma: no cover - Exception is in HANDLERS


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
