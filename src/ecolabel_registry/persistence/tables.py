"""The registry's tables (SQLAlchemy 2 declarative); the schema itself is made by Alembic.

One module on purpose, though past 500 lines: Alembic autogenerate and the migration tests
compare against `Base.metadata`, which holds only the tables whose modules were imported,
and the tables' foreign keys cross every aggregate; importing this one module gives the
whole schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON,
    }


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class _Versioned:
    """The columns of an entity written under optimistic locking: its version (If-Match) and
    when it was created and last changed (a mixin's columns come after the class's own)."""

    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


def _window_check(start: str = "valid_from", end: str = "valid_to") -> CheckConstraint:
    return CheckConstraint(f"{end} IS NULL OR {end} >= {start}", name=f"{end}_after_{start}")


class _DatedLink:
    """A link between two rows (the class's own two columns) over an inclusive date window:
    a surrogate id first, then the two ends, then the window."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True, sort_order=-1)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (_window_check(),)


class EconomyRow(_Versioned, Base):
    __tablename__ = "economy"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))

    __table_args__ = (CheckConstraint("kind IN ('country', 'group')", name="kind"),)


class GroupMembershipRow(_DatedLink, Base):
    __tablename__ = "group_membership"

    group_code: Mapped[str] = mapped_column(ForeignKey("economy.code"), index=True)
    member_code: Mapped[str] = mapped_column(ForeignKey("economy.code"), index=True)


class SchemeRow(_Versioned, Base):
    __tablename__ = "scheme"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    operator: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(20))
    website: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    certificate_coverage: Mapped[str] = mapped_column(String(10))

    __table_args__ = (
        CheckConstraint("certificate_coverage IN ('complete', 'partial')", name="coverage"),
    )


class SchemeHomeEconomyRow(Base):
    __tablename__ = "scheme_home_economy"

    scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"), primary_key=True)
    economy_code: Mapped[str] = mapped_column(ForeignKey("economy.code"), primary_key=True)

    __table_args__ = (Index("ix_scheme_home_economy_economy", "economy_code"),)


class ProductCategoryRow(_Versioned, Base):
    __tablename__ = "product_category"

    scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    criteria_version: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    hs_codes: Mapped[list[Any]] = mapped_column(JSON)
    criteria: Mapped[list[Any]] = mapped_column(JSON)

    __table_args__ = (_window_check(),)


class CategoryHsCodeRow(Base):
    """HS prefixes of a category, one row each, for look-ups by HS code."""

    __tablename__ = "category_hs_code"

    scheme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    hs_code: Mapped[str] = mapped_column(String(10), primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["scheme_id", "category_code"],
            ["product_category.scheme_id", "product_category.code"],
            name="fk_category_hs_code_category",
        ),
        Index("ix_category_hs_code_hs_code", "hs_code"),
    )


class CertificationBodyRow(_Versioned, Base):
    __tablename__ = "certification_body"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    economy_code: Mapped[str] = mapped_column(ForeignKey("economy.code"))
    accreditation_ref: Mapped[str | None] = mapped_column(String(300))


class BodyAuthorizationRow(_DatedLink, Base):
    __tablename__ = "body_authorization"

    body_id: Mapped[str] = mapped_column(ForeignKey("certification_body.id"), index=True)
    scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"), index=True)


class CertificateRow(_Versioned, Base):
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"))
    number: Mapped[str] = mapped_column(String(100))
    category_code: Mapped[str] = mapped_column(String(64))
    holder_name: Mapped[str] = mapped_column(String(300))
    holder_economy: Mapped[str] = mapped_column(ForeignKey("economy.code"))
    product_name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    gtins: Mapped[list[Any]] = mapped_column(JSON)
    hs_codes: Mapped[list[Any]] = mapped_column(JSON)
    certification_body_id: Mapped[str | None] = mapped_column(
        ForeignKey("certification_body.id"), index=True
    )
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    # The status events as [[status, effective_date], ...] JSON text, in recording order:
    # what the resolver reads of them, kept by every write (see persistence.status_changes).
    status_changes: Mapped[str] = mapped_column(Text, server_default="[]")
    # The registry revision that recorded this row's values (ADR 0007); every write sets it,
    # and first keeps the values it replaces in `certificate_history`.
    # (sort_order: after the versioned columns, as the migrations made it)
    recorded_revision: Mapped[int] = mapped_column(BigInteger, server_default="0", sort_order=1)

    __table_args__ = (
        UniqueConstraint("scheme_id", "number", name="uq_certificate_scheme_number"),
        ForeignKeyConstraint(
            ["scheme_id", "category_code"],
            ["product_category.scheme_id", "product_category.code"],
            name="fk_certificate_category",
        ),
        _window_check(),
        Index("ix_certificate_holder_name", "holder_name"),
    )


