"""What every repository shares: versioned writes (insert, optimistic version check, read
back), the write lock, status events, and the mapping of rows to domain objects and back."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecolabel_registry.domain.errors import Conflict, StaleVersion
from ecolabel_registry.domain.model import StatusEvent
from ecolabel_registry.persistence import revisions

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def from_row(cls: type[D], row: Any, **given: Any) -> D:
    """A `cls` (a domain dataclass) read from `row` (an ORM row, a Core row, anything with
    attributes): `given` are the fields that are converted or come from other rows, every
    other field is the row's column of the same name."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return cls(**{n: getattr(row, n) for n in names if n not in given}, **given)


def columns(item: Any, names: Iterable[str], **converted: Any) -> dict[str, Any]:
    """The column values a write of `item` sets: for each of `names` the attribute of the
    same name, and `converted`, the columns stored in another form (`from_row` reversed)."""
    return {**{n: getattr(item, n) for n in names}, **converted}


def flush_new(session: Session, what: str) -> None:
    """Flush new rows; Conflict when one collides with a stored one."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{what} already exists or collides with existing data") from exc


def bump_version(
    session: Session,
    table: Any,
    key: ColumnElement[bool],
    version: int,
    what: str,
    values: Mapping[str, Any],
) -> None:
    """Update one row only if it is still at `version`; StaleVersion otherwise."""
    result = session.execute(
        update(table)
        .where(key, table.version == version)
        .values(**values, version=table.version + 1, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"{what} has changed since version {version}; read it again and retry")


def hold_write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock now, for the rest of the transaction.

    A write that reads, checks and then writes must hold the lock before it reads: SQLite
    has one writer at a time and no row locks, and in WAL mode a transaction that has read
    cannot become a writer once another has committed (`SQLITE_BUSY_SNAPSHOT`). Outside a
    transaction this is `BEGIN IMMEDIATE`, which waits for another writer up to the busy
    timeout; inside one (after earlier writes, or in the test suite's outer transaction) an
    empty UPDATE takes the lock, or fails at once if the transaction's reads are stale. The
    failure, "database is locked", is answered as a conflict. PostgreSQL locks rows instead
    (`locked`); this does nothing there.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("UPDATE registry_revision SET revision = revision WHERE 0")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def locked(session: Session, query: Any) -> Any:
    """`query` (one row) read under the write lock: `FOR NO KEY UPDATE` on PostgreSQL (other
    writers of the row wait until this transaction ends; readers and foreign keys to the row
    do not), the database's write lock on SQLite.

    The transaction's revision is taken between the two (after SQLite's write lock, before
    PostgreSQL's row lock): see `revisions` on lock order.
    """
    hold_write_lock(session)
    revisions.recorded(session)
    return session.execute(query.with_for_update(key_share=True)).scalar_one_or_none()


def event_from_row(row: Any) -> StatusEvent:
    """A status event from its row (certificate, agreement or party events)."""
    return from_row(StatusEvent, row, id=str(row.id))


def insert_event(session: Session, table: Any, event: StatusEvent, **owner: Any) -> StatusEvent:
    """Append `event` to the history of its owner (`owner`: the row's key columns, e.g. a
    certificate id) in `table`; the event as stored, with its id and recording time."""
    row = table(
        **owner,
        status=str(event.status),
        effective_date=event.effective_date,
        reason=event.reason,
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return event_from_row(row)


def ordered_events(rows: Iterable[Any]) -> tuple[StatusEvent, ...]:
    return tuple(event_from_row(r) for r in sorted(rows, key=lambda r: r.id))


Q = TypeVar("Q", bound=Select[Any])


def page(query: Q, key: Any, after: Any | None, limit: int) -> Q:
    """One page of `query`: at most `limit` rows in the order of `key`, from the row after the
    cursor `after` on (from the first for None)."""
    query = query.order_by(key).limit(limit)
    return query if after is None else query.where(key > after)


def by_owner(
    session: Session, owner: Any, owners: Collection[Any], value: Any, *order: Any
) -> defaultdict[Any, list[Any]]:
    """`value` (a row class or a column) of the child rows whose `owner` column is one of
    `owners`, listed per owner in the order `order`; no query when `owners` is empty."""
    found: defaultdict[Any, list[Any]] = defaultdict(list)
    if owners:
        query = select(owner, value).where(owner.in_(owners)).order_by(*order)
        for key, item in session.execute(query):
            found[key].append(item)
    return found


def event_page(
    session: Session, table: Any, query: Select[Any], after: int | None, limit: int
) -> list[StatusEvent]:
    """One page of status events: `query` (rows of `table` narrowed to one owner) in recording
    order, from the event after the cursor `after` on, at most `limit`."""
    query = page(query, table.id, after, limit)
    return [event_from_row(r) for r in session.execute(query).scalars()]


def where_equal(query: Q, *conditions: tuple[Any, Any]) -> Q:
    """`query` narrowed to `column == value` for each (column, value) whose value is given
    (None: that column is not filtered)."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


class VersionedRepository(ABC, Generic[V]):
    """An aggregate stored as a root row that carries its version, and child rows rewritten
    with it: inserted at version 1, updated only at the version the writer read, then read
    back as stored."""

    def __init__(self, session: Session) -> None:
        self._s = session

    @abstractmethod
    def _to_domain(self, rows: Sequence[Any]) -> list[V]:
        """The aggregates of root rows, with their child rows."""

    @abstractmethod
    def _fields(self, item: V) -> dict[str, Any]:
        """The root row's columns a write sets (not its key)."""

    def _children(self, item: V) -> None:
        """Rewrite the rows the aggregate owns besides its root (none by default)."""

    @abstractmethod
    def _reload(self, item: V) -> V:
        """`item` as stored now."""

    def _by_key(self, table: Any, key: Any) -> V | None:
        row = self._s.get(table, key)
        return None if row is None else self._to_domain([row])[0]

    def _insert(self, row: Any, item: V, what: str) -> V:
        self._s.add(row)
        flush_new(self._s, what)
        self._children(item)
        return self._reload(item)

    def _update(self, table: Any, key: ColumnElement[bool], item: V, what: str) -> V:
        bump_version(self._s, table, key, item.version, what, self._fields(item))
        self._children(item)
        self._s.expire_all()
        return self._reload(item)


def stored(found: V | None) -> V:
    """What a read-back found (a row this transaction has just written is there)."""
    if found is None:
        raise RuntimeError("a row written in this transaction could not be read back")
    return found
