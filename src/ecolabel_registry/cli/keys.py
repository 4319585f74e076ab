"""`keys`: create, list and revoke API keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from ecolabel_registry.cli.common import console, fail, print_table, session_scope
from ecolabel_registry.domain.access import Role
from ecolabel_registry.domain.errors import DomainError
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.settings import get_settings

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


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
    with session_scope(get_settings()) as session:
        try:
            key, secret = ApiKeyService(SqlApiKeyRepository(session)).create(
                name, role, tuple(scheme or ()), certification_body
            )
        except DomainError as exc:
            raise fail(exc, options=True) from None
    console.print(f"created key {key.id} ({key.role.value}) for {key.name}; it is shown only once:")
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list() -> None:
    """Every key (never the key itself)."""
    with session_scope(get_settings()) as session:
        keys = ApiKeyService(SqlApiKeyRepository(session)).find()
    table = Table("name", "role", "schemes", "body", "created", "revoked")
    table.add_column("id", no_wrap=True, min_width=36)
    for k in keys:
        table.add_row(
            k.name,
            k.role.value,
            ",".join(k.scheme_ids),
            k.certification_body_id or "",
            str(k.created_at or ""),
            str(k.revoked_at or ""),
            k.id,
        )
    print_table(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")],
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    with session_scope(get_settings()) as session:
        try:
            ApiKeyService(SqlApiKeyRepository(session)).revoke(key_id)
        except DomainError as exc:
            raise fail(exc) from None
    console.print(f"revoked {key_id}")