class CertificateHistoryRow(Base):
    """A certificate's earlier rows: its values from `recorded_revision` until the revision
    that replaced them (`superseded_revision`), copied before every write (ADR 0007)."""

    __tablename__ = "certificate_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(BigInteger)
    scheme_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(100))
    category_code: Mapped[str] = mapped_column(String(64))
    holder_name: Mapped[str] = mapped_column(String(300))
    holder_economy: Mapped[str] = mapped_column(String(10))
    product_name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    gtins: Mapped[list[Any]] = mapped_column(JSON)
    hs_codes: Mapped[list[Any]] = mapped_column(JSON)
    certification_body_id: Mapped[str | None] = mapped_column(String(64))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    status_changes: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_revision: Mapped[int] = mapped_column(BigInteger)
    superseded_revision: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_certificate_history_key", "scheme_id", "number", "superseded_revision"),
    )


class CertificateGtinRow(Base):
    """GTINs of a certificate, one row each, for look-ups by GTIN."""

    __tablename__ = "certificate_gtin"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)

    __table_args__ = (Index("ix_certificate_gtin_gtin", "gtin"),)


class CertificateHsCodeRow(Base):
    """HS codes of a certificate, one row each, for look-ups by HS prefix."""

    __tablename__ = "certificate_hs_code"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), primary_key=True)
    hs_code: Mapped[str] = mapped_column(String(10), primary_key=True)

    __table_args__ = (Index("ix_certificate_hs_code_hs_code", "hs_code"),)


class CertificateStatusEventRow(Base):
    __tablename__ = "certificate_status_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"))
    status: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'withdrawn')", name="status"),
        Index("ix_certificate_status_event_certificate", "certificate_id", "effective_date"),
    )


class AgreementRow(_Versioned, Base):
    __tablename__ = "agreement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(2000))
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    direction: Mapped[str] = mapped_column(String(12))
    chaining: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(12), server_default="recognition")
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)
    recognizing_scheme_id: Mapped[str | None] = mapped_column(ForeignKey("scheme.id"))
    recognized_scheme_id: Mapped[str | None] = mapped_column(ForeignKey("scheme.id"))

    __table_args__ = (
        _window_check("effective_from", "effective_to"),
        CheckConstraint("direction IN ('mutual', 'unilateral')", name="direction"),
        CheckConstraint("chaining IN ('allowed', 'not_allowed')", name="chaining"),
        CheckConstraint("purpose IN ('recognition', 'cooperation')", name="purpose"),
        CheckConstraint(
            "(direction = 'mutual' AND recognizing_scheme_id IS NULL "
            "AND recognized_scheme_id IS NULL) OR (direction = 'unilateral' "
            "AND recognizing_scheme_id IS NOT NULL AND recognized_scheme_id IS NOT NULL)",
            name="direction_parties",
        ),
    )


class AgreementPartyRow(Base):
    __tablename__ = "agreement_party"

    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.id"), primary_key=True)
    scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"), primary_key=True)

    __table_args__ = (Index("ix_agreement_party_scheme", "scheme_id"),)


class AgreementStatusEventRow(Base):
    __tablename__ = "agreement_status_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        CheckConstraint("status IN ('in_force', 'suspended', 'terminated')", name="status"),
    )


class PartyStatusEventRow(Base):
    __tablename__ = "agreement_party_status_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agreement_id: Mapped[str] = mapped_column(String(36))
    scheme_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    effective_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["agreement_id", "scheme_id"],
            ["agreement_party.agreement_id", "agreement_party.scheme_id"],
            name="fk_agreement_party_status_event_party",
        ),
        CheckConstraint("status IN ('active', 'suspended', 'withdrawn')", name="status"),
        Index("ix_agreement_party_status_event_party", "agreement_id", "scheme_id"),
    )


class ScopeEntryRow(_Versioned, Base):
    __tablename__ = "scope_entry"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.id"), index=True)
    recognized_scheme_id: Mapped[str] = mapped_column(ForeignKey("scheme.id"))
    recognizing_scheme_id: Mapped[str | None] = mapped_column(ForeignKey("scheme.id"))
    category_code: Mapped[str | None] = mapped_column(String(64))
    equivalent_category_code: Mapped[str | None] = mapped_column(String(64))
    hs_prefixes: Mapped[list[Any]] = mapped_column(JSON)
    level: Mapped[str] = mapped_column(String(20))
    conditions: Mapped[list[Any]] = mapped_column(JSON)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        ForeignKeyConstraint(
            ["recognized_scheme_id", "category_code"],
            ["product_category.scheme_id", "product_category.code"],
            name="fk_scope_entry_category",
        ),
        ForeignKeyConstraint(
            ["recognizing_scheme_id", "equivalent_category_code"],
            ["product_category.scheme_id", "product_category.code"],
            name="fk_scope_entry_equivalent_category",
        ),
        CheckConstraint("level IN ('full', 'conditional', 'assessment_results')", name="level"),
        _window_check(),
    )


class ApiKeyRow(Base):
    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    scheme_ids: Mapped[list[Any]] = mapped_column(JSON)
    certification_body_id: Mapped[str | None] = mapped_column(ForeignKey("certification_body.id"))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = _created()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "role IN ('operator', 'scheme_operator', 'certification_body')", name="role"
        ),
    )


