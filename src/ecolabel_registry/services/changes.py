"""The public change feed: what each audited write changed, in recording order.

Every audited write (services/_common.audit) records, in the writer's transaction, one change
per entity it changed: its type and id, what kind of change it was, the effective date and
status where one applies, and a small public payload. The import records one change per
certificate it created or changed, in bulk (persistence/bulk.py). API keys and the audit
trail's actors never appear: a change carries only what the public reads already show.

The feed is read after an opaque cursor, which stays valid forever (it names a change's
sequence number, and changes are never deleted).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ecolabel_registry.domain.errors import InvalidInput
from ecolabel_registry.domain.model import (
    Agreement,
    Certificate,
    CertificationBody,
    Economy,
    Membership,
    ProductCategory,
    Scheme,
    ScopeEntry,
    StatusEvent,
)
from ecolabel_registry.services.ports.changes import (
    FEED_ENTITY_TYPES,
    Change,
    ChangeFacts,
    ChangeFilter,
    ChangeKind,
    ChangeLog,
)


def _new_event(before: tuple[StatusEvent, ...], after: tuple[StatusEvent, ...]) -> StatusEvent:
    """The event `after` has that `before` had not (the one a write appended)."""
    known = {(e.id, e.status, e.effective_date) for e in before}
    added = [e for e in after if (e.id, e.status, e.effective_date) not in known]
    return added[-1] if added else after[-1]


def _event_facts(kind: ChangeKind, event: StatusEvent, **keys: Any) -> ChangeFacts:
    return ChangeFacts(
        kind,
        event.effective_date,
        event.status,
        payload={
            "status": event.status,
            "effective_date": event.effective_date.isoformat(),
            "reason": event.reason,
        },
        **keys,
    )


def _membership(before: Economy | None, after: Economy) -> Membership:
    known = set(before.members) if before is not None else set()
    added = [m for m in after.members if m not in known]
    return added[-1] if added else after.members[-1]


def describe(
    operation: str,
    entity_type: str,
    entity_id: str,
    before: Any | None,
    after: Any | None,
    parent: Any | None = None,
) -> ChangeFacts | None:
    """What an audited write changed, for the feed; None for writes the feed does not carry
    (API keys, and the import's summary: the import records each certificate itself).

    `parent` is what the entity belongs to where the entity alone does not say it: a status
    event's certificate, a scope entry's agreement id.
    """
    if entity_type not in FEED_ENTITY_TYPES or operation == "certificate.import":
        return None
    kind = ChangeKind.CREATED if before is None else ChangeKind.UPDATED
    if entity_type == "certificate":
        if isinstance(after, StatusEvent):
            holder = parent.holder_economy if isinstance(parent, Certificate) else None
            return _event_facts(
                ChangeKind.STATUS_EVENT,
                after,
                scheme_id=entity_id.split("/", 1)[0],
                economy_code=holder,
            )
        assert isinstance(after, Certificate)
        return ChangeFacts(
            kind,
            scheme_id=after.scheme_id,
            economy_code=after.holder_economy,
            payload={"version": after.version},
        )
    if entity_type == "agreement":
        assert isinstance(after, Agreement)
        if operation == "agreement.status_event" and isinstance(before, Agreement):
            event = _new_event(before.status_events, after.status_events)
            return _event_facts(ChangeKind.STATUS_EVENT, event, agreement_id=entity_id)
        if operation == "agreement.party_status_event" and isinstance(before, Agreement):
            old = {p.scheme_id: p.status_events for p in before.parties}
            party = next(
                (p for p in after.parties if p.status_events != old.get(p.scheme_id)),
                after.parties[0],
            )
            event = _new_event(old.get(party.scheme_id, ()), party.status_events)
            facts = _event_facts(
                ChangeKind.PARTY_STATUS, event, agreement_id=entity_id, scheme_id=party.scheme_id
            )
            return dataclasses.replace(facts, payload={**facts.payload, "party": party.scheme_id})
        return ChangeFacts(kind, agreement_id=entity_id, payload={"version": after.version})
    if entity_type == "scope_entry":
        assert isinstance(after, ScopeEntry)
        ended = before is not None
        return ChangeFacts(
            ChangeKind.SCOPE_ENTRY_ENDED if ended else ChangeKind.SCOPE_ENTRY_ADDED,
            after.valid_to if ended else after.valid_from,
            scheme_id=after.recognized_scheme_id,
            agreement_id=str(parent) if parent is not None else None,
            payload={
                "agreement_id": parent,
                "recognized_scheme_id": after.recognized_scheme_id,
                "recognizing_scheme_id": after.recognizing_scheme_id,
                "category_code": after.category_code,
                "level": after.level.value,
                "valid_from": after.valid_from.isoformat(),
                "valid_to": None if after.valid_to is None else after.valid_to.isoformat(),
            },
        )
    if entity_type == "economy":
        assert isinstance(after, Economy)
        if operation in ("economy.membership.add", "economy.membership.end"):
            adding = operation.endswith(".add")
            if adding:
                m = _membership(before, after)
            else:
                assert isinstance(before, Economy)
                m = next(x for x in after.members if x not in set(before.members))
            return ChangeFacts(
                ChangeKind.MEMBERSHIP_ADDED if adding else ChangeKind.MEMBERSHIP_ENDED,
                m.valid_from if adding else m.valid_to,
                economy_code=m.member,
                payload={
                    "group": entity_id,
                    "member": m.member,
                    "valid_from": m.valid_from.isoformat(),
                    "valid_to": None if m.valid_to is None else m.valid_to.isoformat(),
                },
            )
        return ChangeFacts(kind, economy_code=entity_id, payload={"version": after.version})
    if entity_type == "scheme":
        assert isinstance(after, Scheme)
        return ChangeFacts(kind, scheme_id=entity_id, payload={"version": after.version})
    if entity_type == "product_category":
        assert isinstance(after, ProductCategory)
        return ChangeFacts(kind, scheme_id=after.scheme_id, payload={"version": after.version})
    assert isinstance(after, CertificationBody)
    return ChangeFacts(kind, economy_code=after.economy, payload={"version": after.version})


def link(entity_type: str, entity_id: str, agreement_id: str | None) -> str | None:
    """The API path of a change's entity (None for a scope entry whose agreement is unknown)."""
    if entity_type in ("certificate", "product_category"):
        scheme_id, _, rest = entity_id.partition("/")
        kind = "certificates" if entity_type == "certificate" else "categories"
        return f"/v1/schemes/{quote(scheme_id, safe='')}/{kind}/{quote(rest, safe='/')}"
    if entity_type == "scope_entry":
        if agreement_id is None:
            return None
        return f"/v1/agreements/{quote(agreement_id, safe='')}/scope-entries/{quote(entity_id)}"
    prefix = {
        "economy": "/v1/economies",
        "scheme": "/v1/schemes",
        "certification_body": "/v1/certification-bodies",
        "agreement": "/v1/agreements",
    }[entity_type]
    return f"{prefix}/{quote(entity_id, safe='')}"


# The feed


_CURSOR_PREFIX = b"chg1:"


def encode_cursor(sequence: int) -> str:
    """The opaque cursor naming the point after change `sequence`."""
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(sequence).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The sequence a cursor names (0 for none); InvalidInput for one this feed never gave."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raw = b""
    digits = raw[len(_CURSOR_PREFIX) :]
    if (
        not raw.startswith(_CURSOR_PREFIX)
        or not digits.isdigit()
        or len(digits) > 18
        or encode_cursor(int(digits)) != cursor
    ):
        raise InvalidInput.single(("query", "after"), "not a cursor this feed gave out")
    return int(digits)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of the feed and the cursor to read on from (given even on the last page:
    the feed grows, and reading on from there finds the changes recorded since)."""

    items: list[Change]
    next_cursor: str
    more: bool


class ChangeFeed:
    """Reads the change feed."""

    def __init__(self, log: ChangeLog) -> None:
        self._log = log

    def page(self, cursor: str | None, filters: ChangeFilter, limit: int) -> FeedPage:
        after = decode_cursor(cursor)
        rows = self._log.after(after, filters, limit + 1)
        items = rows[:limit]
        last = items[-1].sequence if items else after
        return FeedPage(items, encode_cursor(last), len(rows) > limit)


def change_item(change: Change) -> dict[str, Any]:
    """A change as the feed lists it and a webhook delivers it (JSON-ready)."""
    f = change.facts
    return {
        "sequence": change.sequence,
        "recorded_at": change.recorded_at.astimezone(dt.UTC).isoformat(),
        "entity_type": change.entity_type,
        "entity_id": change.entity_id,
        "kind": f.kind.value,
        "effective_date": None if f.effective_date is None else f.effective_date.isoformat(),
        "status": f.status,
        "scheme_id": f.scheme_id,
        "agreement_id": f.agreement_id,
        "economy": f.economy_code,
        "link": link(change.entity_type, change.entity_id, f.agreement_id),
        "data": dict(f.payload),
    }
