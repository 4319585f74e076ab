"""`certificate.status_changes`: a certificate's status history, as the resolver reads it.

The column holds `[[status, effective_date], ...]` as JSON text, in the order the events were
recorded (their ids): a copy of `certificate_status_event` without the record keeping, kept
on the certificate's own row so that a batch reads each certificate with one index lookup
instead of two. Every write of status events rewrites it in the same transaction: the
repository's single writes and the bulk import's set-based ones, with the SQL here.
"""

from __future__ import annotations

import datetime as dt
import json

from ecolabel_registry.domain.model import StatusChange

EMPTY = "[]"


def parse(text: str) -> tuple[StatusChange, ...]:
    """The status changes held in a certificate's `status_changes` column, in recording order."""
    return tuple(StatusChange(s, dt.date.fromisoformat(day)) for s, day in json.loads(text))


def aggregate(postgres: bool, certificate_id: str) -> str:
    """A scalar SQL expression: the status changes of the certificate `certificate_id`
    (an SQL expression) from its events, `[]` when it has none."""
    if postgres:
        return (
            "COALESCE((SELECT json_agg(json_build_array(e.status, e.effective_date) "
            "ORDER BY e.id)::text FROM certificate_status_event e "
            f"WHERE e.certificate_id = {certificate_id}), '[]')"
        )
    # SQLite before 3.44 has no ORDER BY in an aggregate: an ordered subquery feeds it (an
    # aggregate over a subquery with ORDER BY is never flattened, so the order holds).
    return (
        "COALESCE((SELECT json_group_array(json_array(o.status, o.effective_date)) FROM "
        "(SELECT status, effective_date FROM certificate_status_event "
        f"WHERE certificate_id = {certificate_id} ORDER BY id) o), '[]')"
    )


def refresh(postgres: bool, where: str) -> str:
    """An UPDATE that rewrites `status_changes` of the certificates matching `where`."""
    return (
        f"UPDATE certificate SET status_changes = {aggregate(postgres, 'certificate.id')} "
        f"WHERE {where}"
    )
