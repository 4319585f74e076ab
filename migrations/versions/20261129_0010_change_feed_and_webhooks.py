"""Change feed and webhooks: what each change-log row changed, subscriptions, deliveries.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-29 20:10:00.000000

- `registry_change` (the change log of migration 0008) gains what the public feed says of a
  change: its kind, effective date and status where they apply, the scheme, agreement and
  economy its filters match, and a small public payload; indexes serve the filters. Rows
  written before (kind NULL) are not in the feed.
- `webhook_subscription` and `webhook_delivery`: who is told of which changes, and each
  delivery's attempts (ADR 0009).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FILTERS = ("scheme_id", "agreement_id", "economy_code")


def upgrade() -> None:
    with op.batch_alter_table("registry_change") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("effective_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("scheme_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("agreement_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("economy_code", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
    for column in _FILTERS:
        op.create_index(f"ix_registry_change_{column}", "registry_change", [column, "id"])
    op.create_index(
        "ix_registry_change_entity", "registry_change", ["entity_type", "entity_id", "id"]
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("scheme_id", sa.String(length=64), nullable=True),
        sa.Column("certificate", sa.String(length=200), nullable=True),
        sa.Column("agreement_id", sa.String(length=36), nullable=True),
        sa.Column("economy_code", sa.String(length=10), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("fanned_through", sa.BigInteger(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_key.id"], name=op.f("fk_webhook_subscription_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_index(
        op.f("ix_webhook_subscription_key_id"), "webhook_subscription", ["key_id"], unique=False
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("entity_key", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.String(length=36), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered')", name=op.f("ck_webhook_delivery_state")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "subscription_id", "change_id", name=op.f("uq_webhook_delivery_subscription_id")
        ),
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["state", "next_attempt_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_webhook_delivery_entity",
        "webhook_delivery",
        ["subscription_id", "entity_key", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_delivery_entity", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_due", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_webhook_subscription_key_id"), table_name="webhook_subscription")
    op.drop_table("webhook_subscription")
    op.drop_index("ix_registry_change_entity", table_name="registry_change")
    for column in _FILTERS:
        op.drop_index(f"ix_registry_change_{column}", table_name="registry_change")
    with op.batch_alter_table("registry_change") as batch:
        for column in (
            "payload",
            "economy_code",
            "agreement_id",
            "scheme_id",
            "status",
            "effective_date",
            "kind",
        ):
            batch.drop_column(column)
