"""Decisions on the record: one row each, its receipt whole (see services/decisions.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ecolabel_registry.persistence.driver import run_sql
from ecolabel_registry.persistence.hot import HotReads
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
        run_sql(self._s, _INSERT, _values(decision))

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


def _values(decision: StoredDecision) -> tuple[Any, ...]:
    return (
        decision.id,
        decision.recorded_at,
        decision.api_key_id,
        decision.registry_revision,
        decision.kind,
        decision.line_count,
        decision.kid,
        decision.receipt,
    )


class DecisionStore:
    """Stores a decision from the event loop, committed when `add` returns.

    PostgreSQL: `_INSERT` alone in autocommit on the hot reads' asynchronous pool (one round
    trip, its own transaction; no thread, no session). SQLite, whose write lock may keep a
    writer waiting: in a session of its own on a worker thread, as `SqlDecisionRepository`.
    """

    def __init__(self, reads: HotReads, sessions: sessionmaker[Session]) -> None:
        self._reads = reads
        self._sessions = sessions

    async def add(self, decision: StoredDecision) -> None:
        if self._reads.asynchronous:
            sql = _INSERT.replace("?", self._reads.dialect.mark) + " RETURNING id"
            await self._reads.fetch(sql, _values(decision))
        else:
            await anyio.to_thread.run_sync(self._add_in_session, decision)

    def _add_in_session(self, decision: StoredDecision) -> None:
        with self._sessions() as session:
            SqlDecisionRepository(session).add(decision)
            session.commit()
