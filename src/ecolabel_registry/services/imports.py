"""Bulk certificate import (CSV, JSON Lines) and export: all-or-nothing, idempotent, streamed.

The import reads the file once, row by row, and validates every row with the same rules as
a single create (`CertificateService.check`) over cached look-ups of categories, economies
and bodies. Valid rows go to a staging area (`CertificateBulkStore`, implemented with the
database's bulk paths in `persistence.bulk`) in chunks; duplicates inside the file and the
comparison with existing certificates are set-based. Nothing is merged unless every row is
good; the caller's transaction is rolled back on the error.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import functools
import io
import itertools
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    CertificationBody,
    Economy,
    EconomyKind,
    ProductCategory,
    Scheme,
    StatusEvent,
)
from ecolabel_registry.domain.validation import (
    CERTIFICATE_NUMBER_RULE,
    CODE_PATTERN,
    ECONOMY_CODE_PATTERN,
    SLUG_PATTERN,
    is_certificate_number,
    iso_day,
    normal_gtins,
)
from ecolabel_registry.services import untp_dcc
from ecolabel_registry.services._common import audit
from ecolabel_registry.services.authz import require_issuing_body
from ecolabel_registry.services.certificates import (
    CertificateService,
    check_event_starts,
    check_status_event,
)
from ecolabel_registry.services.ports.changes import ChangeFacts
from ecolabel_registry.services.ports.registry import (
    AgreementRepository,
    AuditLog,
    BodyRepository,
    CategoryRepository,
    CertificateFilter,
    CertificateRepository,
    EconomyRepository,
    Registry,
    SchemeRepository,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "COLUMNS",
    "MAX_LISTED_ERRORS",
    "MEDIA_TYPES",
    "REQUIRED_COLUMNS",
    "CertificateBulkStore",
    "CertificateImportService",
    "ExistingMatch",
    "ImportFormat",
    "ImportRejected",
    "ImportReport",
    "StagedCertificate",
    "format_of_media_type",
    "neutralize_cell",
    "restore_cell",
]


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    UNTP_DCC = "untp-dcc"
    """UNTP Digital Conformity Credentials, one a line (JSON Lines); see `untp_dcc`."""


MEDIA_TYPES: dict[str, ImportFormat] = {
    "text/csv": ImportFormat.CSV,
    "application/x-ndjson": ImportFormat.JSONL,
    "application/jsonl": ImportFormat.JSONL,
    "application/json-lines": ImportFormat.JSONL,
}


def format_of_media_type(content_type: str | None) -> ImportFormat | None:
    """The import format of a Content-Type header (parameters ignored), None when unsupported."""
    if content_type is None:
        return None
    return MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


COLUMNS: tuple[str, ...] = (
    "number",
    "category_code",
    "holder_name",
    "holder_economy",
    "product_name",
    "brand",
    "model",
    "gtins",
    "hs_codes",
    "certification_body_id",
    "valid_from",
    "valid_to",
    "status",
    "status_effective_date",
    "status_reason",
    "status_events",
)
"""The stable column set, in the order the export writes it."""

REQUIRED_COLUMNS = frozenset(
    {"number", "category_code", "holder_name", "holder_economy", "product_name"}
    | {"valid_from", "valid_to"}
)
MAX_LISTED_ERRORS = 1000
CHUNK_ROWS = 10_000
FIRST_REASON = "issued"
STATUS_REASON = "imported"

_CODE = re.compile(CODE_PATTERN)
_ECONOMY = re.compile(ECONOMY_CODE_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_STATUSES = frozenset(s.value for s in CertificateStatus)
NO_LINE_BREAK = (
    "the body has no line break, so it cannot be read line by line: send the file as it is, "
    "with its line breaks (curl --data-binary @file; curl -d @file removes them)"
)


# CSV cells a spreadsheet would run as a formula (OWASP, "CSV Injection")

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE = "'"


def neutralize_cell(value: str) -> str:
    """A CSV export cell that a spreadsheet shows as text instead of running it.

    A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote
    in front; so does a cell that starts with a single quote itself, so that `restore_cell`
    gives back exactly the value whatever it was.
    """
    if value.startswith(_FORMULA_STARTS) or value.startswith(_ESCAPE):
        return _ESCAPE + value
    return value


def restore_cell(value: str) -> str:
    """The value of an imported CSV cell: a leading single quote is removed (one, not all)."""
    return value[1:] if value.startswith(_ESCAPE) else value


# What the store is given and gives back


@dataclass(frozen=True, slots=True)
class StagedCertificate:
    """One valid row: the certificate and `events`, the history it gets when it is new.

    `declared` says what the row states about status for an existing certificate:
    `history` (its full history, the same as `events`), `status` (the status columns,
    `status`) or `none`.
    """

    row: int
    certificate: Certificate
    events: tuple[StatusEvent, ...]
    declared: str
    status: StatusEvent | None


@dataclass(frozen=True, slots=True)
class ExistingMatch:
    """A staged row whose number the scheme already has, with that certificate's state."""

    row: int
    certificate_id: int
    number: str
    certification_body_id: str | None
    current_body_id: str | None
    fields_changed: bool
    history: tuple[StatusEvent, ...]
    declared: str
    declared_history: tuple[StatusEvent, ...]
    status: StatusEvent | None


