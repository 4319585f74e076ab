"""`import` and `export`: certificates in bulk, as CSV, JSON Lines or UNTP DCC."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecolabel_registry.cli.common import console, fail, print_json, session_scope
from ecolabel_registry.domain.access import SYSTEM
from ecolabel_registry.domain.errors import DomainError
from ecolabel_registry.persistence.bulk import SqlCertificateBulkStore
from ecolabel_registry.persistence.repositories import SqlRegistry
from ecolabel_registry.services.imports import (
    CertificateImportService,
    ImportFormat,
    ImportRejected,
    ImportReport,
)
from ecolabel_registry.settings import get_settings

import_app = typer.Typer(help="Bulk import from CSV or JSON Lines.", no_args_is_help=True)
export_app = typer.Typer(help="Bulk export to CSV or JSON Lines.", no_args_is_help=True)

# From this many new certificates, when they are at least as many as the table holds, the
# command line drops and rebuilds the certificate tables' keys and indexes around the merge.
# Measured on 10,000 new certificates into an empty registry (bench/import_bar.py): the
# words index kept in step row by row made the write 4.7 s, rebuilt 3.0 s.
REBUILD_THRESHOLD = 5_000


def format_option(default: str) -> Any:
    """The `--format` option of import and export, its default said as `default`."""
    return typer.Option(
        "--format",
        help="csv, jsonl or untp-dcc (UNTP Digital Conformity Credentials, one a line); "
        f"by default {default}.",
    )


def format_of(path: Path | None, given: ImportFormat | None) -> ImportFormat:
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


def summary(report: ImportReport | None, rejected: int, rows: int, seconds: float) -> Table:
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
        ImportFormat | None, format_option("from the file's extension (csv or jsonl)")
    ] = None,
    errors_shown: Annotated[
        int, typer.Option("--errors", min=0, help="How many row errors to print on rejection.")
    ] = 20,
    online: Annotated[
        bool,
        typer.Option(
            "--online",
            help="Never lock the certificate tables exclusively (PostgreSQL loads of 5,000+ new "
            "certificates otherwise rebuild their indexes and foreign keys after the merge).",
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

    fmt = format_of(file, format)
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

    with session_scope(get_settings()) as session, progress:
        bulk = SqlCertificateBulkStore(session, None if online else REBUILD_THRESHOLD)
        service = CertificateImportService(SqlRegistry(session), bulk)
        try:
            report = service.import_certificates(SYSTEM, scheme, chunks(), fmt, on_row, on_phase)
        except ImportRejected as exc:
            progress.stop()
            if as_json:
                print_json(
                    {"rejected": exc.bad_rows, "rows": exc.rows, "error_count": exc.error_count}
                )
                raise typer.Exit(1) from None
            console.print(summary(None, exc.bad_rows, exc.rows, time.perf_counter() - started))
            console.print(f"[red]rejected:[/red] {exc.detail}")
            for e in exc.errors[:errors_shown]:
                console.print(
                    f"  row {e.loc[2]}: {'.'.join(map(str, e.loc[3:])) or '-'}: {e.message}"
                )
            raise typer.Exit(1) from None
        except DomainError as exc:
            progress.stop()
            raise fail(exc) from None
        progress.update(task, description=f"{report.rows:,} rows, committing")
        committing = time.perf_counter()
    phases["committing"] = round(time.perf_counter() - committing, 2)
    seconds = time.perf_counter() - started
    if as_json:
        print_json(
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
    console.print(summary(report, 0, report.rows, seconds))
    console.print(" · ".join(f"{name} {s:.1f} s" for name, s in phases.items()))


@export_app.command("certificates")
def export_certificates(
    scheme: Annotated[str, typer.Option(help="The scheme whose certificates to export.")],
    format: Annotated[ImportFormat | None, format_option("from --output, else csv")] = None,
    output: Annotated[
        Path | None, typer.Option(help="The file to write; standard output when absent.")
    ] = None,
) -> None:
    """Export a scheme's certificates with their status histories (re-importable as is)."""
    fmt = format_of(output, format)
    with session_scope(get_settings()) as session:
        service = CertificateImportService(SqlRegistry(session), SqlCertificateBulkStore(session))
        try:
            pieces = service.export(scheme, fmt)
        except DomainError as exc:
            raise fail(exc) from None
        if output is None:
            for piece in pieces:
                sys.stdout.write(piece)
            sys.stdout.flush()
            return
        with output.open("w", encoding="utf-8", newline="") as f:
            for piece in pieces:
                f.write(piece)
    console.print(f"wrote {output}")
