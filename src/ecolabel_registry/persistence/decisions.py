"""Decisions on the record: one row each, its receipt whole (see services/decisions.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecolabel_registry.persistence.driver import run_sql
from ecolabel_registry.persistence.tables import DecisionRow
from ecolabel_registry.services.ports.decisions import StoredDecision

_INSERT = (
    "INSERT INTO decision (id, recorded_at, api_key_id, registry_revision, kind, line_count, "
    "kid, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqlDecisionRepository:
    """Adds and reads decisions in the session's transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, decision: StoredDecision) -> None:
        # One INSERT on the session's DBAPI connection: a decision is written once and never
        # changed, so neither the ORM's unit of work nor SQLAlchemy's statement execution
        # (most of a one-question decision's time) has work to do.
        run_sql(
            self._s,
            _INSERT,
            (
                decision.id,
                decision.recorded_at,
                decision.api_key_id,
                decision.registry_revision,
                decision.kind,
                decision.line_count,
                decision.kid,
                decision.receipt,
            ),
        )

    def get(self, decision_id: str) -> StoredDecision | None:
        row = self._s.execute(
            select(DecisionRow).where(DecisionRow.id == decision_id)
        ).scalar_one_or_none()
        if row is None:
            return None
        return StoredDecision(
            id=row.id,
            # SQLite gives back the UTC instant without its zone.
            recorded_at=row.recorded_at
            if row.recorded_at.tzinfo is not None
            else row.recorded_at.replace(tzinfo=dt.UTC),
            api_key_id=row.api_key_id,
            registry_revision=row.registry_revision,
            kind="lines" if row.kind == "lines" else "question",
            line_count=row.line_count,
            kid=row.kid,
            receipt=row.receipt,
        )
