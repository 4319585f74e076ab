"""What the commands share: the console, the database, one transaction, errors in a line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.persistence.engine import make_engine, unit_of_work
from ecolabel_registry.persistence.errors import DRIVER_ERRORS, domain_error
from ecolabel_registry.persistence.migrate import SchemaBehind, ensure_migrated
from ecolabel_registry.settings import Settings

console = Console(stderr=True)


def database_label(settings: Settings) -> str:
    """The database the settings resolve to, for people: a SQLite file's absolute path or a
    server's URL without its password, and where the URL came from."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        shown = f"SQLite file {Path(str(url.database)).resolve()}"
    else:
        shown = url.render_as_string(hide_password=True)
    if "database_url" in settings.model_fields_set:
        return f"{shown} (from ECOLABEL_DATABASE_URL)"
    return f"{shown} (the default; set ECOLABEL_DATABASE_URL to use another)"


def open_engine(settings: Settings) -> Engine:
    """The configured database's engine; exit 2 when its URL is no database URL."""
    try:
        return make_engine(settings)
    except ArgumentError:
        console.print(
            f"[red]ECOLABEL_DATABASE_URL {settings.database_url!r} is not a database URL[/red] "
            "(e.g. sqlite:///var/ecolabel-registry.sqlite3 or "
            "postgresql+psycopg://user@127.0.0.1:5432/ecolabel)",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def require_migrated(settings: Settings, engine: Engine) -> None:
    """Exit 2, naming the database, when it is behind the migrations or cannot be reached."""
    try:
        ensure_migrated(engine)
    except SchemaBehind as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
    except OperationalError as exc:
        console.print(f"[red]cannot open the database: {exc.orig}[/red]", soft_wrap=True)
    else:
        return
    console.print(f"database: {database_label(settings)}", soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """One transaction on the configured, migrated database; a driver error in a line."""
    engine = open_engine(settings)
    try:
        require_migrated(settings, engine)
        with unit_of_work(partial(Session, engine)) as session:
            yield session
    except DRIVER_ERRORS as exc:
        # A lock held by another writer, a lost connection: said in a line, not a traceback.
        mapped = domain_error(exc)
        if mapped is None:
            raise
        raise fail(mapped) from None
    finally:
        engine.dispose()


def fail(exc: DomainError, options: bool = False) -> typer.Exit:
    """Print the error once; each field error on its own line. With `options`, the fields
    are the command's options and are named as typed (`certification_body` as
    `--certification-body`)."""
    if not isinstance(exc, InvalidInput) or not exc.errors:
        console.print(f"[red]error:[/red] {exc.detail}", soft_wrap=True)
        return typer.Exit(1)
    # A summary of its own (an import's counts) comes first; one made of the errors does not.
    if exc.detail != InvalidInput(exc.errors).detail:
        console.print(f"[red]error:[/red] {exc.detail}", soft_wrap=True)
        indent = "  "
    else:
        indent = "[red]error:[/red] "
    for e in exc.errors:
        field = ".".join(map(str, e.loc))
        if options:
            field = "--" + field.replace("_", "-")
        console.print(f"{indent}{field}: {e.message}", soft_wrap=True)
    return typer.Exit(1)


def print_json(data: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


def print_table(table: Table) -> None:
    """A table on standard output; piped output (scripts, logs) is never squeezed: ids must
    stay whole to be usable."""
    Console(width=None if sys.stdout.isatty() else 200).print(table)
