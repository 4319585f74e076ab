"""The database and the API document: migrate, seed, openapi."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ecolabel_registry.cli.common import console, fail, open_engine, session_scope
from ecolabel_registry.domain.errors import DomainError
from ecolabel_registry.persistence.migrate import upgrade
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.settings import Settings, get_settings

DEFAULT_OPENAPI = Path("openapi") / "openapi.json"


def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database schema up to date (creates the SQLite file when needed)."""
    settings = get_settings()
    engine = open_engine(settings)
    try:
        with engine.begin() as conn:
            upgrade(conn, revision)
    finally:
        engine.dispose()
    console.print(f"database at {revision}: {settings.database_url.split('@')[-1]}")


def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="Reference data plus an illustrative registry.")
    ] = False,
    reference: Annotated[
        bool, typer.Option("--reference", help="Real schemes and groups, with sources.")
    ] = False,
) -> None:
    """Load the reference data set, or the demo registry built on it (idempotent)."""
    from ecolabel_registry.seed.loader import load_demo, load_reference

    if demo == reference:
        console.print("choose one of --demo or --reference")
        raise typer.Exit(2)
    with session_scope(get_settings()) as session:
        registry = SqlRegistry(session)
        try:
            report = load_demo(registry) if demo else load_reference(registry)
        except DomainError as exc:
            raise fail(exc) from None
    console.print(f"seed {'--demo' if demo else '--reference'}: {report.summary()}", soft_wrap=True)


def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = DEFAULT_OPENAPI,
    check: Annotated[
        bool, typer.Option("--check", help="Fail when the file differs from the app.")
    ] = False,
) -> None:
    """Write the OpenAPI document of the app (or check that the committed one matches)."""
    from ecolabel_registry.app import create_app

    document = create_app(Settings(check_migrations=False)).openapi()
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if check:
        current = output.read_text("utf-8") if output.exists() else ""
        if current != text:
            console.print(
                f"[red]{output} differs from the app; run `ecolabel-registry openapi`[/red]"
            )
            raise typer.Exit(1)
        console.print(f"{output} matches the app")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, "utf-8")
    console.print(f"wrote {output}")
