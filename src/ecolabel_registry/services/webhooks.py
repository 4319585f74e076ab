"""Webhook subscriptions: who is told of which changes, where, and how deliveries went.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com/; the specification:
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
a JSON body `{"type", "timestamp", "data"}` signed with HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}` under a `whsec_` secret that the subscriber is given
once. The sending itself is the worker's (ecolabel_registry/delivery.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ecolabel_registry.domain.access import Actor
from ecolabel_registry.domain.errors import Conflict, InvalidInput, NotFound
from ecolabel_registry.services._common import id_cursor, page_of
from ecolabel_registry.services.ports.changes import ChangeFilter
from ecolabel_registry.services.ports.registry import Page
from ecolabel_registry.services.ports.webhooks import (
    Delivery,
    Subscription,
    SubscriptionStore,
)

MAX_URL_LENGTH = 2000
MAX_SUBSCRIPTIONS_PER_KEY = 100


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# Addresses


class UnsafeAddress(Exception):
    """A webhook URL's host is, or resolves to, an address deliveries must not reach."""


Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (system resolver); UnsafeAddress when none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"{host} does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_address(address: str) -> str | None:
    """Why deliveries must not go to `address` (None when they may): private, loopback,
    link-local, multicast, reserved, unspecified or otherwise not globally routable."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]
    )
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return reason
    if not ip.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Which webhook URLs are accepted. The defaults are for the open internet; the settings
    ECOLABEL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES and ECOLABEL_WEBHOOK_ALLOW_HTTP relax them for
    tests and closed networks."""

    allow_private: bool = False
    allow_http: bool = False

    def target(self, url: str) -> tuple[str, int]:
        """The host and port of an acceptable URL (InvalidInput saying why not)."""
        loc = ("body", "url")
        if len(url) > MAX_URL_LENGTH:
            raise InvalidInput.single(loc, f"at most {MAX_URL_LENGTH} characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidInput.single(loc, f"not a URL: {exc}") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise InvalidInput.single(loc, "must be an https:// URL, e.g. https://example.org/hook")
        if not parts.hostname:
            raise InvalidInput.single(loc, "names no host")
        if parts.username is not None or parts.password is not None:
            raise InvalidInput.single(loc, "must not carry a user name or password")
        if parts.fragment:
            raise InvalidInput.single(loc, "must not carry a #fragment")
        return parts.hostname, port or (443 if parts.scheme == "https" else 80)

    def addresses(self, url: str, resolver: Resolver = resolve) -> list[str]:
        """The addresses a delivery to `url` may connect to: all of them, when every one is
        allowed; UnsafeAddress naming the first that is not. Checked when a subscription is
        made and again before each delivery (a name may resolve elsewhere by then)."""
        host, port = self.target(url)
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
            found = [str(literal)]
        except ValueError:
            found = list(resolver(host, port))
        if not found:
            raise UnsafeAddress(f"{host} does not resolve")
        if not self.allow_private:
            for address in found:
                why = forbidden_address(address)
                if why is not None:
                    raise UnsafeAddress(
                        f"{host} resolves to {address}, a {why} address; webhooks go only to "
                        "public addresses"
                    )
        return found


# The service


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SubscriptionService:
    """Subscriptions belong to the API key that made them; each key sees and changes only its
    own. Every key may subscribe to any part of the feed: it carries public data only."""

    def __init__(
        self,
        store: SubscriptionStore,
        policy: UrlPolicy,
        resolver: Resolver = resolve,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._s = store
        self._policy = policy
        self._resolver = resolver
        self._clock = clock

    def create(self, actor: Actor, url: str, filters: ChangeFilter) -> tuple[Subscription, str]:
        """A new subscription and its signing secret (given this once, never again)."""
        try:
            self._policy.addresses(url, self._resolver)
        except UnsafeAddress as exc:
            raise InvalidInput.single(("body", "url"), str(exc)) from None
        unknown = self._s.filter_exists(filters)
        if unknown:
            raise InvalidInput(
                [
                    InvalidInput.single(("body", "filter", name), f"no {name} {value!r}").errors[0]
                    for name, value in unknown
                ]
            )
        if self._s.count_of(actor.key_id) >= MAX_SUBSCRIPTIONS_PER_KEY:
            raise Conflict(
                f"this key has {MAX_SUBSCRIPTIONS_PER_KEY} subscriptions, the most a key may "
                "have; delete one first"
            )
        subscription = Subscription(
            id=str(uuid.uuid4()),
            key_id=actor.key_id,
            url=url,
            filter=filters,
            enabled=True,
            created_at=self._clock(),
        )
        secret = new_secret()
        self._s.add(subscription, secret)
        return subscription, secret

    def get(self, actor: Actor, subscription_id: str) -> Subscription:
        found = self._s.get(subscription_id)
        if found is None or found.key_id != actor.key_id:
            raise NotFound(f"this key has no subscription {subscription_id!r}")
        return found

    def list(self, actor: Actor, cursor: str | None, limit: int) -> Page[Subscription]:
        rows = self._s.of_key(actor.key_id, cursor, limit + 1)
        return page_of(rows, limit, lambda s: s.id)

    def set_enabled(self, actor: Actor, subscription_id: str, enabled: bool) -> Subscription:
        """Pause a subscription (`enabled` false) or resume it, a disabled one included: its
        pending deliveries are tried again from now, in order."""
        self.get(actor, subscription_id)
        reason = None if enabled else "disabled by its key"
        self._s.set_enabled(subscription_id, enabled, reason, self._clock())
        return self.get(actor, subscription_id)

    def delete(self, actor: Actor, subscription_id: str) -> None:
        self.get(actor, subscription_id)
        self._s.delete(subscription_id)

    def deliveries(
        self, actor: Actor, subscription_id: str, cursor: str | None, limit: int
    ) -> Page[Delivery]:
        """The subscription's deliveries, newest first."""
        self.get(actor, subscription_id)
        rows = self._s.deliveries(subscription_id, id_cursor(cursor), limit + 1)
        return page_of(rows, limit, lambda d: str(d.id))

    def redeliver(self, actor: Actor, subscription_id: str, delivery_id: int) -> Delivery:
        """Send a delivery again as soon as the worker can (after the earlier changes of its
        entity, as always); the delivery, pending again."""
        self.get(actor, subscription_id)
        if not self._s.redeliver(subscription_id, delivery_id, self._clock()):
            raise NotFound(f"subscription {subscription_id} has no delivery {delivery_id}")
        (delivery,) = self._s.deliveries(subscription_id, delivery_id + 1, 1)
        return delivery
