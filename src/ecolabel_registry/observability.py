"""Structured logging: one JSON line an event (or readable lines for a terminal)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from ecolabel_registry.settings import Settings


class _Stderr:
    """Whatever sys.stderr is at the time of writing (so a test's capture sees the logs)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


STDERR = _Stderr()


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library's logging to one JSON line per event."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler: logging.StreamHandler[Any] = logging.StreamHandler(STDERR)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The traceback as text under "exception", not the exc_info tuple's repr.
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger("ecolabel_registry")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