class CertificateBulkStore(Protocol):
    """Set-based writes and reads of many certificates of one scheme, in one transaction."""

    def open(self, scheme_id: str) -> None:
        """Lock the scheme against concurrent imports and make an empty staging area."""

    def stage(self, rows: Sequence[StagedCertificate]) -> None:
        """Append valid rows to the staging area."""

    @property
    def stages_csv(self) -> bool:
        """Whether `stage_csv` can stage a file at all (else it always returns None)."""

    def stage_csv(
        self,
        names: Sequence[str],
        records: Iterator[list[str]],
        own_body: str | None,
        on_rows: Callable[[int], None] | None = None,
    ) -> int | None:
        """Stage a whole CSV file set-based, checking the row rules in the store itself.

        `names` are the header's (checked) column names, `records` the data records with
        blank lines skipped, `own_body` the importing certification body (it fills an empty
        `certification_body_id` and must be authorized) or None for the operator. Returns
        how many rows were staged, or None when the store has no such path or when any
        record might not pass the rules of `_convert` and `CertificateService.check`: then
        nothing was staged, and the file must be read row by row for its errors. Parse
        errors of `records` propagate, with nothing staged.
        """

    def duplicates(self, limit: int) -> tuple[list[tuple[int, str, int]], int]:
        """Rows repeating an earlier row's number: (row, number, first row), and their count."""

    def match_existing(self) -> int:
        """Pair staged rows with the scheme's existing certificates; how many matched.

        From here to the merge, the certificates compared are the ones written: no other
        write interleaves, or the merge is a Conflict.
        """

    def matches(self, chunk_rows: int) -> Iterator[list[ExistingMatch]]:
        """The matched rows in row order, in chunks, with the certificates' histories."""

    def stage_events(self, events: Sequence[tuple[int, StatusEvent]]) -> None:
        """Status events to append to existing certificates: (certificate id, event)."""

    def record_changes(self, actor: Actor, operation: str) -> None:
        """Audit each certificate the merge is about to create or change, before the merge.

        One audit event per certificate (`entity_type` certificate, `entity_id`
        `scheme/number`): a new one has `before` null and `after` its number and version 1;
        a changed one has `before` its fields and version as they are and `after` its fields
        and version as the row makes them, with the status events the import appends.
        """

    def merge(self) -> int:
        """Write the staged rows: insert new certificates, update matched ones, append events.

        Returns how many certificates were created.
        """

    def close(self) -> None:
        """Drop the staging area."""

    def export(self, scheme_id: str, filters: CertificateFilter) -> Iterator[Certificate]:
        """The scheme's certificates with their histories, in registration order."""


