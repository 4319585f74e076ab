"""The public change feed and the webhook subscriptions that deliver it (docs/changes.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from ecolabel_registry.api.deps import ActorDep, ChangeFeedDep, Cursor, Limit, SubscriptionsDep
from ecolabel_registry.api.problems import responses
from ecolabel_registry.api.schemas.changes import (
    CERTIFICATE_KEY_PATTERN,
    ChangePage,
    ChangeRead,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)
from ecolabel_registry.api.schemas.common import PageOut
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN, SLUG_PATTERN
from ecolabel_registry.services.changes import change_item
from ecolabel_registry.services.ports.changes import ChangeFilter

router = APIRouter(tags=["changes"])

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
    feed: ChangeFeedDep,
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
    page = feed.page(after, ChangeFilter(scheme, certificate, agreement, economy), limit)
    return ChangePage(
        items=[ChangeRead(**change_item(c)) for c in page.items],
        next_cursor=page.next_cursor,
        more=page.more,
    )


SubPath = Annotated[str, Path(max_length=36, description="The subscription's id.")]
BASE = "/v1/subscriptions"


@router.post(BASE, status_code=201, responses=responses(401, 409, 422))
def create_subscription(
    service: SubscriptionsDep,
    actor: ActorDep,
    response: Response,
    body: Annotated[SubscriptionCreate, Body()],
) -> SubscriptionCreated:
    """Subscribe to changes: they are POSTed to `url`, signed (Standard Webhooks).

    Any API key may subscribe; the subscription is the key's own. Only changes recorded from
    now on are delivered (read the feed for the ones before).
    """
    f = body.filter
    saved, secret = service.create(
        actor, body.url, ChangeFilter(f.scheme, f.certificate, f.agreement, f.economy)
    )
    response.headers["Location"] = f"{BASE}/{saved.id}"
    return SubscriptionCreated(**SubscriptionRead.of(saved).model_dump(), secret=secret)


@router.get(BASE, responses=responses(401, 422))
def list_subscriptions(
    service: SubscriptionsDep,
    actor: ActorDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[SubscriptionRead]:
    """This key's subscriptions."""
    page = service.list(actor, cursor, limit)
    return PageOut.of(page, SubscriptionRead.of)


@router.get(BASE + "/{subscription_id}", responses=responses(401, 404, 422))
def get_subscription(
    service: SubscriptionsDep, actor: ActorDep, subscription_id: SubPath
) -> SubscriptionRead:
    """One of this key's subscriptions: whether it is enabled, failing, or disabled and why."""
    return SubscriptionRead.of(service.get(actor, subscription_id))


@router.patch(BASE + "/{subscription_id}", responses=responses(401, 404, 422))
def update_subscription(
    service: SubscriptionsDep,
    actor: ActorDep,
    subscription_id: SubPath,
    body: SubscriptionUpdate,
) -> SubscriptionRead:
    """Pause or resume a subscription."""
    return SubscriptionRead.of(service.set_enabled(actor, subscription_id, body.enabled))


@router.delete(BASE + "/{subscription_id}", status_code=204, responses=responses(401, 404, 422))
def delete_subscription(
    service: SubscriptionsDep, actor: ActorDep, subscription_id: SubPath
) -> Response:
    """Delete a subscription and its deliveries."""
    service.delete(actor, subscription_id)
    return Response(status_code=204)


@router.get(BASE + "/{subscription_id}/deliveries", responses=responses(401, 404, 422))
def list_deliveries(
    service: SubscriptionsDep,
    actor: ActorDep,
    subscription_id: SubPath,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[DeliveryRead]:
    """The subscription's deliveries, newest first: state, attempts, last error, next try."""
    page = service.deliveries(actor, subscription_id, cursor, limit)
    return PageOut.of(page, DeliveryRead.read)


@router.post(
    BASE + "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses=responses(401, 404, 422),
)
def redeliver(
    service: SubscriptionsDep,
    actor: ActorDep,
    subscription_id: SubPath,
    delivery_id: Annotated[int, Path(ge=1, le=2**62)],
) -> DeliveryRead:
    """Send a delivery again, as soon as the worker can (after earlier changes of its entity);
    the delivery, pending again."""
    return DeliveryRead.read(service.redeliver(actor, subscription_id, delivery_id))
