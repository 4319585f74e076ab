"""The webhooks' port: subscriptions, deliveries, their retry schedule, and the store."""

from __future__ import annotations

import datetime as dt
import enum
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ecolabel_registry.services.ports.changes import ChangeFilter

RETRY_DELAYS = (
    dt.timedelta(seconds=5),
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
    dt.timedelta(hours=2),
    dt.timedelta(hours=4),
    dt.timedelta(hours=8),
)
"""Waits before each retry of a failed delivery; after the last, every 8 hours until the
delivery succeeds or its subscription is disabled (ECOLABEL_WEBHOOK_DISABLE_AFTER_HOURS)."""

JITTER = 0.2
"""Each wait is stretched or shrunk by up to this fraction at random, so that the retries of
many deliveries that failed together do not all arrive together."""


def retry_delay(attempts: int, rand: Callable[[], float] = random.random) -> dt.timedelta:
    """The wait before the next try of a delivery that has failed `attempts` times (>= 1)."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * (1 + JITTER * (2 * rand() - 1))


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    key_id: str
    url: str
    filter: ChangeFilter
    enabled: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    disabled_reason: str | None = None
    failing_since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: str
    change_sequence: int
    entity_type: str
    entity_id: str
    state: DeliveryState
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None


class SubscriptionStore(Protocol):
    def add(self, subscription: Subscription, secret: str) -> None: ...
    def get(self, subscription_id: str) -> Subscription | None: ...
    def count_of(self, key_id: str) -> int: ...
    def of_key(self, key_id: str, after: str | None, limit: int) -> list[Subscription]: ...
    def set_enabled(
        self, subscription_id: str, enabled: bool, reason: str | None, now: dt.datetime
    ) -> None: ...
    def delete(self, subscription_id: str) -> None: ...
    def deliveries(self, subscription_id: str, after: int | None, limit: int) -> list[Delivery]: ...
    def redeliver(self, subscription_id: str, delivery_id: int, now: dt.datetime) -> bool: ...
    def filter_exists(self, filters: ChangeFilter) -> list[tuple[str, str]]:
        """(field, value) of each filter that names nothing in the registry."""
        ...
