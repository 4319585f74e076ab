"""The import service: reads a file, stages its rows, compares and merges them, or rejects it."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import Forbidden, InvalidInput
from ecolabel_registry.domain.model import Certificate, Scheme, StatusEvent
from ecolabel_registry.services._common import audit
from ecolabel_registry.services.imports import export
from ecolabel_registry.services.imports.formats import (
    MAX_LISTED_ERRORS,
    ChunkReader,
    FileError,
    ImportFormat,
    LoneCarriageReturn,
    Spool,
    check_columns,
    csv_rows,
    dcc_rows,
    jsonl_rows,
    only_crlf,
)
from ecolabel_registry.services.imports.rows import (
    Lookups,
    RowConverter,
    RowErrors,
    append_events,
    latest_event,
    same_event,
)
from ecolabel_registry.services.ports.imports import CertificateBulkStore, StagedCertificate
from ecolabel_registry.services.ports.registry import CertificateFilter, Registry
from ecolabel_registry.services.schemes import SchemeService

CHUNK_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: data rows read, certificates created, updated and left unchanged."""

    scheme_id: str
    format: ImportFormat
    rows: int
    created: int
    updated: int
    unchanged: int


class CertificateImportService:
    """Imports a scheme's certificates from CSV or JSON Lines, and exports them."""

    def __init__(
        self, registry: Registry, bulk: CertificateBulkStore, chunk_rows: int = CHUNK_ROWS
    ) -> None:
        self._r = registry
        self._bulk = bulk
        self._chunk_rows = chunk_rows

    def require_scheme(self, scheme_id: str) -> Scheme:
        """The scheme, or NotFound."""
        return SchemeService(self._r).get(scheme_id)

    def import_certificates(
        self,
        actor: Actor,
        scheme_id: str,
        chunks: Iterable[bytes],
        fmt: ImportFormat,
        on_row: Callable[[int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Create or update every certificate of the file, or none (InvalidInput, Forbidden).

        `on_row` hears how many rows were read so far; `on_phase` hears each phase as it
        starts: `reading` (the file, checked and staged), `comparing` (duplicates and
        existing certificates), `writing` (the merge) and `done`.

        Runs in the caller's transaction, which must be rolled back on any error. Rows that
        match an existing certificate (same scheme and number) update it; a status that
        differs from the certificate's latest appends one status event; an unchanged row
        changes nothing. One audit event summarizes the import (its counts), and each
        certificate created or changed gets its own, with its state before and after.
        """
        self.require_scheme(scheme_id)
        if actor.role not in (Role.OPERATOR, Role.CERTIFICATION_BODY):
            raise Forbidden("only the registry operator or a certification body may import")
        converter = RowConverter(actor, scheme_id, Lookups(self._r))
        errors = RowErrors()
        bulk = self._bulk
        phase = on_phase or (lambda _: None)
        phase("reading")
        bulk.open(scheme_id)
        try:
            rows = self._stage(converter, errors, fmt, chunks, on_row)
            if rows == 0 and not errors.count:
                raise InvalidInput.single(("body",), "the file holds no certificates")
            phase("comparing")
            listed, count = bulk.duplicates(MAX_LISTED_ERRORS)
            for row, number, first in listed:
                errors.add(row, ("number",), f"number {number!r} is also on row {first}")
            errors.count += count - len(listed)
            updated = unchanged = 0
            if bulk.match_existing():
                updated, unchanged = self._compare(actor, bulk, errors)
            errors.raise_if_any(rows)
            phase("writing")
            bulk.record_changes(actor, "certificate.import")
            created = bulk.merge()
        finally:
            bulk.close()
        phase("done")
        report = ImportReport(scheme_id, fmt, rows, created, updated, unchanged)
        audit(
            self._r,
            actor,
            "certificate.import",
            "certificate",
            scheme_id,
            None,
            report,
            changes=False,  # the merge logged each certificate it changed (record_changes)
        )
        return report

    def _stage(
        self,
        converter: RowConverter,
        errors: RowErrors,
        fmt: ImportFormat,
        chunks: Iterable[bytes],
        on_row: Callable[[int], None] | None,
    ) -> int:
        """Stage the file's valid rows and count the rows read: the whole CSV file set-based
        when the store takes it, else row by row (the row path reports every error)."""
        with contextlib.ExitStack() as stack:
            if fmt is ImportFormat.CSV and self._bulk.stages_csv:
                spool = stack.enter_context(Spool(chunks))
                count = self._stage_set_based(spool, converter.own_body, on_row)
                if count is not None:
                    return count
                chunks = spool.replay()
            reader: Callable[[Iterable[bytes]], Iterator[tuple[int, dict[str, Any] | FileError]]]
            reader = csv_rows if fmt is ImportFormat.CSV else jsonl_rows
            if fmt is ImportFormat.UNTP_DCC:
                reader = functools.partial(
                    dcc_rows, default_economy=self._home_economy(converter.scheme_id)
                )
            is_csv = fmt is ImportFormat.CSV
            batch: list[StagedCertificate] = []
            rows = 0
            for row, values in reader(chunks):
                rows = row
                if isinstance(values, FileError):
                    errors.add(row, values.loc, values.message)
                    continue
                staged = converter.stage(errors, row, values, is_csv)
                if staged is not None:
                    batch.append(staged)
                    if len(batch) >= self._chunk_rows:
                        self._bulk.stage(batch)
                        batch = []
                        if on_row is not None:
                            on_row(row)
            if batch:
                self._bulk.stage(batch)
            if on_row is not None:
                on_row(rows)
            return rows

    def _stage_set_based(
        self, chunks: Iterable[bytes], own_body: str | None, on_row: Callable[[int], None] | None
    ) -> int | None:
        """The whole CSV file checked and staged by the store, when it can; None if not.

        Nothing is reported from here: a file the store does not accept as a whole (a bad
        row, a CSV oddity) is read again row by row, and that reading reports every error.
        """
        # Decoded in large pieces (the row path decodes each line on its own, to name the
        # line of a bad byte). A carriage return other than in CRLF splits lines differently
        # here, so such a file goes row by row.
        raw = io.BufferedReader(ChunkReader(only_crlf(chunks)), buffer_size=1 << 20)
        decoded = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(decoded, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return None
            names = [h.strip() for h in header]
            check_columns(names)
            rows = self._bulk.stage_csv(names, filter(None, reader), own_body, on_row)
        except (UnicodeDecodeError, csv.Error, InvalidInput, LoneCarriageReturn):
            return None
        if rows == 0:
            return None
        if rows is not None and on_row is not None:
            on_row(rows)
        return rows

    def _compare(
        self, actor: Actor, bulk: CertificateBulkStore, errors: RowErrors
    ) -> tuple[int, int]:
        """Rows of existing certificates: authority, issuing body, status events to append."""
        updated = unchanged = 0
        for chunk in bulk.matches(self._chunk_rows):
            events: list[tuple[int, StatusEvent]] = []
            for m in chunk:
                if m.current_body_id != m.certification_body_id:
                    if actor.role is Role.CERTIFICATION_BODY:
                        errors.forbid(
                            m.row,
                            f"certificate {m.number} was issued by "
                            f"{m.current_body_id or 'no recorded body'}; only that body may "
                            "change it",
                        )
                    else:
                        errors.add(
                            m.row,
                            ("certification_body_id",),
                            f"certificate {m.number} was issued by "
                            f"{m.current_body_id or 'no recorded body'}; the issuing body of a "
                            "certificate does not change",
                        )
                    continue
                new: list[StatusEvent] = []
                if m.declared == "history":
                    known = m.history
                    if len(m.declared_history) < len(known) or not all(
                        same_event(a, b) for a, b in zip(known, m.declared_history, strict=False)
                    ):
                        errors.add(
                            m.row,
                            ("status_events",),
                            f"the status history of certificate {m.number} does not continue the "
                            "registry's: history is appended to, never rewritten",
                        )
                        continue
                    new, problem = append_events(m.number, known, m.declared_history[len(known) :])
                elif m.declared == "status" and m.status is not None:
                    latest = latest_event(m.history)
                    if latest is None or str(latest.status) != m.status.status:
                        new, problem = append_events(m.number, m.history, [m.status])
                    else:
                        problem = None
                else:
                    problem = None
                if problem is not None:
                    errors.add(
                        m.row, ("status_events" if m.declared == "history" else "status",), problem
                    )
                    continue
                events.extend((m.certificate_id, e) for e in new)
                if m.fields_changed or new:
                    updated += 1
                else:
                    unchanged += 1
            if events and not errors.count:
                bulk.stage_events(events)
        return updated, unchanged

    def export(
        self, scheme_id: str, fmt: ImportFormat, filters: CertificateFilter | None = None
    ) -> Iterator[str]:
        """The scheme's certificates as CSV or JSON Lines text, a few hundred rows a piece.

        The output imports back into an empty registry as the same certificates with the same
        status histories (`status_events`), whichever the format.
        """
        scheme = self.require_scheme(scheme_id)
        filters = filters or CertificateFilter(scheme_id=scheme_id)
        filters = dataclasses.replace(filters, scheme_id=scheme_id)
        certificates = self._bulk.export(scheme_id, filters)
        if fmt is ImportFormat.UNTP_DCC:
            return export.credential_lines(scheme, certificates, Lookups(self._r))
        return export.export_lines(certificates, fmt)

    def credential(self, certificate: Certificate) -> dict[str, Any]:
        """The certificate as an unsigned UNTP DCC (JSON-ready data)."""
        scheme = self.require_scheme(certificate.scheme_id)
        return export.credential(scheme, certificate, Lookups(self._r))

    def _home_economy(self, scheme_id: str) -> str | None:
        """The holder's economy for a credential that does not say it: the scheme's only one."""
        scheme = self.require_scheme(scheme_id)
        return scheme.home_economies[0] if len(scheme.home_economies) == 1 else None
