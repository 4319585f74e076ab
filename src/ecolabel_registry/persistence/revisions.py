"""Registry revisions: one per recorded write transaction, with its recording instant.

Every write transaction that records a change takes exactly one revision, at its first
write: `recorded(session)` increments the counter (`registry_revision`, whose row then stays
locked until the transaction ends, so revisions commit in their order) and logs the revision
with its recording instant (`registry_revision_log`): the current time, or one microsecond
after the previous revision's instant when the clock is behind it, so instants strictly
increase with revisions. Every later call in the same transaction returns the same
`Recorded`; the next transaction takes a new one.

`changed(session, entity_type, entity_id)` adds the entity to the change log
(`registry_change`), once per transaction. Before the transaction commits, the new versions
of the resolver's facts it changed are written (`versions.record`, ADR 0007); the first
revision taken after migration 0008 also writes the baseline versions
(`versions.ensure_baseline`).

Lock order: a writer takes its revision before any row lock or row write of its own (the
repositories' writes through a registry session do this by themselves, see `watch`), so on
PostgreSQL no writer ever holds a row lock while waiting for the counter, and the counter
cannot deadlock with row locks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from ecolabel_registry.persistence.changes import change_columns
from ecolabel_registry.persistence.tables import (
    RegistryChangeRow,
    RegistryRevisionLogRow,
    RegistryRevisionRow,
)

_RECORDED = "registry.recorded"
_CHANGED = "registry.changed"
_WATCHED = "registry.watched"
_TAKING = "registry.taking"
TICK = dt.timedelta(microseconds=1)

if TYPE_CHECKING:
    from ecolabel_registry.services.ports.changes import ChangeFacts


@dataclass(frozen=True, slots=True)
class Recorded:
    """The revision a write transaction records, and its recording instant (UTC)."""

    revision: int
    at: dt.datetime


def utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC instant (SQLite hands back the naive UTC it was given)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def recorded(session: Session) -> Recorded:
    """The revision of the session's transaction, taken now when it has none yet.

    Call before the transaction's first row lock or row write (see the module's docstring).
    """
    taken: Recorded | None = session.info.get(_RECORDED)
    if taken is not None:
        return taken
    session.info[_TAKING] = True
    try:
        taken = _take(session)
    finally:
        session.info.pop(_TAKING, None)
    session.info[_RECORDED] = taken
    return taken


def _take(session: Session) -> Recorded:
    with session.no_autoflush:
        revision = session.execute(
            update(RegistryRevisionRow)
            .where(RegistryRevisionRow.id == 1)
            .values(revision=RegistryRevisionRow.revision + 1)
            .returning(RegistryRevisionRow.revision)
        ).scalar_one()
        previous = session.execute(
            select(RegistryRevisionLogRow.recorded_at).where(
                RegistryRevisionLogRow.revision == revision - 1
            )
        ).scalar_one_or_none()
        at = dt.datetime.now(dt.UTC)
        if previous is not None:
            at = max(at, utc(previous) + TICK)
        session.execute(insert(RegistryRevisionLogRow).values(revision=revision, recorded_at=at))
        from ecolabel_registry.persistence import versions  # (a cycle at import time)

        versions.ensure_baseline(session)
    return Recorded(int(revision), at)


def changed(
    session: Session, entity_type: str, entity_id: str, facts: ChangeFacts | None = None
) -> Recorded:
    """Log that this transaction changed the entity (once a transaction); its revision.

    `facts`: what the public change feed says of the change (ADR 0009); the first write of
    an entity in a transaction gives them.
    """
    taken = recorded(session)
    logged: set[tuple[str, str]] = session.info.setdefault(_CHANGED, set())
    if (entity_type, entity_id) not in logged:
        logged.add((entity_type, entity_id))
        session.info[_TAKING] = True
        try:
            session.execute(
                insert(RegistryChangeRow).values(
                    revision=taken.revision,
                    entity_type=entity_type,
                    entity_id=entity_id,
                    **change_columns(facts),
                )
            )
        finally:
            session.info.pop(_TAKING, None)
    return taken


def watch(session: Session) -> None:
    """Make every row write of `session` take the transaction's revision first.

    Set on the session of a unit of work (`SqlRegistry`): an ORM flush with pending changes,
    or an INSERT, UPDATE or DELETE run through the session, first calls `recorded`. Reads do
    nothing. Writes made on the connection outside the session (the bulk import's raw SQL)
    call `recorded` themselves.
    """
    session.info[_WATCHED] = True


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    info = state.session.info
    if (
        info.get(_WATCHED)
        and _RECORDED not in info
        and not info.get(_TAKING)
        and (state.is_insert or state.is_update or state.is_delete)
    ):
        recorded(state.session)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    info = session.info
    if (
        info.get(_WATCHED)
        and _RECORDED not in info
        and not info.get(_TAKING)
        and (session.new or session.dirty or session.deleted)
    ):
        recorded(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """The new versions of the facts the transaction changed (`versions.record`)."""
    taken: Recorded | None = session.info.get(_RECORDED)
    logged: set[tuple[str, str]] | None = session.info.get(_CHANGED)
    if taken is None or not logged:
        return
    from ecolabel_registry.persistence import versions
    from ecolabel_registry.services.ports.equivalence import CACHED_FACTS

    facts = [(kind, key) for kind, key in logged if kind in CACHED_FACTS]
    if facts:
        session.info[_TAKING] = True
        try:
            versions.record(session, taken.revision, facts)
        finally:
            session.info.pop(_TAKING, None)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the session's own transaction ended: commit or rollback
        session.info.pop(_RECORDED, None)
        session.info.pop(_CHANGED, None)
