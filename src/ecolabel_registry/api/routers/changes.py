"""The public change feed and the webhook subscriptions that deliver it (docs/changes.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import Field

from ecolabel_registry.api.deps import ActorDep, Cursor, Limit, RegistryDep
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas import EconomyCode, Input, Output, PageOut, Slug, utc
from ecolabel_registry.delivery import policy_of
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN, SLUG_PATTERN
from ecolabel_registry.persistence.changes import SqlChangeLog
from ecolabel_registry.persistence.webhooks import SqlSubscriptionStore
from ecolabel_registry.services.changes import ChangeFeed, change_item
from ecolabel_registry.services.ports.changes import ChangeFilter
from ecolabel_registry.services.ports.webhooks import Delivery, Subscription
from ecolabel_registry.services.webhooks import SubscriptionService

router = APIRouter(tags=["changes"])

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


FilterScheme = Annotated[
    str | None,
    Query(
        pattern=SLUG_PATTERN,
        max_length=64,
        description="Changes of this scheme, its categories and certificates, and the "
        "agreements it is a party to.",
    ),
]
FilterCertificate = Annotated[
    str | None,
    Query(
        pattern=CERTIFICATE_KEY_PATTERN,
        max_length=200,
        description="One certificate's changes, as `scheme/number`.",
    ),
]
FilterAgreement = Annotated[
    str | None,
    Query(max_length=36, description="An agreement's changes, its scope entries and parties."),
]
FilterEconomy = Annotated[
    str | None,
    Query(
        pattern=ECONOMY_CODE_PATTERN,
        description="Changes of this economy (memberships as group or member) and of the "
        "certificates and bodies held in it.",
    ),
]


@router.get("/v1/changes", responses=responses(422))
def list_changes(
    registry: RegistryDep,
    limit: Limit = 100,
    after: Annotated[
        str | None,
        Query(
            max_length=100,
            description="The `next_cursor` of a page read before; none: from the first change.",
        ),
    ] = None,
    scheme: FilterScheme = None,
    certificate: FilterCertificate = None,
    agreement: FilterAgreement = None,
    economy: FilterEconomy = None,
) -> ChangePage:
    """Every recorded change, in recording order, after a cursor.

    Written in the same transaction as the change: a committed change is here, a rolled-back
    one never. Public, like the other reads.
    """
    feed = ChangeFeed(SqlChangeLog(registry.session))
    page = feed.page(after, ChangeFilter(scheme, certificate, agreement, economy), limit)
    return ChangePage(
        items=[ChangeRead(**change_item(c)) for c in page.items],
        next_cursor=page.next_cursor,
        more=page.more,
    )


# Subscriptions


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

    @classmethod
    def of(cls, d: Delivery) -> DeliveryRead:
        return cls(
            id=d.id,
            change_sequence=d.change_sequence,
            entity_type=d.entity_type,
            entity_id=d.entity_id,
            state=d.state.value,
            attempts=d.attempts,
            created_at=d.created_at,
            next_attempt_at=d.next_attempt_at,
            last_attempt_at=d.last_attempt_at,
            last_status=d.last_status,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
        )


def subscriptions(request: Request, registry: RegistryDep) -> SubscriptionService:
    return SubscriptionService(
        SqlSubscriptionStore(registry.session), policy_of(request.app.state.settings)
    )


SubPath = Annotated[str, Path(max_length=36, description="The subscription's id.")]
BASE = "/v1/subscriptions"


@router.post(BASE, status_code=201, responses=responses(401, 409, 422))
def create_subscription(
    request: Request,
    registry: RegistryDep,
    actor: ActorDep,
    response: Response,
    body: Annotated[SubscriptionCreate, Body()],
) -> SubscriptionCreated:
    """Subscribe to changes: they are POSTed to `url`, signed (Standard Webhooks).

    Any API key may subscribe; the subscription is the key's own. Only changes recorded from
    now on are delivered (read the feed for the ones before).
    """
    f = body.filter
    saved, secret = subscriptions(request, registry).create(
        actor, body.url, ChangeFilter(f.scheme, f.certificate, f.agreement, f.economy)
    )
    response.headers["Location"] = f"{BASE}/{saved.id}"
    return SubscriptionCreated(**SubscriptionRead.of(saved).model_dump(), secret=secret)


@router.get(BASE, responses=responses(401, 422))
def list_subscriptions(
    request: Request,
    registry: RegistryDep,
    actor: ActorDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[SubscriptionRead]:
    """This key's subscriptions."""
    page = subscriptions(request, registry).list(actor, cursor, limit)
    return PageOut(items=[SubscriptionRead.of(s) for s in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{subscription_id}", responses=responses(401, 404, 422))
def get_subscription(
    request: Request, registry: RegistryDep, actor: ActorDep, subscription_id: SubPath
) -> SubscriptionRead:
    """One of this key's subscriptions: whether it is enabled, failing, or disabled and why."""
    return SubscriptionRead.of(subscriptions(request, registry).get(actor, subscription_id))


@router.patch(BASE + "/{subscription_id}", responses=responses(401, 404, 422))
def update_subscription(
    request: Request,
    registry: RegistryDep,
    actor: ActorDep,
    subscription_id: SubPath,
    body: SubscriptionUpdate,
) -> SubscriptionRead:
    """Pause or resume a subscription."""
    service = subscriptions(request, registry)
    return SubscriptionRead.of(service.set_enabled(actor, subscription_id, body.enabled))


@router.delete(BASE + "/{subscription_id}", status_code=204, responses=responses(401, 404, 422))
def delete_subscription(
    request: Request, registry: RegistryDep, actor: ActorDep, subscription_id: SubPath
) -> Response:
    """Delete a subscription and its deliveries."""
    subscriptions(request, registry).delete(actor, subscription_id)
    return Response(status_code=204)


@router.get(BASE + "/{subscription_id}/deliveries", responses=responses(401, 404, 422))
def list_deliveries(
    request: Request,
    registry: RegistryDep,
    actor: ActorDep,
    subscription_id: SubPath,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[DeliveryRead]:
    """The subscription's deliveries, newest first: state, attempts, last error, next try."""
    page = subscriptions(request, registry).deliveries(actor, subscription_id, cursor, limit)
    return PageOut(items=[DeliveryRead.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.post(
    BASE + "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses=responses(401, 404, 422),
)
def redeliver(
    request: Request,
    registry: RegistryDep,
    actor: ActorDep,
    subscription_id: SubPath,
    delivery_id: Annotated[int, Path(ge=1, le=2**62)],
) -> DeliveryRead:
    """Send a delivery again, as soon as the worker can (after earlier changes of its entity);
    the delivery, pending again."""
    return DeliveryRead.of(
        subscriptions(request, registry).redeliver(actor, subscription_id, delivery_id)
    )
