"""The `ecolabel-registry` command: serve, migrate, seed, keys and the OpenAPI file."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import Role
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.persistence.engine import make_engine
from ecolabel_registry.persistence.migrate import SchemaBehind, ensure_migrated, upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository, SqlRegistry
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.settings import Settings, get_settings

app = typer.Typer(help="Eco-label mutual recognition registry.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)

DEFAULT_OPENAPI = Path("openapi") / "openapi.json"


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings)
    try:
        try:
            ensure_migrated(engine)
        except SchemaBehind as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        with Session(engine) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()


def _fail(exc: DomainError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc.detail}")
    if isinstance(exc, InvalidInput):
        for e in exc.errors:
            console.print(f"  {'.'.join(map(str, e.loc))}: {e.message}")
    return typer.Exit(1)


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database schema up to date (creates the SQLite file when needed)."""
    settings = get_settings()
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            upgrade(conn, revision)
    finally:
        engine.dispose()
    console.print(f"database at {revision}: {settings.database_url.split('@')[-1]}")


@app.command()
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
    engine = make_engine(settings)
    try:
        ensure_migrated(engine)
    except SchemaBehind as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    uvicorn.run(
        "ecolabel_registry.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level.lower(),
    )


@app.command()
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
    with _session(get_settings()) as session:
        registry = SqlRegistry(session)
        try:
            report = load_demo(registry) if demo else load_reference(registry)
        except DomainError as exc:
            raise _fail(exc) from None
    table = Table("added", "count")
    for what, n in sorted(report.added.items()):
        table.add_row(what, str(n))
    console.print(table)
    for line in report.skipped:
        console.print(f"[dim]skipped {line}[/dim]")


@app.command()
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


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="operator, scheme_operator or certification_body.")],
    name: Annotated[str, typer.Option(help="Who holds the key.")],
    scheme: Annotated[
        list[str] | None, typer.Option(help="Scheme of a scheme operator (repeatable).")
    ] = None,
    certification_body: Annotated[
        str | None, typer.Option(help="Body of a certification body key.")
    ] = None,
) -> None:
    """Create a key; the key itself is printed once, on the last line."""
    with _session(get_settings()) as session:
        try:
            key, secret = ApiKeyService(SqlApiKeyRepository(session)).create(
                name, role, tuple(scheme or ()), certification_body
            )
        except DomainError as exc:
            raise _fail(exc) from None
    console.print(f"created key {key.id} ({key.role.value}) for {key.name}; it is shown only once:")
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list() -> None:
    """Every key (never the key itself)."""
    with _session(get_settings()) as session:
        keys = ApiKeyService(SqlApiKeyRepository(session)).find()
    table = Table("id", "name", "role", "schemes", "body", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.role.value,
            ",".join(k.scheme_ids),
            k.certification_body_id or "",
            str(k.created_at or ""),
            str(k.revoked_at or ""),
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")],
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    with _session(get_settings()) as session:
        try:
            ApiKeyService(SqlApiKeyRepository(session)).revoke(key_id)
        except DomainError as exc:
            raise _fail(exc) from None
    console.print(f"revoked {key_id}")
