"""ASGI middleware: body size and content type checks, request ids, one log line a request."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecolabel_registry.api.problems import internal_problem, problem_for, problem_response

log = structlog.get_logger("ecolabel_registry.access")

JSON_TYPES = frozenset(
    {"application/json", "application/merge-patch+json", "application/problem+json"}
)
IMPORT_TYPES = frozenset(
    {"text/csv", "application/x-ndjson", "application/jsonl", "application/json-lines"}
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
BATCH_PATH = "/v1/equivalence/batch"  # a public read sent as a POST
DECISIONS_PATH = "/v1/decisions"  # up to a batch's lines, for the record
ROUTED_PATHS = 4096
"""Writes' methods and paths whose route RequestGuard remembers (see `_needs_key`)."""


IMPORT_ACCEPTS = "text/csv or application/x-ndjson (JSON Lines)"
"""What an import takes, as a 415 says it."""


def accepted_media(path: str, method: str) -> str:
    """What an endpoint takes as its body, in words."""
    if path.endswith("/certificates/import"):
        return IMPORT_ACCEPTS
    if method == "PATCH":
        return "application/json or application/merge-patch+json"
    return "application/json"


def unsupported_media_message(accepts: str, media: str | None) -> str:
    """The 415's message: what the endpoint takes, and what came."""
    sent = f"not {media!r}" if media else "and the request names no Content-Type"
    return f"this endpoint takes {accepts}, {sent}"


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    """Refuses oversize bodies (413) and unsupported content types (415) before routing, and
    authenticates the caller of a write before any of its body is read (401).

    Each kind of body has its own limit: an import (`max_body_bytes`), a batch of questions
    or a decision (`max_batch_body_bytes`) and the JSON body of any other write
    (`max_json_body_bytes`).
    `authenticate` turns the `Authorization` header into the caller (or raises
    Unauthenticated); the caller is kept in the request's state for the handler.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_json_body_bytes: int | None = None,
        max_batch_body_bytes: int | None = None,
        authenticate: Callable[[str | None], Awaitable[Any]] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_body_bytes = min(max_json_body_bytes or max_body_bytes, max_body_bytes)
        self.max_batch_body_bytes = min(max_batch_body_bytes or max_body_bytes, max_body_bytes)
        self.authenticate = authenticate
        self._routed: dict[tuple[str, str], bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        if len(request_id) > 100 or not request_id.isprintable():
            request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        context = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            problem = self._check(scope)
            if problem is None and self._needs_key(scope):
                problem = await self._authenticated(scope, state)
            if problem is not None:
                await problem(scope, receive, send_wrapper)
                return
            if (
                _header(scope, b"content-length") is None
                and _header(scope, b"transfer-encoding") is not None
            ):
                # A chunked body announces no length: read it all (up to the limit) before
                # routing, so that an oversize body is a 413 and not a body parsing error.
                limit = self.body_limit(scope)
                await self.app(scope, await self._buffered(receive, limit), send_wrapper)
            else:
                await self.app(scope, self._limited(receive, self.body_limit(scope)), send_wrapper)
        except BodyTooLarge:
            await self._too_large(scope)(scope, receive, send_wrapper)
        except Exception as exc:
            # Answered here rather than by Starlette's outermost handler, so that the 500 too
            # carries its X-Request-ID and its log line says what failed.
            if status_holder["started"]:
                raise
            await internal_problem(Request(scope), exc)(scope, receive, send_wrapper)
        finally:
            structlog.contextvars.reset_contextvars(**context)
            status = status_holder["status"]
            fields: dict[str, Any] = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
            }
            if "error_type" in state:
                fields["error_type"] = state["error_type"]
                fields["error"] = state.get("error", "")
            if status == 503:
                log.warning("request", **fields)
            elif status >= 500:
                log.error("request", **fields)
            else:
                log.info("request", **fields)

    def _check(self, scope: Scope) -> Response | None:
        length = _header(scope, b"content-length")
        if length is not None and not length.isdigit():
            return _field_problem(
                scope,
                400,
                "bad-request",
                "Bad request",
                ["header", "Content-Length"],
                "must be a number of bytes",
            )
        if length is not None and int(length) > self.body_limit(scope):
            return self._too_large(scope)
        if not scope["path"].startswith("/v1/"):
            return None
        nul = _nul_field(scope)
        if nul is not None:
            return _field_problem(
                scope,
                422,
                "validation-error",
                "The request is not valid",
                nul,
                "must not contain NUL (\\u0000) characters",
            )
        if scope["method"] not in WRITE_METHODS:
            return None
        raw = _header(scope, b"content-type")
        has_body = (length is not None and length != "0") or _header(
            scope, b"transfer-encoding"
        ) is not None
        if raw is None:
            if not has_body:
                return None
            media = ""
        else:
            media = raw.split(";", 1)[0].strip().lower()
        allowed = (
            JSON_TYPES | IMPORT_TYPES
            if scope["path"].endswith("/certificates/import")
            else JSON_TYPES
        )
        if media not in allowed:
            return _field_problem(
                scope,
                415,
                "unsupported-media-type",
                "Unsupported media type",
                ["header", "Content-Type"],
                unsupported_media_message(accepted_media(scope["path"], scope["method"]), media),
            )
        return None

    def body_limit(self, scope: Scope) -> int:
        """The largest body this request may send."""
        path = scope["path"]
        if scope["method"] not in WRITE_METHODS or not path.startswith("/v1/"):
            return self.max_body_bytes
        if path in (BATCH_PATH, DECISIONS_PATH):
            return self.max_batch_body_bytes
        if path.endswith("/certificates/import"):
            return self.max_body_bytes
        return self.max_json_body_bytes

    def _needs_key(self, scope: Scope) -> bool:
        """Whether this is a write to a route that exists (others stay 404 and 405)."""
        if (
            self.authenticate is None
            or scope["method"] not in WRITE_METHODS
            or not scope["path"].startswith("/v1/")
            or scope["path"] == BATCH_PATH
        ):
            return False
        # Matching every route costs about as much as the rest of a small write: the answer
        # is kept per method and path (a bounded number, forgotten all at once when full).
        asked = (scope["method"], scope["path"])
        routed = self._routed.get(asked)
        if routed is None:
            app = scope.get("app")
            routes = getattr(getattr(app, "router", None), "routes", ())
            routed = any(route.matches(scope)[0] is Match.FULL for route in routes)
            if len(self._routed) >= ROUTED_PATHS:
                self._routed.clear()
            self._routed[asked] = routed
        return routed

    async def _authenticated(self, scope: Scope, state: dict[str, Any]) -> Response | None:
        """The caller put in `state["actor"]`, or the problem (401, or 503 without database).

        Runs before the body is read: an anonymous or unknown caller costs no more than its
        headers, whatever it sends after them.
        """
        assert self.authenticate is not None
        try:
            state["actor"] = await self.authenticate(_header(scope, b"authorization"))
        except Exception as exc:
            return problem_for(Request(scope), exc)
        return None

    def _too_large(self, scope: Scope) -> Response:
        return _field_problem(
            scope,
            413,
            "body-too-large",
            "Request body too large",
            ["body"],
            f"the body exceeds {self.body_limit(scope)} bytes",
        )

    async def _buffered(self, receive: Receive, limit: int) -> Receive:
        """The whole body read now, replayed to the app; BodyTooLarge past the limit."""
        chunks: list[bytes] = []
        seen = 0
        first: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                first = message  # the client went away: the app sees that instead
                break
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                raise BodyTooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                break
        if first is None:
            first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        pending: list[Message] = [first]

        async def replay() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        return replay

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        return wrapped


def _field_problem(
    scope: Scope, status: int, slug: str, title: str, loc: list[str], message: str
) -> Response:
    """A problem about one part of the request, named in `errors` as the handlers do."""
    field = loc[-1]
    return problem_response(
        status,
        slug,
        title,
        f"{field}: {message}" if status != 413 else message,
        instance=scope["path"],
        errors=[{"loc": loc, "field": field, "message": message, "type": slug}],
    )


def _nul_field(scope: Scope) -> list[str] | None:
    """The path or query parameter holding a NUL character, if any.

    No identifier or text of the registry holds one, and PostgreSQL cannot even compare with
    such a string: the request is refused before it reaches the database.
    """
    if "\x00" in scope["path"]:
        return ["path"]
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return ["query", name.replace("\x00", "")]
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None
