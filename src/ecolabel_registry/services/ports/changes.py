"""The change feed's port: what a change records, how the feed is filtered, and the log it reads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, get_args

from ecolabel_registry.services.ports.audit import AuditedEntityType


class ChangeKind(enum.StrEnum):
    """What a change did to its entity."""

    CREATED = "created"
    UPDATED = "updated"
    STATUS_EVENT = "status_event"
    PARTY_STATUS = "party_status"
    SCOPE_ENTRY_ADDED = "scope_entry_added"
    SCOPE_ENTRY_ENDED = "scope_entry_ended"
    MEMBERSHIP_ADDED = "membership_added"
    MEMBERSHIP_ENDED = "membership_ended"


FEED_ENTITY_TYPES: tuple[str, ...] = tuple(t for t in get_args(AuditedEntityType) if t != "api_key")
"""The entity types the feed carries: every audited type but API keys (private)."""


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """What one change says beyond its entity: recorded with it, read back by the feed.

    `scheme_id`, `agreement_id` and `economy_code` are what the feed's filters match (an
    agreement's parties are matched through the agreement).
    """

    kind: ChangeKind
    effective_date: dt.date | None = None
    status: str | None = None
    scheme_id: str | None = None
    agreement_id: str | None = None
    economy_code: str | None = None
    payload: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change, as the feed and the webhooks give it."""

    sequence: int
    recorded_at: dt.datetime
    entity_type: str
    entity_id: str
    facts: ChangeFacts


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Which changes to give; None means any. A change matches every filter given.

    `scheme`: changes of the scheme, its categories and certificates, and of agreements it
    is a party to (their scope entries and party statuses included); `certificate`
    (`scheme/number`): that certificate's changes; `agreement`: the agreement's changes, its
    scope entries' and its parties'; `economy`: the economy's own changes, memberships in
    which it is the group or the member, and certificates and bodies held in it.
    """

    scheme: str | None = None
    certificate: str | None = None
    agreement: str | None = None
    economy: str | None = None


class ChangeLog(Protocol):
    def after(self, sequence: int, filters: ChangeFilter, limit: int) -> list[Change]:
        """Changes with a sequence above `sequence` matching `filters`, in order."""
        ...

    def last_sequence(self) -> int:
        """The sequence of the newest committed change (0 when none)."""
        ...
