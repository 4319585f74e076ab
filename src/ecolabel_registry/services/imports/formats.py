"""Import file formats and streaming: media types, the header check, CSV and JSON Lines readers."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from ecolabel_registry.domain.errors import FieldError, InvalidInput
from ecolabel_registry.services import untp_dcc
from ecolabel_registry.services.ports.imports import COLUMNS, REQUIRED_COLUMNS

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

T = TypeVar("T")


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


MAX_LISTED_ERRORS = 1000
NO_LINE_BREAK = (
    "the body has no line break, so it cannot be read line by line: send the file as it is, "
    "with its line breaks (curl --data-binary @file; curl -d @file removes them)"
)


# Reading the file


class ChunkReader(io.RawIOBase):
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


def text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of the file, each decoded on its own so a bad byte is found at its line."""
    raw = io.BufferedReader(ChunkReader(chunks), buffer_size=1 << 20)
    first = True
    for line in raw:
        if first:
            line = line.removeprefix(codecs.BOM_UTF8)
            first = False
        yield line.decode("utf-8")


class Spool:
    """The chunks of a file passed through and kept (in memory, on disk past 16 MB).

    `replay()` gives the whole file again: what was kept, then whatever was not read yet.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._kept = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115

    def __enter__(self) -> Spool:
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


class LoneCarriageReturn(Exception):
    """A carriage return that does not end a line as CRLF."""


def only_crlf(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if b"\r" in chunk and chunk.count(b"\r") != chunk.count(b"\r\n"):
            raise LoneCarriageReturn
        yield chunk


class FileError(Exception):
    """The file itself is unreadable (no header, bad columns, not UTF-8): stop reading it."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def shown(value: Any) -> str:
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


def check_columns(names: Sequence[str], *, line_break: bool = True) -> None:
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
            add(name, f"unknown column {shown(name)}; {takes}")
        elif name in seen:
            add(name, f"column {shown(name)} repeats")
        seen.add(name)
    for name in sorted(REQUIRED_COLUMNS - seen):
        add(name, f"required column {name!r} is missing")
    if not count:
        return
    if not line_break:
        raise InvalidInput([FieldError(("body",), NO_LINE_BREAK)], NO_LINE_BREAK)
    listed = "; ".join(f"{str(p.loc[-1])[:40]}: {p.message.split(';')[0]}" for p in problems[:5])
    more = f"; and {count - 5} more" if count > 5 else ""
    raise _ColumnsRejected(
        problems,
        count,
        f"the header does not match the import columns ({count} errors; {takes}): {listed}{more}",
    )


def csv_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | FileError]]:
    text = text_lines(chunks)
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
    check_columns(names, line_break=line_break)
    width = len(names)
    for row, values in _numbered(reader, lambda values: not values):
        if isinstance(values, FileError):
            yield row, values
        elif len(values) != width:
            yield row, FileError((), f"has {len(values)} fields; the header has {width}")
        else:
            yield row, dict(zip(names, values, strict=True))


def _numbered(
    items: Iterator[T], blank: Callable[[T], bool]
) -> Iterator[tuple[int, T | FileError]]:
    """Each item but the blank ones with its row number (from 1); an item that cannot be read
    (not UTF-8, not valid CSV) ends the rows with the `FileError` that says why."""
    row = 0
    while True:
        try:
            item = next(items, None)
        except UnicodeDecodeError as exc:
            yield row + 1, FileError((), _not_utf8(exc))
            return
        except csv.Error as exc:
            yield row + 1, FileError((), f"not valid CSV: {exc}")
            return
        if item is None:
            return
        if blank(item):
            continue
        row += 1
        yield row, item


def json_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's JSON value with its row number, or the `FileError` that says why
    the line is not JSON (deep nesting included); the body without a line break at all is
    refused whole (`NO_LINE_BREAK`). The one reader of JSON Lines, whatever the lines hold."""
    for row, line in _numbered(text_lines(chunks), lambda line: not line.strip()):
        if isinstance(line, FileError):
            yield row, line
            return
        value: Any
        try:
            value = json.loads(line)
        except RecursionError:
            value = FileError((), "not a JSON object a certificate can be: nested too deeply")
        except ValueError as exc:
            if row == 1 and not line.endswith(("\n", "\r")) and "Extra data" in str(exc):
                raise InvalidInput([FieldError(("body",), NO_LINE_BREAK)], NO_LINE_BREAK) from None
            value = FileError((), f"not a JSON object: {exc}")
        yield row, value


def jsonl_rows(chunks: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | FileError]]:
    for row, value in json_lines(chunks):
        if isinstance(value, FileError):
            yield row, value
            continue
        if not isinstance(value, dict):
            yield row, FileError((), "not a JSON object")
            continue
        unknown = sorted(set(value) - set(COLUMNS))
        missing = sorted(REQUIRED_COLUMNS - set(value))
        if unknown or missing:
            problems = [f"unknown field {shown(u)}" for u in unknown[:10]]
            if len(unknown) > 10:
                problems.append(f"and {len(unknown) - 10} more unknown fields")
            problems += [f"required field {m!r} is missing" for m in missing]
            yield row, FileError((), "; ".join(problems))
            continue
        yield row, value


def dcc_rows(
    chunks: Iterable[bytes], default_economy: str | None
) -> Iterator[tuple[int, dict[str, Any] | FileError]]:
    """Each line's credential as the JSON Lines record it maps to (`untp_dcc.record_of`)."""
    for row, value in json_lines(chunks):
        if isinstance(value, FileError):
            yield row, value
            continue
        try:
            yield row, untp_dcc.record_of(value, default_economy)
        except untp_dcc.DccError as exc:
            yield row, FileError((), f"not a UNTP DCC this registry reads: {exc}")
