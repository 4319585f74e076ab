"""The `ecolabel-registry` command: serve, migrate, seed, keys, import/export, the OpenAPI file."""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.access import SYSTEM, Role
from ecolabel_registry.domain.errors import DomainError, InvalidInput
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.persistence.engine import make_engine
from ecolabel_registry.persistence.errors import DRIVER_ERRORS, domain_error
from ecolabel_registry.persistence.migrate import SchemaBehind, ensure_migrated, upgrade
from ecolabel_registry.persistence.repositories import SqlApiKeyRepository, SqlRegistry
from ecolabel_registry.services.imports import (
    CertificateImportService,
    ImportFormat,
    ImportRejected,
    ImportReport,
)
from ecolabel_registry.services.keys import ApiKeyService
from ecolabel_registry.services.signing import SigningKey, SigningKeyError, SigningKeyFile
from ecolabel_registry.settings import DEFAULT_SQLITE_PATH, Settings, get_settings

app = typer.Typer(help="Eco-label mutual recognition registry.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
import_app = typer.Typer(help="Bulk import from CSV or JSON Lines.", no_args_is_help=True)
app.add_typer(import_app, name="import")

if TYPE_CHECKING:
    from fastapi import FastAPI
export_app = typer.Typer(help="Bulk export to CSV or JSON Lines.", no_args_is_help=True)
app.add_typer(export_app, name="export")
signing_app = typer.Typer(
    help="The registry's receipt signing keys: create, rotate, list.", no_args_is_help=True
)
app.add_typer(signing_app, name="signing-key")
console = Console(stderr=True)

DEFAULT_OPENAPI = Path("openapi") / "openapi.json"
REBUILD_THRESHOLD = 100_000


def _database(settings: Settings) -> str:
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


def _engine(settings: Settings) -> Engine:
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


def _require_migrated(settings: Settings, engine: Engine) -> None:
    """Exit 2, naming the database, when it is behind the migrations or cannot be reached."""
    try:
        ensure_migrated(engine)
    except SchemaBehind as exc:
        console.print(f"[red]{exc}[/red]", soft_wrap=True)
    except OperationalError as exc:
        console.print(f"[red]cannot open the database: {exc.orig}[/red]", soft_wrap=True)
    else:
        return
    console.print(f"database: {_database(settings)}", soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = _engine(settings)
    try:
        _require_migrated(settings, engine)
        with Session(engine) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except DRIVER_ERRORS as exc:
        # A lock held by another writer, a lost connection: said in a line, not a traceback.
        mapped = domain_error(exc)
        if mapped is None:
            raise
        raise _fail(mapped) from None
    finally:
        engine.dispose()


def _fail(exc: DomainError, options: bool = False) -> typer.Exit:
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


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database schema up to date (creates the SQLite file when needed)."""
    settings = get_settings()
    engine = _engine(settings)
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
    engine = _engine(settings)
    try:
        _require_migrated(settings, engine)
    finally:
        engine.dispose()
    _check_signing_key(settings)
    uvicorn.run(
        "ecolabel_registry.cli:served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=settings.log_level.lower(),
    )


def _check_signing_key(settings: Settings) -> None:
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


@app.command()
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
    engine = _engine(settings)
    _require_migrated(settings, engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"delivering webhooks from {_database(settings)}", soft_wrap=True)
        await DeliveryWorker(sessionmaker(engine, expire_on_commit=False), settings).run(stop)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    console.print("webhook worker stopped")


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
    console.print(f"seed {'--demo' if demo else '--reference'}: {report.summary()}", soft_wrap=True)


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
            raise _fail(exc, options=True) from None
    console.print(f"created key {key.id} ({key.role.value}) for {key.name}; it is shown only once:")
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list() -> None:
    """Every key (never the key itself)."""
    with _session(get_settings()) as session:
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
    # Piped output (scripts, logs) is never squeezed: ids must stay whole to be usable.
    Console(width=None if sys.stdout.isatty() else 200).print(table)


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


def _format_of(path: Path | None, given: ImportFormat | None) -> ImportFormat:
    if given is not None:
        return given
    suffix = path.suffix.lower() if path is not None else ".csv"
    if suffix == ".csv":
        return ImportFormat.CSV
    if suffix in (".jsonl", ".ndjson"):
        return ImportFormat.JSONL
    console.print(
        f"[red]cannot tell the format of {path}; pass --format csv, jsonl or untp-dcc[/red]"
    )
    raise typer.Exit(2)


def _summary(report: ImportReport | None, rejected: int, rows: int, seconds: float) -> Table:
    table = Table("created", "updated", "unchanged", "rejected", "rows", "seconds")
    table.add_row(
        str(report.created if report else 0),
        str(report.updated if report else 0),
        str(report.unchanged if report else 0),
        str(rejected),
        str(rows),
        f"{seconds:.1f}",
    )
    return table


@import_app.command("certificates")
def import_certificates(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The CSV or JSON Lines file.")
    ],
    scheme: Annotated[str, typer.Option(help="The scheme the certificates belong to.")],
    format: Annotated[
        ImportFormat | None,
        typer.Option(
            "--format",
            help="csv, jsonl or untp-dcc (UNTP Digital Conformity Credentials, one a line); "
            "by default from the file's extension (csv or jsonl).",
        ),
    ] = None,
    errors_shown: Annotated[
        int, typer.Option("--errors", min=0, help="How many row errors to print on rejection.")
    ] = 20,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="Never lock the certificate tables exclusively (PostgreSQL loads of 100,000+ "
            "new certificates otherwise rebuild their indexes and foreign keys after the merge).",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome as one JSON object (counts, seconds, seconds per phase) "
            "instead of a table; no progress bar.",
        ),
    ] = False,
) -> None:
    """Import certificates: every row or none, creating or updating by number (idempotent)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    fmt = _format_of(file, format)
    started = time.perf_counter()
    size = file.stat().st_size
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=as_json,
    )
    task = progress.add_task("reading", total=size)

    def chunks() -> Iterator[bytes]:
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                progress.advance(task, len(chunk))
                yield chunk

    def on_row(row: int) -> None:
        progress.update(task, description=f"{row:,} rows")

    phases: dict[str, float] = {}
    marks: list[tuple[str, float]] = []

    def on_phase(name: str) -> None:
        now = time.perf_counter()
        if marks:
            phases[marks[-1][0]] = round(now - marks[-1][1], 2)
        marks.append((name, now))
        if name in ("comparing", "writing"):
            progress.update(task, description=name)

    with _session(get_settings()) as session, progress:
        bulk = SqlCertificateBulkStore(session, None if online else REBUILD_THRESHOLD)
        service = CertificateImportService(SqlRegistry(session), bulk)
        try:
            report = service.import_certificates(SYSTEM, scheme, chunks(), fmt, on_row, on_phase)
        except ImportRejected as exc:
            progress.stop()
            if as_json:
                _print_json(
                    {"rejected": exc.bad_rows, "rows": exc.rows, "error_count": exc.error_count}
                )
                raise typer.Exit(1) from None
            console.print(_summary(None, exc.bad_rows, exc.rows, time.perf_counter() - started))
            console.print(f"[red]rejected:[/red] {exc.detail}")
            for e in exc.errors[:errors_shown]:
                console.print(
                    f"  row {e.loc[2]}: {'.'.join(map(str, e.loc[3:])) or '-'}: {e.message}"
                )
            raise typer.Exit(1) from None
        except DomainError as exc:
            progress.stop()
            raise _fail(exc) from None
        progress.update(task, description=f"{report.rows:,} rows, committing")
        committing = time.perf_counter()
    phases["committing"] = round(time.perf_counter() - committing, 2)
    seconds = time.perf_counter() - started
    if as_json:
        _print_json(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rows": report.rows,
                "seconds": round(seconds, 2),
                "phases": phases,
            }
        )
        return
    console.print(_summary(report, 0, report.rows, seconds))
    console.print(" · ".join(f"{name} {s:.1f} s" for name, s in phases.items()))