class AuditEventRow(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = _created()
    actor_key_id: Mapped[str] = mapped_column(String(36))
    actor_name: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(300))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
        Index("ix_audit_event_occurred_at", "occurred_at"),
    )


class RegistryRevisionRow(Base):
    """One row counting the registry's recorded write transactions (its revisions).

    Every write transaction that records a change takes the next value, once, at its first
    write, and holds the row locked until it commits (`persistence.revisions.recorded`), so
    revisions commit in their order.
    """

    __tablename__ = "registry_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class RegistryRevisionLogRow(Base):
    """When each revision was recorded: strictly increasing instants, never pruned.

    An instant names the revision recorded last at or before it (`as_recorded`); a revision
    below the first row here was recorded before this log existed (migration 0008).
    """

    __tablename__ = "registry_revision_log"

    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


class RegistryChangeRow(Base):
    """The change log: one row per entity a revision changed, kept forever.

    Written in the writer's transaction (`persistence.revisions.changed`): the entity's type
    and id as the audit trail names them (`certificate` as `scheme/number`,
    `product_category` as `scheme/code`). A process brings its cached facts up to date from
    the rows of the kinds it caches (ADR 0006).
    """

    __tablename__ = "registry_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(300))
    # What the public change feed says of it (ADR 0009, services/changes.py); kind NULL:
    # not in the feed (API keys, the import's summary, rows from before migration 0010).
    kind: Mapped[str | None] = mapped_column(String(30))
    effective_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(20))
    scheme_id: Mapped[str | None] = mapped_column(String(64))
    agreement_id: Mapped[str | None] = mapped_column(String(36))
    economy_code: Mapped[str | None] = mapped_column(String(10))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_registry_change_scheme_id", "scheme_id", "id"),
        # Only agreements' changes name one (migration 0016).
        Index(
            "ix_registry_change_agreement_id",
            "agreement_id",
            "id",
            postgresql_where=text("agreement_id IS NOT NULL"),
            sqlite_where=text("agreement_id IS NOT NULL"),
        ),
        Index("ix_registry_change_economy_code", "economy_code", "id"),
        Index("ix_registry_change_entity", "entity_type", "entity_id", "id"),
    )


class WebhookSubscriptionRow(Base):
    """A key's subscription to the change feed: where to deliver, which changes, and how it
    has gone (ADR 0009). `fanned_through`: the last change sequence turned into deliveries."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_key.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    scheme_id: Mapped[str | None] = mapped_column(String(64))
    certificate: Mapped[str | None] = mapped_column(String(200))
    agreement_id: Mapped[str | None] = mapped_column(String(36))
    economy_code: Mapped[str | None] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    fanned_through: Mapped[int] = mapped_column(BigInteger, default=0)
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class WebhookDeliveryRow(Base):
    """One change to deliver to one subscription, and its attempts so far.

    A worker claims a due delivery by setting `lease_until` (PostgreSQL: the rows picked with
    `FOR UPDATE SKIP LOCKED`); an attempt whose worker died is claimable again once its lease
    has run out. `entity_key` keeps per-entity order: a delivery is not claimed while an
    earlier one of the same subscription and entity is not delivered.
    """

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE")
    )
    change_id: Mapped[int] = mapped_column(BigInteger)
    entity_key: Mapped[str] = mapped_column(String(400))
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    claim: Mapped[str | None] = mapped_column(String(36))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("subscription_id", "change_id"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at", "id"),
        Index("ix_webhook_delivery_entity", "subscription_id", "entity_key", "id"),
        CheckConstraint("state IN ('pending', 'delivered')", name="state"),
    )


class FactVersionRow(Base):
    """The append-only log of the resolver's facts (ADR 0007): each version of an economy,
    scheme, product category or agreement, as the facts loader returns it (msgspec JSON of
    the domain object; NULL when the fact is gone), from the revision that recorded it until
    the one that superseded it (NULL while current)."""

    __tablename__ = "fact_version"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300))
    recorded_revision: Mapped[int] = mapped_column(BigInteger, index=True)
    superseded_revision: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_fact_version_key", "kind", "key", "recorded_revision"),)


class DecisionRow(Base):
    """A decision on the record: its receipt (the signed credential holding the question,
    the answer, the revision and the instant), as the protected header and the signature
    here and the credential's JSON in `decision_credential` (migration 0012), and what is
    looked up without reading it."""

    __tablename__ = "decision"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_key.id"), index=True)
    registry_revision: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    line_count: Mapped[int] = mapped_column(Integer)
    kid: Mapped[str] = mapped_column(String(100))
    protected: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('question', 'lines')", name="kind"),
        CheckConstraint("line_count >= 1", name="line_count"),
    )


class DecisionCredentialRow(Base):
    """A decision's credential (the receipt's payload): the JSON that was signed, compressed
    as a Zstandard frame (RFC 8878; zlib before migration 0013). Its row is written while
    the credential is signed, before the decision's own row: the foreign key is checked at
    commit."""

    __tablename__ = "decision_credential"

    decision_id: Mapped[str] = mapped_column(
        ForeignKey("decision.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        primary_key=True,
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
