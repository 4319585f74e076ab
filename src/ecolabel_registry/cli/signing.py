"""`signing-key` (create, rotate, list the receipt signing keys) and `verify` (a receipt)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.table import Table

from ecolabel_registry.cli.common import console, fail, print_table
from ecolabel_registry.services.signing import SigningKey, SigningKeyError, SigningKeyFile
from ecolabel_registry.settings import Settings, get_settings

signing_app = typer.Typer(
    help="The registry's receipt signing keys: create, rotate, list.", no_args_is_help=True
)


def key_line(verb: str, key: SigningKey, keys: SigningKeyFile) -> None:
    console.print(f"{verb} signing key {key.kid} in {keys.path}", soft_wrap=True)


@signing_app.command("create")
def signing_key_create(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing (exit 0) when the file exists.")
    ] = False,
) -> None:
    """Create the key file (ECOLABEL_SIGNING_KEY_FILE, mode 0600) with one P-256 (ES256) key."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        key = keys.ensure() if if_missing else keys.create()
    except SigningKeyError as exc:
        raise fail(exc) from None
    if key is None:
        console.print(f"signing key file {keys.path} exists", soft_wrap=True)
    else:
        key_line("created", key, keys)


@signing_app.command("rotate")
def signing_key_rotate() -> None:
    """A new current key signs from now on; the former keys stay, retired, so that every
    receipt they signed still verifies (servers notice at their next signature)."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        key = keys.rotate()
    except SigningKeyError as exc:
        raise fail(exc) from None
    key_line("rotated to", key, keys)


@signing_app.command("list")
def signing_key_list() -> None:
    """The keys of the file: id (kid), status and creation (never a private part)."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        ring = keys.read()
    except SigningKeyError as exc:
        raise fail(exc) from None
    table = Table("status", "created")
    table.add_column("kid", no_wrap=True, min_width=43)
    for key in ring.keys:
        table.add_row(key.status, key.created_at.isoformat(), key.kid)
    print_table(table)


def jwks_of(source: str | None, settings: Settings) -> dict[str, object]:
    """The JWKS to verify with: a file, a URL, or by default the registry's own
    (ECOLABEL_REGISTRY_URL/.well-known/jwks.json)."""
    import urllib.request

    where = source or f"{settings.registry_url}/.well-known/jwks.json"
    try:
        if where.startswith(("https://", "http://")):
            request = urllib.request.Request(where, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read(1024 * 1024)
        else:
            text = Path(where).read_bytes()
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        console.print(f"[red]invalid:[/red] cannot read the keys from {where}: {exc}")
        raise typer.Exit(1) from None
    if not isinstance(data, dict):
        console.print(f"[red]invalid:[/red] {where} holds no JSON Web Key Set")
        raise typer.Exit(1)
    return data


def verify(
    receipt_file: Annotated[
        Path, typer.Argument(dir_okay=False, help="The receipt (a compact JWS) to check.")
    ],
    jwks: Annotated[
        str | None,
        typer.Option(
            "--jwks",
            help="The registry's public keys: a JWKS file (offline) or its URL; by default "
            "ECOLABEL_REGISTRY_URL/.well-known/jwks.json.",
        ),
    ] = None,
) -> None:
    """Check a decision receipt: signature, header and credential; print the decision.
    Exit 0 when it verifies, 1 with the reason when it does not."""
    from ecolabel_registry.api.decisions_io import verify_receipt
    from ecolabel_registry.services.signing import MAX_RECEIPT_BYTES, ReceiptInvalid

    try:
        with receipt_file.open("rb") as f:
            text = f.read(MAX_RECEIPT_BYTES * 2 + 1).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]invalid:[/red] cannot read {receipt_file}: {exc}")
        raise typer.Exit(1) from None
    keys = jwks_of(jwks, get_settings())
    try:
        credential = verify_receipt(text, keys)
    except ReceiptInvalid as exc:
        console.print(f"[red]invalid:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    subject = credential.credential_subject
    console.print(
        f"valid: signed by {credential.issuer} at "
        f"{subject.as_recorded.isoformat().replace('+00:00', 'Z')} "
        f"(registry revision {subject.registry_revision}); decision {subject.id}",
        soft_wrap=True,
    )
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(subject)).decode() + "\n")