# Reports and errors


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: data rows read, certificates created, updated and left unchanged."""

    scheme_id: str
    format: ImportFormat
    rows: int
    created: int
    updated: int
    unchanged: int


class ImportRejected(InvalidInput):
    """The file has bad rows; nothing was written. `errors` lists at most MAX_LISTED_ERRORS."""

    def __init__(self, errors: list[FieldError], error_count: int, rows: int, bad_rows: int):
        listed = len(errors)
        more = error_count - listed
        detail = (
            f"{bad_rows} of {rows} rows are invalid ({error_count} errors); nothing was imported"
            + (f"; the first {listed} errors are listed, {more} more are not" if more else "")
        )
        super().__init__(errors, detail)
        self.error_count = error_count
        self.rows = rows
        self.bad_rows = bad_rows
        self.problem_extra = {
            "rows": rows,
            "invalid_rows": bad_rows,
            "error_count": error_count,
            "errors_not_listed": more,
        }


class _Errors:
    """Row errors, capped: the first MAX_LISTED_ERRORS are kept, all are counted."""

    def __init__(self) -> None:
        self.listed: list[FieldError] = []
        self.count = 0
        self.rows: set[int] = set()
        self.forbidden: list[tuple[int, str]] = []

    def add(
        self, row: int, loc: Sequence[str | int], message: str, kind: str = "value_error"
    ) -> None:
        self.count += 1
        self.rows.add(row)
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append(FieldError(("body", "rows", row, *loc), message, kind))

    def add_domain(self, row: int, exc: InvalidInput) -> None:
        for e in exc.errors:
            loc = e.loc[1:] if e.loc and e.loc[0] == "body" else e.loc
            self.add(row, loc, e.message, e.type)

    def forbid(self, row: int, message: str) -> None:
        if len(self.forbidden) < 10:
            self.forbidden.append((row, message))
        self.rows.add(row)

    def raise_if_any(self, rows: int) -> None:
        if self.forbidden:
            listed = "; ".join(f"row {r}: {m}" for r, m in self.forbidden)
            raise Forbidden(f"nothing was imported: {listed}")
        if self.count:
            self.listed.sort(key=lambda e: e.loc[2] if isinstance(e.loc[2], int) else 0)
            raise ImportRejected(self.listed, self.count, rows, len(self.rows))


# Reading the file


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (an HTTP body, a file)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = bytes(chunk)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _text(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of the file, each decoded on its own so a bad byte is found at its line."""
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20)
    first = True
    for line in raw:
        if first:
            line = line.removeprefix(codecs.BOM_UTF8)
            first = False
        yield line.decode("utf-8")


class _Spool:
    """The chunks of a file passed through and kept (in memory, on disk past 16 MB).

    `replay()` gives the whole file again: what was kept, then whatever was not read yet.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._kept = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._kept.close()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._kept.write(chunk)
            yield chunk

    def replay(self) -> Iterator[bytes]:
        self._kept.seek(0)
        while chunk := self._kept.read(1 << 20):
            yield chunk
        yield from self._chunks


class _LoneCarriageReturn(Exception):
    """A carriage return that does not end a line as CRLF."""


def _only_crlf(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
            raise _LoneCarriageReturn
        yield chunk


class _FileError(Exception):
    """The file itself is unreadable (no header, bad columns, not UTF-8): stop reading it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut short past 60 characters."""
    if isinstance(value, list | dict):
        return "a JSON list" if isinstance(value, list) else "a JSON object"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"the file is not UTF-8 text ({exc.reason} at byte 0x{exc.object[exc.start]:02x})"


class _ColumnsRejected(InvalidInput):
    """The header's columns are wrong; `errors` lists at most MAX_LISTED_ERRORS of them."""

    def __init__(self, errors: list[FieldError], error_count: int, detail: str) -> None:
        super().__init__(errors, detail)
        self.problem_extra = {
            "error_count": error_count,
            "errors_not_listed": error_count - len(errors),
        }


def _check_columns(names: Sequence[str], *, line_break: bool = True) -> None:
    """InvalidInput unless every name is a column, none repeats and none required is missing.

    `line_break`: whether the header line ended with a line break. A body without any
    (`curl -d @file` removes them) reads as one long header line; that is said instead.
    """
    known = set(COLUMNS)
    seen: set[str] = set()
    problems: list[FieldError] = []
    count = 0

    def add(name: str, message: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_LISTED_ERRORS:
            problems.append(FieldError(("body", "columns", name[:100]), message))

    takes = "an import takes the columns " + ", ".join(COLUMNS)
    for name in names:
        if name not in known:
            add(name, f"unknown column {_shown(name)}; {takes}")
        elif name in seen:
            add(name, f"column {_shown(name)} repeats")
        seen.add(name)
    for name in sorted(REQUIRED_COLUMNS - seen):
        add(name, f"required column {name!r} is missing")
    if not count:
        return
    if not line_break:
        raise InvalidInput([FieldError(("body",), NO_LINE_BREAK)], NO_LINE_BREAK)
    shown = "; ".join(f"{str(p.loc[-1])[:40]}: {p.message.split(';')[0]}" for p in problems[:5])
    more = f"; and {count - 5} more" if count > 5 else ""
    raise _ColumnsRejected(
        problems,
        count,
        f"the header does not match the import columns ({count} errors; {takes}): {shown}{more}",
    )


def _csv_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | _FileError]]:
    text = _text(chunks)
    try:
        first = next(text, "")
    except UnicodeDecodeError as exc:
        raise InvalidInput.single(("body",), _not_utf8(exc)) from None
    line_break = first.endswith(("\n", "\r"))
    reader = csv.reader(itertools.chain((first,) if first else (), text), strict=True)
    try:
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        raise InvalidInput.single(("body",), _not_utf8(exc)) from None
    except csv.Error as exc:
        raise InvalidInput.single(("body",), f"the header is not valid CSV: {exc}") from None
    if header is None:
        raise InvalidInput.single(("body",), "the file is empty: a CSV import starts with a header")
    names = [h.strip() for h in header]
    _check_columns(names, line_break=line_break)
    width = len(names)
    row = 0
    while True:
        try:
            values = next(reader, None)
        except UnicodeDecodeError as exc:
            yield row + 1, _FileError((), _not_utf8(exc))
            return
        except csv.Error as exc:
            yield row + 1, _FileError((), f"not valid CSV: {exc}")
            return
        if values is None:
            return
        if not values:
            continue  # a blank line
        row += 1
        if len(values) != width:
            yield row, _FileError((), f"has {len(values)} fields; the header has {width}")
            continue
        yield row, dict(zip(names, values, strict=True))


