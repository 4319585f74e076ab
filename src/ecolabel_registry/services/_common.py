"""Helpers shared by the services: audit snapshots, existence checks, error collection."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    VersionRequired,
)
from ecolabel_registry.domain.validation import is_slug
from ecolabel_registry.services.changes import describe
from ecolabel_registry.services.ports.audit import AuditRecord
from ecolabel_registry.services.ports.registry import Page, Registry

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")


class Slugged(Protocol):
    """An entity keyed by a slug it is registered under (a scheme, a certification body)."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def id(self) -> str: ...


S = TypeVar("S", bound=Slugged)


class SluggedStore(Protocol[S]):
    def get(self, entity_id: str, /) -> S | None: ...
    def add(self, entity: S, /) -> S: ...


def snapshot(entity: Any) -> dict[str, Any]:
    """A JSON-ready copy of a domain object, for the audit trail."""

    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return snapshot(value)
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple | frozenset | set):
            items = [convert(v) for v in value]
            return sorted(items, key=str) if isinstance(value, frozenset | set) else items
        return value

    data = {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity) if f.init}
    return {k: convert(v) for k, v in data.items()}


def id_cursor(cursor: str | None) -> int | None:
    """The row id a list's `next_cursor` names (lists in id order); None for the first page."""
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInput.single(("query", "cursor"), "not a cursor this list gave out")
    return int(cursor)


def page_of(rows: list[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """The page of `rows` read with `limit + 1`: the first `limit`, and the cursor of the
    last of them when there was one more."""
    items = rows[:limit]
    return Page(items, cursor_of(items[-1]) if len(rows) > limit else None)


def found(value: T | None, missing: str) -> T:
    """`value`, or NotFound saying `missing` when the look-up found nothing."""
    if value is None:
        raise NotFound(missing)
    return value


def raise_if(errors: list[FieldError]) -> None:
    """Raise InvalidInput when any error was collected."""
    if errors:
        raise InvalidInput(errors)


def slug_errors(entity_id: str) -> list[FieldError]:
    """The errors of a new entity's id so far: none, or that it is not a slug."""
    if is_slug(entity_id):
        return []
    return [FieldError(("body", "id"), "must be a lower-case slug (a-z, 0-9, '-')")]


def valid(entity: T, check: Callable[[T, list[FieldError]], None]) -> T:
    """`entity`, or InvalidInput with every error `check` collects."""
    errors: list[FieldError] = []
    check(entity, errors)
    raise_if(errors)
    return entity


def require_version(expected_version: int | None, what: str) -> int:
    """The If-Match version of an update, or VersionRequired."""
    if expected_version is None:
        raise VersionRequired(f"updating {what} needs If-Match with its current ETag")
    return expected_version


def revised(
    current: D,
    changes: Mapping[str, Any],
    updatable: frozenset[str],
    expected_version: int | None,
    what: str,
) -> D:
    """`current` with the `updatable` fields of `changes` and the caller's If-Match version
    (VersionRequired without it); the other fields of `changes` are ignored."""
    version = require_version(expected_version, what)
    fields = {k: v for k, v in changes.items() if k in updatable}
    return dataclasses.replace(current, **fields, version=version)


def registered(
    registry: Registry,
    actor: Actor,
    store: SluggedStore[S],
    entity: S,
    check: Callable[[S, list[FieldError]], None],
    entity_type: str,
) -> S:
    """`entity` registered under its new slug, with its audit: InvalidInput with every error
    (the slug's and `check`'s), Conflict when the slug is taken."""
    errors = slug_errors(entity.id)
    check(entity, errors)
    raise_if(errors)
    if store.get(entity.id) is not None:
        raise Conflict(f"{entity_type.replace('_', ' ')} {entity.id!r} already exists")
    saved = store.add(dataclasses.replace(entity, version=1))
    audit(registry, actor, f"{entity_type}.create", entity_type, saved.id, None, saved)
    return saved


def audit(
    registry: Registry,
    actor: Actor,
    operation: str,
    entity_type: str,
    entity_id: str,
    before: Any | None,
    after: Any | None,
    *,
    changes: bool = True,
    parent: Any | None = None,
) -> None:
    """Record a write in the audit trail, in the same transaction as the write.

    The write's transaction has its registry revision (taken at its first write), and the
    entity goes in the change log under it (`changes=False`: the caller logged the entities
    it changed itself), from which every process reloads only the cached facts that changed
    (ADR 0006), with what the public change feed says of the change (ADR 0009,
    `changes.describe`; `parent`: a status event's certificate, a scope entry's agreement
    id).
    """
    if changes:
        facts = describe(operation, entity_type, entity_id, before, after, parent)
        registry.changed(entity_type, entity_id, facts)
    registry.audit.record(audit_record(actor, operation, entity_type, entity_id, before, after))


def audit_record(
    actor: Actor,
    operation: str,
    entity_type: str,
    entity_id: str,
    before: Any | None,
    after: Any | None,
) -> AuditRecord:
    """The trail's record of `actor`'s write: `before` and `after` (domain objects, None where
    the entity did not exist) kept as snapshots."""
    return AuditRecord(
        actor_key_id=actor.key_id,
        actor_name=actor.name,
        operation=operation,
        entity_type=entity_type,
        entity_id=entity_id,
        before=None if before is None else snapshot(before),
        after=None if after is None else snapshot(after),
    )


def require_scheme_exists(registry: Registry, scheme_id: str) -> None:
    """NotFound unless the scheme exists."""
    if registry.schemes.get(scheme_id) is None:
        raise NotFound(f"no scheme {scheme_id!r}")