def _print_json(data: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


@export_app.command("certificates")
def export_certificates(
    scheme: Annotated[str, typer.Option(help="The scheme whose certificates to export.")],
    format: Annotated[
        ImportFormat | None,
        typer.Option(
            "--format",
            help="csv, jsonl or untp-dcc (UNTP Digital Conformity Credentials, one a line); "
            "by default from --output, else csv.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="The file to write; standard output when absent.")
    ] = None,
) -> None:
    """Export a scheme's certificates with their status histories (re-importable as is)."""
    fmt = _format_of(output, format)
    with _session(get_settings()) as session:
        service = CertificateImportService(SqlRegistry(session), SqlCertificateBulkStore(session))
        try:
            pieces = service.export(scheme, fmt)
        except DomainError as exc:
            raise _fail(exc) from None
        if output is None:
            for piece in pieces:
                sys.stdout.write(piece)
            sys.stdout.flush()
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            for piece in pieces:
                f.write(piece)
    console.print(f"wrote {output}")


def _key_line(verb: str, key: SigningKey, keys: SigningKeyFile) -> None:
    console.print(f"{verb} signing key {key.kid} in {keys.path}", soft_wrap=True)


@signing_app.command("create")
def signing_key_create(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing (exit 0) when the file exists.")
    ] = False,
) -> None:
    """Create the key file (ECOLABEL_SIGNING_KEY_FILE, mode 0600) with one Ed25519 key."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        key = keys.ensure() if if_missing else keys.create()
    except SigningKeyError as exc:
        raise _fail(exc) from None
    if key is None:
        console.print(f"signing key file {keys.path} exists", soft_wrap=True)
    else:
        _key_line("created", key, keys)


@signing_app.command("rotate")
def signing_key_rotate() -> None:
    """A new current key signs from now on; the former keys stay, retired, so that every
    receipt they signed still verifies (servers notice at their next signature)."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        key = keys.rotate()
    except SigningKeyError as exc:
        raise _fail(exc) from None
    _key_line("rotated to", key, keys)


@signing_app.command("list")
def signing_key_list() -> None:
    """The keys of the file: id (kid), status and creation (never a private part)."""
    keys = SigningKeyFile(get_settings().signing_key_file)
    try:
        ring = keys.read()
    except SigningKeyError as exc:
        raise _fail(exc) from None
    table = Table("status", "created")
    table.add_column("kid", no_wrap=True, min_width=43)
    for key in ring.keys:
        table.add_row(key.status, key.created_at.isoformat(), key.kid)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _jwks_of(source: str | None, settings: Settings) -> dict[str, object]:
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


@app.command()
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
    keys = _jwks_of(jwks, get_settings())
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
