"""The composition root: create_app() wires settings, database, routers and problem handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from functools import partial

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry import __version__
from ecolabel_registry.api import docs, pages, problems
from ecolabel_registry.api.admission import DecisionQuota, LineSlots
from ecolabel_registry.api.deps import authenticate, require_reader
from ecolabel_registry.api.middleware import RequestGuard
from ecolabel_registry.api.pages.cache import PageCache
from ecolabel_registry.api.query import known_query_only
from ecolabel_registry.api.routers import (
    agreements,
    audit,
    bench,
    bodies,
    certificates,
    changes,
    decisions,
    economies,
    equivalence,
    health,
    imports,
    schemes,
)
from ecolabel_registry.api.streaming import StreamSlots
from ecolabel_registry.observability import configure_logging
from ecolabel_registry.persistence.engine import make_engine
from ecolabel_registry.persistence.errors import DRIVER_ERRORS, domain_error
from ecolabel_registry.persistence.hot import HotFacts, HotReads, warm_resolver_cache
from ecolabel_registry.persistence.migrate import ensure_migrated
from ecolabel_registry.services.signing import ReceiptSigner, SigningKeyFile
from ecolabel_registry.services.snapshots import PastSnapshots, ResolverCache
from ecolabel_registry.settings import Settings, get_settings

DESCRIPTION = """\
Registry of eco-label and green certification schemes, certificates and mutual recognition
agreements, with an equivalence resolver that answers *is this certified product recognized
in that economy?* with the route, the conditions, the reasons for every miss and the date
until which the answer holds.

Errors are RFC 9457 `application/problem+json`. Writes need `Authorization: Bearer <api key>`.
Updates need `If-Match` with the resource's `ETag`.
"""


@asynccontextmanager
async def delivering(
    sessions: sessionmaker[Session], settings: Settings, deliver: bool
) -> AsyncIterator[None]:
    """The webhook worker running beside the app, when `deliver`; stopped as the app stops
    (SIGTERM included): attempts in flight are finished and recorded first."""
    if not deliver:
        yield
        return
    from ecolabel_registry.delivery import DeliveryWorker

    stop = asyncio.Event()
    task = asyncio.create_task(DeliveryWorker(sessions, settings).run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the handler's name."""
    return route.name


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    serving: Callable[[Settings], AbstractContextManager[object]] | None = None,
    deliver: bool = False,
) -> FastAPI:
    """Build the application. Tests pass their own session factory (one transaction a test).

    `serving` is what the `serve` command runs around a worker process's life, once the
    resolver's cache is warm (the process tuning of `cli.tuned_process`). With `deliver`,
    the process also runs the webhook worker (ecolabel_registry/delivery.py) until it stops.
    """
    settings = settings or get_settings()
    configure_logging(settings)
    own_engine = engine is None and session_factory is None
    if session_factory is None:
        engine = engine or make_engine(settings)
        session_factory = sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if own_engine and settings.check_migrations and engine is not None:
            ensure_migrated(engine)
        if own_engine:
            await warm_resolver_cache(app.state.resolver_cache, hot_reads)
        with serving(settings) if serving is not None else nullcontext():
            async with delivering(session_factory, settings, deliver):
                yield
        await hot_reads.aclose()
        if own_engine and engine is not None:
            engine.dispose()

    app = FastAPI(
        title="Eco-label mutual recognition registry",
        version=__version__,
        description=DESCRIPTION,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # The API description is public unless the operator closes it (ECOLABEL_API_DOCS).
        openapi_url="/openapi.json" if settings.api_docs else None,
        # No redirect to the path without (or with) a trailing slash: Starlette builds its
        # absolute Location from the client's Host header. Such a path is a 404 problem.
        redirect_slashes=False,
        docs_url=None,  # served by docs.install, with no other host
        redoc_url=None,
        # Every operation refuses a query parameter it does not declare (422 naming it).
        dependencies=[Depends(known_query_only)],
    )
    app.state.settings = settings
    app.state.sessionmaker = session_factory
    app.state.engine = engine
    app.state.resolver_cache = ResolverCache()
    app.state.past_snapshots = PastSnapshots()
    # The hot equivalence reads, over the sessions' bind (see HotReads: an engine, or one
    # connection that the sessions are bound to), so they read what the sessions write.
    bind = session_factory.kw["bind"]
    hot_reads = HotReads(
        bind,
        held=True,
        async_pool_size=settings.db_async_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
    )
    app.state.hot_reads = hot_reads
    app.state.batch_reads = HotReads(bind, held=False)
    app.state.hot_facts = HotFacts(hot_reads)
    app.state.batch_facts = HotFacts(app.state.batch_reads)
    app.state.export_slots = StreamSlots(settings.max_concurrent_exports)
    app.state.line_slots = LineSlots(settings.max_lines_at_once, settings.lines_wait_seconds)
    app.state.decision_quota = DecisionQuota(settings.decision_lines_per_key_per_hour)
    app.state.signer = ReceiptSigner(SigningKeyFile(settings.signing_key_file))
    app.state.page_cache = PageCache(
        settings.page_cache_entries,
        settings.matrix_cache_entries,
        settings.max_concurrent_matrices,
    )
    problems.install(app, DRIVER_ERRORS, domain_error)
    # The routes are matched in order, one after another: the most asked (questions,
    # decisions) first; equivalence before certificates, whose paths would take its markets
    # path (it ends in a fixed suffix).
    app.include_router(health.router)
    for module in (equivalence, decisions):
        app.include_router(module.router, dependencies=[Depends(require_reader)])
    app.include_router(pages.router, dependencies=[Depends(require_reader)])
    pages.install(app)
    if app.openapi_url is not None:
        docs.install(app)
    app.include_router(imports.router, dependencies=[Depends(require_reader)])
    app.include_router(decisions.well_known)
    for module in (economies, schemes, certificates, bodies, agreements, changes, audit):
        app.include_router(module.router, dependencies=[Depends(require_reader)])
    if settings.bench_endpoints:
        # The benchmarks' yardstick is a bare FastAPI endpoint: mounted as it is, without the
        # app's own dependencies.
        app.router.routes.extend(bench.router.routes)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        max_json_body_bytes=settings.max_json_body_bytes,
        max_batch_body_bytes=settings.max_batch_body_bytes,
        authenticate=partial(authenticate, hot_reads),
    )
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        # Browsers on these origins may read the API (no credentials: keys go in a header).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
            expose_headers=["ETag", "Location"],
        )
    return app
