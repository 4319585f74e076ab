"""The `ecolabel-registry` command: serve, migrate, seed, keys, import/export, the OpenAPI file.

One module per group of commands; this one assembles them into `app`, the entry point.
"""

from __future__ import annotations

import typer

from ecolabel_registry.cli import database, serve, signing
from ecolabel_registry.cli.keys import keys_app
from ecolabel_registry.cli.serve import served_app, tuned_process
from ecolabel_registry.cli.signing import signing_app
from ecolabel_registry.cli.transfer import export_app, import_app

__all__ = ["app", "served_app", "tuned_process"]

app = typer.Typer(help="Eco-label mutual recognition registry.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(signing_app, name="signing-key")
app.command()(database.migrate)
app.command()(serve.serve)
app.command()(serve.deliver)
app.command()(database.seed)
app.command()(database.openapi)
app.command()(signing.verify)
