"""Export: a scheme's certificates as CSV, JSON Lines or UNTP DCC lines, a piece at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ecolabel_registry.domain.model import CERTIFICATE_FIELDS, Certificate, Scheme, StatusEvent
from ecolabel_registry.services import untp_dcc
from ecolabel_registry.services.imports.formats import ImportFormat
from ecolabel_registry.services.imports.rows import Lookups, latest_event
from ecolabel_registry.services.ports.imports import COLUMNS, neutralize_cell

PIECE = 500
"""Rows in each piece of text an export yields."""


def credential(scheme: Scheme, certificate: Certificate, lookups: Lookups) -> dict[str, Any]:
    """The certificate as an unsigned UNTP DCC (JSON-ready data)."""
    latest = latest_event(certificate.status_events)
    body_id = certificate.certification_body_id
    return untp_dcc.credential_of(
        certificate,
        scheme,
        lookups.category(scheme.id, certificate.category_code),
        None if body_id is None else lookups.body(body_id),
        None if latest is None else str(latest.status),
    )


def credential_lines(
    scheme: Scheme, certificates: Iterator[Certificate], lookups: Lookups
) -> Iterator[str]:
    """The certificates as unsigned UNTP DCCs, one a line, PIECE lines a piece."""
    return _json_lines(credential(scheme, c, lookups) for c in certificates)


def _json_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    lines: list[str] = []
    for record in records:
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        if len(lines) >= PIECE:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def _event_json(e: StatusEvent) -> dict[str, str]:
    return {
        "status": str(e.status),
        "effective_date": e.effective_date.isoformat(),
        "reason": e.reason,
    }


def _export_record(c: Certificate) -> dict[str, Any]:
    """The certificate as an export line holds it: its fields as JSON values, then its status."""
    record = {name: _json_value(getattr(c, name)) for name in CERTIFICATE_FIELDS}
    latest = latest_event(c.status_events)
    record["status"] = None if latest is None else str(latest.status)
    record["status_effective_date"] = None if latest is None else latest.effective_date.isoformat()
    record["status_reason"] = None if latest is None else latest.reason
    record["status_events"] = [_event_json(e) for e in c.status_events]
    return record


def _json_value(value: Any) -> Any:
    """A certificate field as JSON has it: a list for a tuple, ISO text for a date."""
    if isinstance(value, tuple):
        return list(value)
    return value.isoformat() if isinstance(value, dt.date) else value


def export_lines(certificates: Iterator[Certificate], fmt: ImportFormat) -> Iterator[str]:
    """The certificates as CSV (with its header) or JSON Lines, PIECE rows a piece."""
    if fmt is ImportFormat.JSONL:
        yield from _json_lines(_export_record(c) for c in certificates)
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
        if n % PIECE == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