def _json_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's JSON value with its row number, or the `_FileError` that says why
    the line is not JSON (deep nesting included); the body without a line break at all is
    refused whole (`NO_LINE_BREAK`). The one reader of JSON Lines, whatever the lines hold."""
    text = _text(chunks)
    row = 0
    while True:
        try:
            line = next(text, None)
        except UnicodeDecodeError as exc:
            yield row + 1, _FileError((), _not_utf8(exc))
            return
        if line is None:
            return
        if not line.strip():
            continue
        row += 1
        value: Any
        try:
            value = json.loads(line)
        except RecursionError:
            value = _FileError((), "not a JSON object a certificate can be: nested too deeply")
        except ValueError as exc:
            if row == 1 and not line.endswith(("\n", "\r")) and "Extra data" in str(exc):
                raise InvalidInput([FieldError(("body",), NO_LINE_BREAK)], NO_LINE_BREAK) from None
            value = _FileError((), f"not a JSON object: {exc}")
        yield row, value


def _jsonl_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | _FileError]]:
    for row, value in _json_lines(chunks):
        if isinstance(value, _FileError):
            yield row, value
            continue
        if not isinstance(value, dict):
            yield row, _FileError((), "not a JSON object")
            continue
        unknown = sorted(set(value) - set(COLUMNS))
        missing = sorted(REQUIRED_COLUMNS - set(value))
        if unknown or missing:
            problems = [f"unknown field {_shown(u)}" for u in unknown[:10]]
            if len(unknown) > 10:
                problems.append(f"and {len(unknown) - 10} more unknown fields")
            problems += [f"required field {m!r} is missing" for m in missing]
            yield row, _FileError((), "; ".join(problems))
            continue
        yield row, value


def _dcc_rows(
    chunks: Iterable[bytes], default_economy: str | None
) -> Iterator[tuple[int, dict[str, Any] | _FileError]]:
    """Each line's credential as the JSON Lines record it maps to (`untp_dcc.record_of`)."""
    for row, value in _json_lines(chunks):
        if isinstance(value, _FileError):
            yield row, value
            continue
        try:
            yield row, untp_dcc.record_of(value, default_economy)
        except untp_dcc.DccError as exc:
            yield row, _FileError((), f"not a UNTP DCC this registry reads: {exc}")


# One row to a certificate


