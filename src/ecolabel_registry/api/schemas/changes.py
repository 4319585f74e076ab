"""Bodies of the change feed, webhook subscriptions and their deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from ecolabel_registry.api.schemas.common import EconomyCode, Input, Output, Slug, utc
from ecolabel_registry.services.ports.webhooks import Subscription

CERTIFICATE_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]*/.+$"


class ChangeRead(Output):
    sequence: int = Field(description="The change's place in recording order.")
    recorded_at: dt.datetime
    entity_type: str
    entity_id: str = Field(description="As the audit trail names it (`scheme/number`...).")
    kind: str = Field(
        description="created, updated, status_event, party_status, scope_entry_added, "
        "scope_entry_ended, membership_added or membership_ended."
    )
    effective_date: dt.date | None = Field(
        description="When the change takes effect, where it has a date (a status event's, a "
        "scope entry's start or end, a membership's start or end)."
    )
    status: str | None = Field(description="A status event's new status.")
    scheme_id: str | None
    agreement_id: str | None
    economy: str | None
    link: str | None = Field(description="The entity's path in this API.")
    data: dict[str, Any] = Field(description="What changed, in a few public fields.")


class ChangePage(Output):
    items: list[ChangeRead]
    next_cursor: str = Field(
        description="Read on from here with `?after=`: given on every page, the last one "
        "included, and valid forever."
    )
    more: bool = Field(description="Whether more changes were already recorded past this page.")


class SubscriptionFilter(Input):
    scheme: Slug | None = None
    certificate: Annotated[str | None, Field(pattern=CERTIFICATE_KEY_PATTERN, max_length=200)] = (
        None
    )
    agreement: Annotated[str | None, Field(max_length=36)] = None
    economy: EconomyCode | None = None


class SubscriptionCreate(Input):
    url: Annotated[
        str,
        Field(
            max_length=2000,
            description="https:// URL that receives the deliveries; its host must resolve to "
            "public addresses only.",
            examples=["https://portal.example.org/hooks/registry"],
        ),
    ]
    filter: SubscriptionFilter = Field(
        default_factory=SubscriptionFilter,
        description="Which changes to deliver; as the feed's filters (none: all).",
    )


class SubscriptionUpdate(Input):
    enabled: bool = Field(
        description="false pauses the subscription; true resumes it (a disabled one too): "
        "its pending deliveries are tried again at once."
    )


class SubscriptionRead(Output):
    id: str
    url: str
    filter: SubscriptionFilter
    enabled: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    disabled_reason: str | None = Field(description="Why it is disabled, when it is.")
    failing_since: dt.datetime | None = Field(
        description="Since when every delivery has failed (none while deliveries succeed)."
    )

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionRead:
        f = s.filter
        return cls(
            id=s.id,
            url=s.url,
            filter=SubscriptionFilter(
                scheme=f.scheme, certificate=f.certificate, agreement=f.agreement, economy=f.economy
            ),
            enabled=s.enabled,
            created_at=utc(s.created_at),
            disabled_at=s.disabled_at,
            disabled_reason=s.disabled_reason,
            failing_since=s.failing_since,
        )


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="The signing secret (Standard Webhooks `whsec_...`): given this once only."
    )


class DeliveryRead(Output):
    id: int
    change_sequence: int
    entity_type: str
    entity_id: str
    state: str = Field(description="pending or delivered.")
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status: int | None = Field(description="The receiver's HTTP status at the last try.")
    last_error: str | None
    delivered_at: dt.datetime | None
