"""The bulk store's staging tables, the SQL that differs by engine, and its row conversions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import Row

from ecolabel_registry.domain.model import (
    CERTIFICATE_FIELDS,
    CERTIFICATE_TERMS_CHANGEABLE,
    StatusEvent,
)
from ecolabel_registry.services.ports.imports import ExistingMatch, StagedCertificate

STAGING_COLUMNS = (
    "row_no",
    "new_id",
    *CERTIFICATE_FIELDS,
    "first_status",
    "first_date",
    "first_reason",
    "extra_events",
    "declared",
    "status",
    "status_date",
    "status_reason",
)

STAGING_DDL = """
CREATE TEMPORARY TABLE import_certificate (
    row_no BIGINT NOT NULL,
    new_id BIGINT NOT NULL,
    number TEXT NOT NULL,
    category_code TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    holder_economy TEXT NOT NULL,
    product_name TEXT NOT NULL,
    brand TEXT,
    model TEXT,
    gtins TEXT NOT NULL,
    hs_codes TEXT NOT NULL,
    certification_body_id TEXT,
    valid_from DATE NOT NULL,
    valid_to DATE NOT NULL,
    first_status TEXT NOT NULL,
    first_date DATE NOT NULL,
    first_reason TEXT NOT NULL,
    extra_events TEXT,
    declared TEXT NOT NULL,
    status TEXT,
    status_date DATE,
    status_reason TEXT
){suffix}
"""

EVENT_DDL = """
CREATE TEMPORARY TABLE import_event (
    seq BIGINT NOT NULL,
    certificate_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    effective_date DATE NOT NULL,
    reason TEXT NOT NULL
){suffix}
"""

FIELDS = CERTIFICATE_TERMS_CHANGEABLE


def codes_json(codes: tuple[str, ...]) -> str:
    # The codes are digits only (validated), so this is exactly json.dumps(list(codes)).
    return '["' + '", "'.join(codes) + '"]' if codes else "[]"


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class Dialect:
    """The SQL that differs between PostgreSQL and SQLite."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def json(self, expr: str) -> str:
        return f"CAST({expr} AS json)" if self.postgres else expr

    def same_json(self, a: str, b: str) -> str:
        if self.postgres:
            return f"CAST({a} AS jsonb) = CAST({b} AS jsonb)"
        return f"json({a}) = json({b})"

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.postgres else f"{a} IS NOT {b}"

    def elements(self, expr: str, alias: str) -> str:
        """A FROM item with the elements of a JSON array as text column `value`."""
        if self.postgres:
            return f"json_array_elements_text(CAST({expr} AS json)) AS {alias}(value)"
        return f"json_each({expr}) AS {alias}"

    def objects(self, expr: str, alias: str) -> tuple[str, str, str, str, str]:
        """FROM item, status, effective_date, reason and position of a JSON list of events."""
        if self.postgres:
            return (
                f"json_array_elements(CAST({expr} AS json)) WITH ORDINALITY AS {alias}(value, ord)",
                f"{alias}.value->>'status'",
                f"CAST({alias}.value->>'effective_date' AS date)",
                f"{alias}.value->>'reason'",
                f"{alias}.ord",
            )
        return (
            f"json_each({expr}) AS {alias}",
            f"json_extract({alias}.value, '$.status')",
            f"json_extract({alias}.value, '$.effective_date')",
            f"json_extract({alias}.value, '$.reason')",
            f"{alias}.key",
        )

    @property
    def true(self) -> str:
        return "TRUE" if self.postgres else "1"


def import_lock_key(scheme_id: str) -> int:
    """The PostgreSQL advisory lock key of one scheme's imports (a signed 64-bit integer)."""
    digest = hashlib.blake2b(f"certificate-import:{scheme_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def json_object(d: Dialect, members: dict[str, str]) -> str:
    """A JSON object of SQL expressions (json on PostgreSQL, JSON text on SQLite)."""
    pairs = ", ".join(f"'{k}', {v}" for k, v in members.items())
    return f"json_build_object({pairs})" if d.postgres else f"json_object({pairs})"


def audit_fields(d: Dialect, alias: str) -> dict[str, str]:
    """A certificate's fields for its audit events, from `certificate` or a staging table."""
    fields = {"scheme_id": "CAST(:scheme AS text)", "number": f"{alias}.number"}
    for f in (*FIELDS, "certification_body_id"):
        if f in ("gtins", "hs_codes"):
            fields[f] = f"CAST({alias}.{f} AS json)" if d.postgres else f"json({alias}.{f})"
        else:
            fields[f] = f"{alias}.{f}"
    return fields


def staging_record(staged: StagedCertificate, new_id: int) -> tuple[Any, ...]:
    c = staged.certificate
    first = staged.events[0]
    extra = staged.events[1:]
    st = staged.status
    return (
        staged.row,
        new_id,
        c.number,
        c.category_code,
        c.holder_name,
        c.holder_economy,
        c.product_name,
        c.brand,
        c.model,
        codes_json(c.gtins),
        codes_json(c.hs_codes),
        c.certification_body_id,
        c.valid_from,
        c.valid_to,
        str(first.status),
        first.effective_date,
        first.reason,
        json.dumps(
            [
                {
                    "status": str(x.status),
                    "effective_date": x.effective_date.isoformat(),
                    "reason": x.reason,
                }
                for x in extra
            ]
        )
        if extra
        else None,
        staged.declared,
        None if st is None else str(st.status),
        None if st is None else st.effective_date,
        None if st is None else st.reason,
    )


def sqlite_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def existing_match(r: Row[Any], history: tuple[StatusEvent, ...]) -> ExistingMatch:
    (
        row_no,
        certificate_id,
        number,
        body_id,
        current_body_id,
        changed,
        declared,
        first_status,
        first_date,
        first_reason,
        extra_events,
        status,
        status_date,
        status_reason,
    ) = r
    declared_history: tuple[StatusEvent, ...] = ()
    if declared == "history":
        extra = json.loads(extra_events) if extra_events else []
        declared_history = (
            StatusEvent(first_status, as_date(first_date), first_reason),
            *(StatusEvent(x["status"], as_date(x["effective_date"]), x["reason"]) for x in extra),
        )
    return ExistingMatch(
        row=int(row_no),
        certificate_id=int(certificate_id),
        number=number,
        certification_body_id=body_id,
        current_body_id=current_body_id,
        fields_changed=bool(changed),
        history=history,
        declared=declared,
        declared_history=declared_history,
        status=None
        if status is None
        else StatusEvent(status, as_date(status_date), status_reason or ""),
    )