@dataclass(slots=True)
class _Row:
    """Field conversion of one row, collecting errors as (loc, message)."""

    values: dict[str, Any]
    csv: bool
    errors: list[tuple[tuple[str | int, ...], str]] = dataclasses.field(default_factory=list)

    def fail(self, name: str | tuple[str | int, ...], message: str) -> None:
        self.errors.append(((name,) if isinstance(name, str) else name, message))

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        if self.csv and isinstance(value, str):
            value = restore_cell(value)
            if value == "":
                return None
        return value

    def text(
        self,
        name: str,
        *,
        pattern: re.Pattern[str] | None = None,
        max_length: int = 300,
        strip: bool = False,
        required: bool = False,
        what: str = "",
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        if strip:
            value = value.strip()
            if not value:
                if required:
                    self.fail(name, "must not be blank")
                return None
        if len(value) > max_length:
            self.fail(name, f"is longer than {max_length} characters")
            return None
        if "\x00" in value:
            self.fail(name, "must not contain NUL (\\u0000) characters")
            return None
        if pattern is not None and not pattern.match(value):
            self.fail(name, f"{value!r} is not {what}")
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        day = iso_day(value)
        if day is not None:
            return day
        self.fail(name, f"{_shown(value)} is not a date (YYYY-MM-DD)")
        return None

    def codes(self, name: str, max_items: int) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if self.csv and isinstance(value, str):
            items: list[Any] = [v.strip() for v in value.split(";") if v.strip()]
        elif isinstance(value, list):
            items = value
        else:
            self.fail(name, "must be a list of strings")
            return ()
        if not all(isinstance(v, str) for v in items):
            self.fail(name, "must be a list of strings")
            return ()
        if len(items) > max_items:
            self.fail(name, f"has more than {max_items} items")
            return ()
        return tuple(items)

    def status(self, name: str | tuple[str | int, ...], value: Any) -> str | None:
        if value not in _STATUSES:
            self.fail(name, f"{_shown(value)} is not one of {', '.join(sorted(_STATUSES))}")
            return None
        return str(value)

    def events(self) -> tuple[StatusEvent, ...] | None:
        value = self.raw("status_events")
        if value is None:
            return None
        if self.csv and isinstance(value, str):
            try:
                value = json.loads(value)
            except RecursionError:
                self.fail("status_events", "is nested too deeply to be a list of status events")
                return None
            except ValueError:
                self.fail("status_events", "must be a JSON list of status events")
                return None
        if not isinstance(value, list) or not value:
            self.fail("status_events", "must be a non-empty list of status events")
            return None
        events: list[StatusEvent] = []
        for i, item in enumerate(value):
            loc = ("status_events", i)
            if not isinstance(item, dict) or set(item) - {"status", "effective_date", "reason"}:
                self.fail(loc, "must be an object with status, effective_date and reason")
                continue
            status = self.status(loc, item.get("status"))
            day = item.get("effective_date")
            date = iso_day(day)
            if date is None:
                self.fail(loc, f"effective_date {_shown(day)} is not a date (YYYY-MM-DD)")
            reason = item.get("reason")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
                self.fail(loc, "reason must be 1 to 2000 characters")
                reason = None
            elif "\x00" in reason:
                self.fail(loc, "reason must not contain NUL (\\u0000) characters")
                reason = None
            if status is not None and date is not None and reason is not None:
                events.append(StatusEvent(status, date, reason.strip()))
        return tuple(events)


def _convert(
    scheme_id: str, values: dict[str, Any], is_csv: bool
) -> tuple[Certificate | None, StatusEvent | None, tuple[StatusEvent, ...] | None, _Row]:
    r = _Row(values, is_csv)
    number = r.text("number", max_length=100, required=True)
    if number is not None and not is_certificate_number(number):
        r.fail("number", f"{number!r} is not a certificate number: {CERTIFICATE_NUMBER_RULE}")
        number = None
    category = r.text(
        "category_code", pattern=_CODE, max_length=64, required=True, what="a category code"
    )
    holder = r.text("holder_name", strip=True, required=True)
    economy = r.text(
        "holder_economy", pattern=_ECONOMY, max_length=10, required=True, what="an economy code"
    )
    product = r.text("product_name", strip=True, required=True)
    brand = r.text("brand", max_length=200)
    model = r.text("model", max_length=200)
    gtins = r.codes("gtins", 1000)
    hs_codes = r.codes("hs_codes", 100)
    body = r.text("certification_body_id", pattern=_SLUG, max_length=64, what="a body id")
    valid_from = r.date("valid_from", required=True)
    valid_to = r.date("valid_to", required=True)
    status_value = r.raw("status")
    status: StatusEvent | None = None
    status_date = r.date("status_effective_date")
    status_reason = r.text("status_reason", strip=True, max_length=2000)
    if status_value is not None:
        name = r.status("status", status_value)
        if status_date is None and "status_effective_date" not in {e[0][0] for e in r.errors}:
            r.fail("status_effective_date", "is required with status")
        if name is not None and status_date is not None:
            status = StatusEvent(name, status_date, status_reason or STATUS_REASON)
    elif status_date is not None or status_reason is not None:
        r.fail("status", "is required with status_effective_date or status_reason")
    history = r.events()
    if history is not None and status is not None:
        latest = _latest(history)
        if latest is not None and (latest.status, latest.effective_date) != (
            status.status,
            status.effective_date,
        ):
            r.fail(
                "status",
                f"{status.status} on {status.effective_date} is not the latest event of "
                f"status_events ({latest.status} on {latest.effective_date})",
            )
    if r.errors:
        return None, None, None, r
    assert number is not None
    assert category is not None
    assert holder is not None
    assert economy is not None
    assert product is not None
    assert valid_from is not None
    assert valid_to is not None
    certificate = Certificate(
        scheme_id=scheme_id,
        number=number,
        category_code=category,
        holder_name=holder,
        holder_economy=economy,
        product_name=product,
        valid_from=valid_from,
        valid_to=valid_to,
        brand=brand,
        model=model,
        gtins=normal_gtins(gtins),
        hs_codes=hs_codes,
        certification_body_id=body,
    )
    return certificate, status, history, r


def _latest(events: Sequence[StatusEvent]) -> StatusEvent | None:
    """The event that decides the status from its date on: the latest effective, last recorded."""
    latest: StatusEvent | None = None
    for e in events:
        if latest is None or e.effective_date >= latest.effective_date:
            latest = e
    return latest


def _same_event(a: StatusEvent, b: StatusEvent) -> bool:
    return (str(a.status), a.effective_date, a.reason) == (
        str(b.status),
        b.effective_date,
        b.reason,
    )


def _append(
    number: str, history: Sequence[StatusEvent], new: Sequence[StatusEvent]
) -> tuple[list[StatusEvent], str | None]:
    """Check each new event against the history before it; the events, or an error."""
    done = list(history)
    for event in new:
        try:
            check_status_event(number, done, event)
        except (Conflict, InvalidInput) as exc:
            return [], exc.detail
        done.append(event)
    return done[len(history) :], None


# Cached look-ups: the validation of a single create, without a query per row


class _MemoEconomies:
    def __init__(self, inner: EconomyRepository) -> None:
        self._inner = inner
        self._kinds: dict[str, EconomyKind | None] = {}

    def get(self, code: str) -> Economy | None:
        return self._inner.get(code)

    def kinds(self, codes: Iterable[str]) -> dict[str, EconomyKind]:
        out: dict[str, EconomyKind] = {}
        for code in codes:
            if code not in self._kinds:
                self._kinds[code] = self._inner.kinds([code]).get(code)
            kind = self._kinds[code]
            if kind is not None:
                out[code] = kind
        return out

    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> list[Economy]:
        return self._inner.find(after, limit, kind)

    def groups(self) -> list[Economy]:
        return self._inner.groups()

    def save_group(self, group: Economy, expected_version: int | None) -> Economy:
        return self._inner.save_group(group, expected_version)


class _MemoCategories:
    def __init__(self, inner: CategoryRepository) -> None:
        self._inner = inner
        self._seen: dict[tuple[str, str], ProductCategory | None] = {}

    def get(self, scheme_id: str, code: str) -> ProductCategory | None:
        key = (scheme_id, code)
        if key not in self._seen:
            self._seen[key] = self._inner.get(scheme_id, code)
        return self._seen[key]

    def find(self, scheme_id: str, after: str | None, limit: int) -> list[ProductCategory]:
        return self._inner.find(scheme_id, after, limit)

    def covering(self, hs_code: str) -> list[ProductCategory]:
        return self._inner.covering(hs_code)

    def add(self, category: ProductCategory) -> ProductCategory:
        return self._inner.add(category)

    def update(self, category: ProductCategory) -> ProductCategory:
        return self._inner.update(category)


class _MemoBodies:
    def __init__(self, inner: BodyRepository) -> None:
        self._inner = inner
        self._seen: dict[str, CertificationBody | None] = {}

    def get(self, body_id: str) -> CertificationBody | None:
        if body_id not in self._seen:
            self._seen[body_id] = self._inner.get(body_id)
        return self._seen[body_id]

    def find(self, after: str | None, limit: int, scheme_id: str | None) -> list[CertificationBody]:
        return self._inner.find(after, limit, scheme_id)

    def add(self, body: CertificationBody) -> CertificationBody:
        return self._inner.add(body)

    def update(self, body: CertificationBody) -> CertificationBody:
        return self._inner.update(body)


class _MemoRegistry:
    """The registry with categories, economies and bodies looked up once per import."""

    def __init__(self, inner: Registry) -> None:
        self._inner = inner
        self._economies = _MemoEconomies(inner.economies)
        self._categories = _MemoCategories(inner.categories)
        self._bodies = _MemoBodies(inner.bodies)

    @property
    def economies(self) -> EconomyRepository:
        return self._economies

    @property
    def schemes(self) -> SchemeRepository:
        return self._inner.schemes

    @property
    def categories(self) -> CategoryRepository:
        return self._categories

    @property
    def bodies(self) -> BodyRepository:
        return self._bodies

    @property
    def certificates(self) -> CertificateRepository:
        return self._inner.certificates

    @property
    def agreements(self) -> AgreementRepository:
        return self._inner.agreements

    @property
    def audit(self) -> AuditLog:
        return self._inner.audit

    def changed(self, entity_type: str, entity_id: str, facts: ChangeFacts | None = None) -> None:
        self._inner.changed(entity_type, entity_id, facts)


# The service


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
        scheme = self._r.schemes.get(scheme_id)
        if scheme is None:
            raise NotFound(f"no scheme {scheme_id!r}")
        return scheme

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
        checker = CertificateService(_MemoRegistry(self._r))
        errors = _Errors()
        bulk = self._bulk
        phase = on_phase or (lambda _: None)
        phase("reading")
        bulk.open(scheme_id)
        try:
            rows = self._stage(actor, scheme_id, checker, errors, fmt, chunks, on_row)
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
        actor: Actor,
        scheme_id: str,
        checker: CertificateService,
        errors: _Errors,
        fmt: ImportFormat,
        chunks: Iterable[bytes],
        on_row: Callable[[int], None] | None,
    ) -> int:
        own_body = actor.certification_body_id if actor.role is Role.CERTIFICATION_BODY else None
        if fmt is ImportFormat.CSV and self._bulk.stages_csv:
            with _Spool(chunks) as spool:
                staged = self._stage_set_based(spool, own_body, on_row)
                if staged is not None:
                    return staged
                return self._stage_rows(
                    actor, scheme_id, checker, errors, fmt, spool.replay(), on_row, own_body
                )
        return self._stage_rows(actor, scheme_id, checker, errors, fmt, chunks, on_row, own_body)

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
        raw = io.BufferedReader(_ChunkReader(_only_crlf(chunks)), buffer_size=1 << 20)
        decoded = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(decoded, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return None
            names = [h.strip() for h in header]
            _check_columns(names)
            rows = self._bulk.stage_csv(names, filter(None, reader), own_body, on_row)
        except (UnicodeDecodeError, csv.Error, InvalidInput, _LoneCarriageReturn):
            return None
        if rows == 0:
            return None
        if rows is not None and on_row is not None:
            on_row(rows)
        return rows

    def _stage_rows(
        self,
        actor: Actor,
        scheme_id: str,
        checker: CertificateService,
        errors: _Errors,
        fmt: ImportFormat,
        chunks: Iterable[bytes],
        on_row: Callable[[int], None] | None,
        own_body: str | None,
    ) -> int:
        reader: Callable[[Iterable[bytes]], Iterator[tuple[int, dict[str, Any] | _FileError]]]
        reader = _csv_rows if fmt is ImportFormat.CSV else _jsonl_rows
        if fmt is ImportFormat.UNTP_DCC:
            reader = functools.partial(_dcc_rows, default_economy=self._home_economy(scheme_id))
        is_csv = fmt is ImportFormat.CSV
        batch: list[StagedCertificate] = []
        rows = 0
        for row, values in reader(chunks):
            rows = row
            if isinstance(values, _FileError):
                errors.add(row, values.loc, values.message)
                continue
            staged = self._row(actor, scheme_id, checker, errors, row, values, is_csv, own_body)
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

    def _row(
        self,
        actor: Actor,
        scheme_id: str,
        checker: CertificateService,
        errors: _Errors,
        row: int,
        values: dict[str, Any],
        is_csv: bool,
        own_body: str | None,
    ) -> StagedCertificate | None:
        certificate, status, history, parsed = _convert(scheme_id, values, is_csv)
        if certificate is None:
            for where, message in parsed.errors:
                errors.add(row, where, message)
            return None
        if own_body is not None and certificate.certification_body_id is None:
            certificate = dataclasses.replace(certificate, certification_body_id=own_body)
        try:
            body = checker.check(certificate)
        except InvalidInput as exc:
            errors.add_domain(row, exc)
            return None
        try:
            require_issuing_body(actor, body, scheme_id, certificate.valid_from, "import it")
        except Forbidden as exc:
            errors.forbid(row, exc.detail)
            return None
        stated: list[tuple[tuple[str | int, ...], StatusEvent]] = []
        if status is not None:
            stated.append((("status_effective_date",), status))
        stated += [(("status_events", i, "effective_date"), e) for i, e in enumerate(history or ())]
        try:
            for where, event in stated:
                check_event_starts(certificate, event, where)
        except InvalidInput as exc:
            errors.add_domain(row, exc)
            return None
        first = StatusEvent(CertificateStatus.ACTIVE.value, certificate.valid_from, FIRST_REASON)
        if history is not None:
            declared = "history"
            initial, problem = _append(certificate.number, (), history)
            loc: tuple[str | int, ...] = ("status_events",)
        elif status is not None:
            declared = "status"
            if status.status == first.status:
                same_day = status.effective_date == first.effective_date
                initial = [status if same_day else first]
                problem = None
            else:
                tail, problem = _append(certificate.number, [first], [status])
                initial = [first, *tail]
            loc = ("status",)
        else:
            declared, initial, problem, loc = "none", [first], None, ()
        if problem is not None:
            errors.add(row, loc, problem)
            return None
        return StagedCertificate(row, certificate, tuple(initial), declared, status)

    def _compare(
        self, actor: Actor, bulk: CertificateBulkStore, errors: _Errors
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
                        _same_event(a, b) for a, b in zip(known, m.declared_history, strict=False)
                    ):
                        errors.add(
                            m.row,
                            ("status_events",),
                            f"the status history of certificate {m.number} does not continue the "
                            "registry's: history is appended to, never rewritten",
                        )
                        continue
                    new, problem = _append(m.number, known, m.declared_history[len(known) :])
                elif m.declared == "status" and m.status is not None:
                    latest = _latest(m.history)
                    if latest is None or str(latest.status) != m.status.status:
                        new, problem = _append(m.number, m.history, [m.status])
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

    # Export

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
            return self._credential_lines(scheme, certificates)
        return _export_lines(certificates, fmt)

    # UNTP Digital Conformity Credentials

    def credential(self, certificate: Certificate) -> dict[str, Any]:
        """The certificate as an unsigned UNTP DCC (JSON-ready data)."""
        scheme = self.require_scheme(certificate.scheme_id)
        return self._credential(scheme, certificate, _MemoRegistry(self._r))

    def _credential(
        self, scheme: Scheme, certificate: Certificate, registry: Registry
    ) -> dict[str, Any]:
        latest = _latest(certificate.status_events)
        body_id = certificate.certification_body_id
        return untp_dcc.credential_of(
            certificate,
            scheme,
            registry.categories.get(scheme.id, certificate.category_code),
            None if body_id is None else registry.bodies.get(body_id),
            None if latest is None else str(latest.status),
        )

    def _credential_lines(
        self, scheme: Scheme, certificates: Iterator[Certificate]
    ) -> Iterator[str]:
        registry = _MemoRegistry(self._r)
        lines: list[str] = []
        for c in certificates:
            credential = self._credential(scheme, c, registry)
            lines.append(json.dumps(credential, ensure_ascii=False) + "\n")
            if len(lines) >= 500:
                yield "".join(lines)
                lines = []
        if lines:
            yield "".join(lines)

    def _home_economy(self, scheme_id: str) -> str | None:
        """The holder's economy for a credential that does not say it: the scheme's only one."""
        scheme = self.require_scheme(scheme_id)
        return scheme.home_economies[0] if len(scheme.home_economies) == 1 else None


def _event_json(e: StatusEvent) -> dict[str, str]:
    return {
        "status": str(e.status),
        "effective_date": e.effective_date.isoformat(),
        "reason": e.reason,
    }


def _export_record(c: Certificate) -> dict[str, Any]:
    latest = _latest(c.status_events)
    return {
        "number": c.number,
        "category_code": c.category_code,
        "holder_name": c.holder_name,
        "holder_economy": c.holder_economy,
        "product_name": c.product_name,
        "brand": c.brand,
        "model": c.model,
        "gtins": list(c.gtins),
        "hs_codes": list(c.hs_codes),
        "certification_body_id": c.certification_body_id,
        "valid_from": c.valid_from.isoformat(),
        "valid_to": c.valid_to.isoformat(),
        "status": None if latest is None else str(latest.status),
        "status_effective_date": None if latest is None else latest.effective_date.isoformat(),
        "status_reason": None if latest is None else latest.reason,
        "status_events": [_event_json(e) for e in c.status_events],
    }


def _export_lines(certificates: Iterator[Certificate], fmt: ImportFormat) -> Iterator[str]:
    piece = 500
    if fmt is ImportFormat.JSONL:
        lines: list[str] = []
        for c in certificates:
            lines.append(json.dumps(_export_record(c), ensure_ascii=False) + "\n")
            if len(lines) >= piece:
                yield "".join(lines)
                lines = []
        if lines:
            yield "".join(lines)
        return
    out = io.StringIO()
    # RFC 4180's CRLF line ends: the writer then also quotes a value holding a carriage
    # return (with "\n" alone it would not, and the value would not read back).
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, c in enumerate(certificates, start=1):
        record = _export_record(c)
        record["gtins"] = ";".join(c.gtins)
        record["hs_codes"] = ";".join(c.hs_codes)
        record["status_events"] = json.dumps(record["status_events"], ensure_ascii=False)
        writer.writerow(["" if record[k] is None else neutralize_cell(record[k]) for k in COLUMNS])
        if n % piece == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
