"""The change log read as the public feed, and the filters it and the webhooks share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.tables import (
    AgreementPartyRow,
    AgreementRow,
    RegistryChangeRow,
    RegistryRevisionLogRow,
)
from ecolabel_registry.services.ports.changes import (
    FEED_ENTITY_TYPES,
    Change,
    ChangeFacts,
    ChangeFilter,
    ChangeKind,
)

C = RegistryChangeRow
R = RegistryRevisionLogRow


def utc(value: dt.datetime) -> dt.datetime:
    """A stored instant as an aware UTC datetime (SQLite gives them back naive)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def change_columns(facts: ChangeFacts | None) -> dict[str, Any]:
    """The change log's columns that say what a change did (none: not in the feed)."""
    if facts is None:
        return {}
    return {
        "kind": facts.kind.value,
        "effective_date": facts.effective_date,
        "status": facts.status,
        "scheme_id": facts.scheme_id,
        "agreement_id": facts.agreement_id,
        "economy_code": facts.economy_code,
        "payload": dict(facts.payload),
    }


def matching(filters: ChangeFilter) -> ColumnElement[bool]:
    """The changes `filters` selects (ChangeFilter says what each filter means)."""
    clauses: list[ColumnElement[bool]] = [C.kind.is_not(None)]
    if filters.scheme is not None:
        s = filters.scheme
        parties = select(AgreementPartyRow.agreement_id).where(AgreementPartyRow.scheme_id == s)
        sides = select(AgreementRow.id).where(
            or_(AgreementRow.recognizing_scheme_id == s, AgreementRow.recognized_scheme_id == s)
        )
        clauses.append(
            or_(C.scheme_id == s, C.agreement_id.in_(parties), C.agreement_id.in_(sides))
        )
    if filters.certificate is not None:
        clauses.append(and_(C.entity_type == "certificate", C.entity_id == filters.certificate))
    if filters.agreement is not None:
        clauses.append(C.agreement_id == filters.agreement)
    if filters.economy is not None:
        e = filters.economy
        clauses.append(or_(C.economy_code == e, and_(C.entity_type == "economy", C.entity_id == e)))
    return and_(*clauses)


def to_change(row: Any) -> Change:
    return Change(
        sequence=row.id,
        recorded_at=utc(row.recorded_at),
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        facts=ChangeFacts(
            kind=ChangeKind(row.kind),
            effective_date=row.effective_date,
            status=row.status,
            scheme_id=row.scheme_id,
            agreement_id=row.agreement_id,
            economy_code=row.economy_code,
            payload=row.payload or {},
        ),
    )


FEED_COLUMNS = (
    C.id,
    R.recorded_at,
    C.entity_type,
    C.entity_id,
    C.kind,
    C.effective_date,
    C.status,
    C.scheme_id,
    C.agreement_id,
    C.economy_code,
    C.payload,
)


class SqlChangeLog:
    """The feed over the change log (`registry_change`): its rows that say what changed."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def after(self, sequence: int, filters: ChangeFilter, limit: int) -> list[Change]:
        rows = self._s.execute(
            select(*FEED_COLUMNS)
            .join(R, R.revision == C.revision)
            .where(C.id > sequence, C.entity_type.in_(FEED_ENTITY_TYPES), matching(filters))
            .order_by(C.id)
            .limit(limit)
        )
        return [to_change(r) for r in rows]

    def by_sequence(self, sequences: list[int]) -> dict[int, Change]:
        rows = self._s.execute(
            select(*FEED_COLUMNS).join(R, R.revision == C.revision).where(C.id.in_(sequences))
        )
        return {r.id: to_change(r) for r in rows}

    def last_sequence(self) -> int:
        return int(self._s.execute(select(func.coalesce(func.max(C.id), 0))).scalar_one())
