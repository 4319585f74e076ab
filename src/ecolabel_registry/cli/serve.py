"""Serving: the HTTP service (serve) and the webhook worker alone (deliver)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import make_url

from ecolabel_registry.cli.common import console, database_label, open_engine, require_migrated
from ecolabel_registry.services.signing import SigningKeyError, SigningKeyFile
from ecolabel_registry.settings import DEFAULT_SQLITE_PATH, Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Uvicorn's own access log (the app logs requests).")
    ] = False,
) -> None:
    """Run the HTTP service; it refuses to start on a database behind the migrations."""
    import uvicorn

    settings = get_settings()
    loop = served_loop(settings, workers)
    engine = open_engine(settings)
    try:
        require_migrated(settings, engine)
    finally:
        engine.dispose()
    check_signing_key(settings)
    uvicorn.run(
        "ecolabel_registry.cli.serve:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level.lower(),
        loop=loop,
    )


def served_loop(settings: Settings, workers: int) -> str:
    """The event loop of `serve` (ADR 0015): asyncio for one worker, which accepts a burst
    of new connections at once; uvloop for several, whose libuv accepts one connection a
    turn, so that the workers share new connections. Several workers on asyncio are refused:
    uvicorn's shared listening socket has no protocol number, so asyncio would leave
    Nagle's algorithm on and answers would wait ~40 ms for the client's acknowledgement.
    Where uvloop is not installed (uvicorn's extra leaves it out on Windows), `auto` is
    asyncio whatever the number of workers."""
    if settings.event_loop == "auto":
        return "uvloop" if workers > 1 and find_spec("uvloop") is not None else "asyncio"
    if settings.event_loop == "asyncio" and workers > 1:
        console.print(
            "[red]ECOLABEL_EVENT_LOOP=asyncio serves one worker; with --workers "
            f"{workers} use auto or uvloop[/red]",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    return settings.event_loop


def check_signing_key(settings: Settings) -> None:
    """Before serving: on the embedded default database (a registry tried out on one
    machine), a missing key file is created, so that receipts work from the first start; on
    any database, an existing key file that others may read stops the start (exit 2)."""
    keys = SigningKeyFile(settings.signing_key_file)
    embedded = "database_url" not in settings.model_fields_set and make_url(
        settings.database_url
    ).database == str(DEFAULT_SQLITE_PATH)
    try:
        if embedded:
            created = keys.ensure()
            if created is not None:
                console.print(f"created signing key {created.kid} in {keys.path}", soft_wrap=True)
        elif keys.exists():
            keys.read()
        else:
            console.print(
                f"[yellow]no signing key file at {keys.path}: POST /v1/decisions answers 503 "
                "until `ecolabel-registry signing-key create` makes one[/yellow]",
                soft_wrap=True,
            )
    except SigningKeyError as exc:
        console.print(f"[red]{exc.detail}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


def served_app(settings: Settings | None = None) -> FastAPI:
    """The app as `serve` runs it: uvicorn calls this in each worker process, so every
    served process is tuned (`tuned_process`) once its resolver cache is warm."""
    from ecolabel_registry.app import create_app

    settings = settings or get_settings()
    return create_app(settings, serving=tuned_process, deliver=settings.webhook_worker)


@contextmanager
def tuned_process(settings: Settings) -> Iterator[None]:
    """The Python runtime set for serving, for as long as the process serves; the one
    place that tunes it (ECOLABEL_GC_YOUNG_THRESHOLD, ECOLABEL_SWITCH_INTERVAL_MS)."""
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    # The resolver's warm cache lives as long as the process: kept out of the collections'
    # scans (the objects a later full reload makes are scanned as any others).
    gc.collect()
    gc.freeze()
    if settings.gc_young_threshold:
        # A served process allocates in bursts (a batch makes ~100,000 objects that die
        # together): fewer young collections, and fewer objects promoted to be scanned
        # again by the older ones.
        gc.set_threshold(settings.gc_young_threshold, *thresholds[1:])
    if settings.switch_interval_ms:
        # A batch reads certificates on a second thread while it answers on the first; the
        # reader needs the GIL back each time data arrives.
        sys.setswitchinterval(settings.switch_interval_ms / 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)
        gc.unfreeze()


def deliver() -> None:
    """Run the webhook worker alone (serve with ECOLABEL_WEBHOOK_WORKER=false then).

    Several may run against one PostgreSQL database: each claims different deliveries. On
    SQLite run one. SIGTERM or Ctrl-C stops it once the attempts in flight are recorded.
    """
    import asyncio
    import signal

    from sqlalchemy.orm import sessionmaker

    from ecolabel_registry.delivery import DeliveryWorker

    settings = get_settings()
    engine = open_engine(settings)
    require_migrated(settings, engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"delivering webhooks from {database_label(settings)}", soft_wrap=True)
        await DeliveryWorker(sessionmaker(engine, expire_on_commit=False), settings).run(stop)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    console.print("webhook worker stopped")
