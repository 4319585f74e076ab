"""Webhook subscriptions and their delivery queue, in the registry's database (ADR 0009)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from ecolabel_registry.persistence.changes import SqlChangeLog, matching, utc
from ecolabel_registry.persistence.repositories.base import hold_write_lock
from ecolabel_registry.persistence.tables import (
    AgreementRow,
    CertificateRow,
    EconomyRow,
    RegistryChangeRow,
    SchemeRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from ecolabel_registry.services.ports.changes import FEED_ENTITY_TYPES, Change, ChangeFilter
from ecolabel_registry.services.ports.webhooks import (
    Delivery,
    DeliveryState,
    Subscription,
    retry_delay,
)

S = WebhookSubscriptionRow
D = WebhookDeliveryRow

ANALYZE_AFTER = 1_000
"""Deliveries one fan-out makes past which PostgreSQL's statistics of the queue are renewed."""

FANOUT_SCAN = 10_000
"""Changes a subscription's fan-out reads at a time (each becomes at most one delivery)."""


def _opt(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


def _subscription(r: WebhookSubscriptionRow) -> Subscription:
    return Subscription(
        id=r.id,
        key_id=r.key_id,
        url=r.url,
        filter=ChangeFilter(r.scheme_id, r.certificate, r.agreement_id, r.economy_code),
        enabled=r.enabled,
        created_at=utc(r.created_at),
        disabled_at=_opt(r.disabled_at),
        disabled_reason=r.disabled_reason,
        failing_since=_opt(r.failing_since),
    )


def _delivery(r: WebhookDeliveryRow) -> Delivery:
    entity_type, _, entity_id = r.entity_key.partition(":")
    return Delivery(
        id=r.id,
        subscription_id=r.subscription_id,
        change_sequence=r.change_id,
        entity_type=entity_type,
        entity_id=entity_id,
        state=DeliveryState(r.state),
        attempts=r.attempts,
        created_at=utc(r.created_at),
        next_attempt_at=_opt(r.next_attempt_at) if r.state == DeliveryState.PENDING else None,
        last_attempt_at=_opt(r.last_attempt_at),
        last_status=r.last_status,
        last_error=r.last_error,
        delivered_at=_opt(r.delivered_at),
    )


class SqlSubscriptionStore:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, subscription: Subscription, secret: str) -> None:
        f = subscription.filter
        self._s.execute(
            insert(S).values(
                id=subscription.id,
                key_id=subscription.key_id,
                url=subscription.url,
                secret=secret,
                scheme_id=f.scheme,
                certificate=f.certificate,
                agreement_id=f.agreement,
                economy_code=f.economy,
                enabled=True,
                # Changes recorded from now on are delivered, not the history before.
                fanned_through=SqlChangeLog(self._s).last_sequence(),
                created_at=subscription.created_at,
            )
        )

    def get(self, subscription_id: str) -> Subscription | None:
        row = self._s.get(S, subscription_id)
        return None if row is None else _subscription(row)

    def count_of(self, key_id: str) -> int:
        return int(
            self._s.execute(select(func.count()).select_from(S).where(S.key_id == key_id)).scalar()
            or 0
        )

    def of_key(self, key_id: str, after: str | None, limit: int) -> list[Subscription]:
        query = select(S).where(S.key_id == key_id)
        if after is not None:
            query = query.where(S.id > after)
        rows = self._s.execute(query.order_by(S.id).limit(limit)).scalars()
        return [_subscription(r) for r in rows]

    def set_enabled(
        self, subscription_id: str, enabled: bool, reason: str | None, now: dt.datetime
    ) -> None:
        self._s.execute(
            update(S)
            .where(S.id == subscription_id)
            .values(
                enabled=enabled,
                disabled_at=None if enabled else now,
                disabled_reason=reason,
                failing_since=None,
            )
        )
        if enabled:
            self._s.execute(
                update(D)
                .where(D.subscription_id == subscription_id, D.state == DeliveryState.PENDING)
                .values(next_attempt_at=now)
            )

    def delete(self, subscription_id: str) -> None:
        self._s.execute(delete(D).where(D.subscription_id == subscription_id))
        self._s.execute(delete(S).where(S.id == subscription_id))

    def deliveries(self, subscription_id: str, after: int | None, limit: int) -> list[Delivery]:
        query = select(D).where(D.subscription_id == subscription_id)
        if after is not None:
            query = query.where(D.id < after)
        rows = self._s.execute(query.order_by(D.id.desc()).limit(limit)).scalars()
        return [_delivery(r) for r in rows]

    def redeliver(self, subscription_id: str, delivery_id: int, now: dt.datetime) -> bool:
        result = self._s.execute(
            update(D)
            .where(D.id == delivery_id, D.subscription_id == subscription_id)
            .values(state=DeliveryState.PENDING, next_attempt_at=now, delivered_at=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def filter_exists(self, filters: ChangeFilter) -> list[tuple[str, str]]:
        missing: list[tuple[str, str]] = []
        checks: list[tuple[str, str | None, Any]] = [
            ("scheme", filters.scheme, lambda v: select(SchemeRow.id).where(SchemeRow.id == v)),
            (
                "agreement",
                filters.agreement,
                lambda v: select(AgreementRow.id).where(AgreementRow.id == v),
            ),
            (
                "economy",
                filters.economy,
                lambda v: select(EconomyRow.code).where(EconomyRow.code == v),
            ),
            (
                "certificate",
                filters.certificate,
                lambda v: select(CertificateRow.id).where(
                    CertificateRow.scheme_id == v.partition("/")[0],
                    CertificateRow.number == v.partition("/")[2],
                ),
            ),
        ]
        for name, value, query in checks:
            if value is not None and self._s.execute(query(value)).first() is None:
                missing.append((name, value))
        return missing


# The delivery queue


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery attempt a worker holds: where to send which change, signed with what."""

    delivery_id: int
    claim: str
    subscription_id: str
    url: str
    secret: str
    attempts: int
    change: Change


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: `status` the HTTP status (None when no answer came)."""

    claimed: Claimed
    ok: bool
    status: int | None
    error: str | None


class SqlDeliveryQueue:
    """Fan-out of new changes into deliveries, claims of due deliveries, and their outcomes.

    Each method is one short transaction of its own (`sessions`), never held while a
    delivery is sent.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        lease: dt.timedelta,
        disable_after: dt.timedelta,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        self._disable_after = disable_after
        self._rand = rand

    def fan_out(self, now: dt.datetime) -> int:
        """Turn the changes recorded since each enabled subscription's last fan-out into
        its deliveries; how many were made. Subscriptions another worker is fanning out
        are skipped (PostgreSQL), or wait for it (SQLite: one writer)."""
        made = 0
        with self._sessions() as session:
            # Most rounds have nothing new: found without the write lock.
            last = SqlChangeLog(session).last_sequence()
            behind = session.execute(
                select(S.id).where(S.enabled, S.fanned_through < last).limit(1)
            ).first()
        if behind is None:
            return 0
        with self._sessions() as session, session.begin():
            hold_write_lock(session)
            last = SqlChangeLog(session).last_sequence()
            query = select(S).where(S.enabled, S.fanned_through < last).order_by(S.id)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for sub in session.execute(query).scalars().all():
                upper = min(last, sub.fanned_through + FANOUT_SCAN)
                c = RegistryChangeRow
                chosen = select(
                    literal(sub.id),
                    c.id,
                    c.entity_type + literal(":") + cast(c.entity_id, String),
                    literal(DeliveryState.PENDING.value),
                    literal(0),
                    literal(now),
                    literal(now),
                ).where(
                    c.id > sub.fanned_through,
                    c.id <= upper,
                    c.entity_type.in_(FEED_ENTITY_TYPES),
                    matching(_subscription(sub).filter),
                )
                result = session.execute(
                    insert(D)
                    .execution_options(preserve_rowcount=True)  # an INSERT's count is not kept
                    .from_select(
                        [
                            "subscription_id",
                            "change_id",
                            "entity_key",
                            "state",
                            "attempts",
                            "created_at",
                            "next_attempt_at",
                        ],
                        chosen,
                    )
                )
                made += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
                sub.fanned_through = upper
            if made >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
                # Fresh planner statistics: with those of a nearly empty queue, PostgreSQL
                # plans the claim's per-entity check as a scan per row (seconds a claim).
                session.execute(text("ANALYZE webhook_delivery"))
        return made

    def claim(self, now: dt.datetime, limit: int) -> list[Claimed]:
        """Up to `limit` due deliveries, held for this worker for the lease's length.

        A delivery is due when pending, its next attempt is not in the future, no worker
        holds an unexpired lease on it, its subscription is enabled, and no earlier delivery
        of the same entity to the same subscription is still pending (per-entity order).
        PostgreSQL: rows another worker is claiming are skipped (`SKIP LOCKED`); SQLite: the
        claim holds the database's write lock, so two workers never claim the same row.
        """
        earlier = aliased(D)
        with self._sessions() as session, session.begin():
            hold_write_lock(session)
            query = (
                select(D.id)
                .join(S, S.id == D.subscription_id)
                .where(
                    D.state == DeliveryState.PENDING,
                    D.next_attempt_at <= now,
                    or_(D.lease_until.is_(None), D.lease_until < now),
                    S.enabled,
                    ~exists().where(
                        earlier.subscription_id == D.subscription_id,
                        earlier.entity_key == D.entity_key,
                        earlier.id < D.id,
                        earlier.state == DeliveryState.PENDING,
                    ),
                )
                # Due first, then in recording order: the index's order, so a claim reads
                # only the rows it takes (and those held back), however long the queue.
                .order_by(D.next_attempt_at, D.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(of=D, skip_locked=True)
            ids = list(session.execute(query).scalars())
            if not ids:
                return []
            token = str(uuid.uuid4())
            session.execute(
                update(D)
                .where(D.id.in_(ids))
                .values(lease_until=now + self._lease, claim=token)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(D.id, D.subscription_id, D.change_id, D.attempts, S.url, S.secret)
                .join(S, S.id == D.subscription_id)
                .where(D.id.in_(ids))
                .order_by(D.id)
            ).all()
            changes = SqlChangeLog(session).by_sequence([r.change_id for r in rows])
        return [
            Claimed(
                r.id, token, r.subscription_id, r.url, r.secret, r.attempts, changes[r.change_id]
            )
            for r in rows
        ]

    def finish(self, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
        """Record the attempts: delivered, or due again after a growing wait. A subscription
        failing without a success for longer than `disable_after` is disabled, saying why.
        An outcome whose claim is no longer held (the lease ran out and another worker took
        the delivery) changes nothing."""
        if not outcomes:
            return
        done = {"lease_until": None, "claim": None, "last_attempt_at": now}
        with self._sessions() as session, session.begin():
            hold_write_lock(session)
            # The successes: one statement per claim and status (the usual case: one).
            delivered: dict[tuple[str, int | None], list[int]] = {}
            for o in outcomes:
                if o.ok:
                    delivered.setdefault((o.claimed.claim, o.status), []).append(
                        o.claimed.delivery_id
                    )
            for (claim, status), ids in delivered.items():
                session.execute(
                    update(D)
                    .where(D.id.in_(ids), D.claim == claim)
                    .values(
                        **done,
                        attempts=D.attempts + 1,
                        last_status=status,
                        last_error=None,
                        state=DeliveryState.DELIVERED,
                        delivered_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
            succeeded = sorted({o.claimed.subscription_id for o in outcomes if o.ok})
            if succeeded:
                session.execute(
                    update(S)
                    .where(S.id.in_(succeeded), S.failing_since.is_not(None))
                    .values(failing_since=None)
                    .execution_options(synchronize_session=False)
                )
            for o in outcomes:
                if o.ok:
                    continue
                c = o.claimed
                held = (D.id == c.delivery_id) & (D.claim == c.claim)
                fields = {
                    "attempts": D.attempts + 1,
                    "last_status": o.status,
                    "last_error": o.error,
                }
                wait = retry_delay(c.attempts + 1, *([self._rand] if self._rand else []))
                result = session.execute(
                    update(D).where(held).values(**done, **fields, next_attempt_at=now + wait)
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    continue
                session.execute(
                    update(S)
                    .where(S.id == c.subscription_id, S.failing_since.is_(None))
                    .values(failing_since=now)
                )
                sub = session.execute(
                    select(S.enabled, S.failing_since).where(S.id == c.subscription_id)
                ).one_or_none()
                if sub is None or not sub.enabled:
                    continue
                since = utc(sub.failing_since)
                if now - since >= self._disable_after:
                    session.execute(
                        update(S)
                        .where(S.id == c.subscription_id)
                        .values(
                            enabled=False,
                            disabled_at=now,
                            disabled_reason=(
                                f"every delivery since {since.isoformat()} failed; the last "
                                f"error: {o.error}"
                            ),
                        )
                    )

    def release(self, claimed: Sequence[Claimed]) -> None:
        """Give back attempts not made (the worker is stopping): due again at once."""
        if not claimed:
            return
        with self._sessions() as session, session.begin():
            hold_write_lock(session)
            for c in claimed:
                session.execute(
                    update(D)
                    .where(D.id == c.delivery_id, D.claim == c.claim)
                    .values(lease_until=None, claim=None)
                )
