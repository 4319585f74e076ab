"""Repository ports the services depend on; persistence implements them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ecolabel_registry.domain.model import (
    Agreement,
    Certificate,
    CertificationBody,
    Economy,
    EconomyKind,
    ProductCategory,
    Purpose,
    Scheme,
    ScopeEntry,
    StatusChange,
    StatusEvent,
)
from ecolabel_registry.services.ports.audit import AuditRecord
from ecolabel_registry.services.ports.changes import ChangeFacts

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


class EconomyRepository(Protocol):
    def get(self, code: str) -> Economy | None: ...
    def kinds(self, codes: Iterable[str]) -> dict[str, EconomyKind]: ...
    def find(self, after: str | None, limit: int, kind: EconomyKind | None) -> list[Economy]: ...
    def groups(self) -> list[Economy]: ...
    def save_group(self, group: Economy, expected_version: int | None) -> Economy: ...


class SchemeRepository(Protocol):
    def get(self, scheme_id: str) -> Scheme | None: ...
    def existing(self, ids: Iterable[str]) -> set[str]: ...
    def find(self, after: str | None, limit: int, ids: set[str] | None) -> list[Scheme]: ...
    def all(self) -> list[Scheme]: ...
    def add(self, scheme: Scheme) -> Scheme: ...
    def update(self, scheme: Scheme) -> Scheme: ...


class CategoryRepository(Protocol):
    def get(self, scheme_id: str, code: str) -> ProductCategory | None: ...
    def find(self, scheme_id: str, after: str | None, limit: int) -> list[ProductCategory]: ...
    def covering(self, hs_code: str) -> list[ProductCategory]: ...
    def add(self, category: ProductCategory) -> ProductCategory: ...
    def update(self, category: ProductCategory) -> ProductCategory: ...


class BodyRepository(Protocol):
    def get(self, body_id: str) -> CertificationBody | None: ...
    def find(
        self, after: str | None, limit: int, scheme_id: str | None
    ) -> list[CertificationBody]: ...
    def add(self, body: CertificationBody) -> CertificationBody: ...
    def update(self, body: CertificationBody) -> CertificationBody: ...


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """One word of a text search, in lower case; `gtin`: its 14-digit form when it is a GTIN."""

    text: str
    gtin: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateFilter:
    """Filters of a certificate search; None means no filter."""

    scheme_id: str | None = None
    category_code: str | None = None
    gtin: str | None = None
    holder: str | None = None
    hs_code: str | None = None
    certification_body_id: str | None = None
    # Every term must match (number, holder, product, brand, model or GTIN).
    terms: tuple[SearchTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class LockedCertificate:
    """A certificate that no one else writes until this transaction ends: its fields (its
    `status_events` left empty) and its status history as recorded, status and day only."""

    certificate: Certificate
    history: tuple[StatusChange, ...]


class CertificateRepository(Protocol):
    def get(self, scheme_id: str, number: str) -> Certificate | None: ...
    def lock(self, scheme_id: str, number: str) -> LockedCertificate | None: ...
    def status_events(
        self, scheme_id: str, number: str, after: int | None, limit: int
    ) -> list[StatusEvent]: ...
    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Certificate]: ...
    def find(
        self, filters: CertificateFilter, after: int | None, limit: int
    ) -> list[tuple[int, Certificate]]: ...
    def add(self, certificate: Certificate) -> Certificate: ...
    def update(self, certificate: Certificate) -> Certificate: ...
    def add_status_event(
        self, scheme_id: str, number: str, event: StatusEvent
    ) -> tuple[StatusEvent, int]:
        """Append the event; it and the certificate's new version."""
        ...


class CertificateLists(Protocol):
    """Lists of certificates read without a session, on the event loop
    (persistence.hot.HotCertificates): `CertificateRepository.find` asynchronously, and
    whether a scheme exists."""

    async def find(
        self, filters: CertificateFilter, after: int | None, limit: int
    ) -> list[tuple[int, Certificate]]: ...

    async def scheme_exists(self, scheme_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class AgreementFilter:
    """Filters of an agreement list; None means no filter."""

    scheme_ids: frozenset[str] | None = None
    in_force_on: dt.date | None = None
    purpose: Purpose | None = None


class AgreementRepository(Protocol):
    def get(self, agreement_id: str) -> Agreement | None: ...
    def lock(self, agreement_id: str) -> bool:
        """Hold the agreement against other writers until the transaction ends; whether it
        exists."""
        ...

    def status_events(
        self, agreement_id: str, after: int | None, limit: int
    ) -> list[StatusEvent]: ...
    def party_status_events(
        self, agreement_id: str, scheme_id: str, after: int | None, limit: int
    ) -> list[StatusEvent]: ...
    def scope_entries(
        self, agreement_id: str, after: str | None, limit: int
    ) -> list[ScopeEntry] | None:
        """A page of the scope entries in their order; None when `after` is none of them."""
        ...

    def find(self, filters: AgreementFilter, after: str | None, limit: int) -> list[Agreement]: ...
    def all(self) -> list[Agreement]: ...
    def add(self, agreement: Agreement) -> Agreement: ...
    def update(self, agreement: Agreement) -> Agreement: ...
    def add_status_event(self, agreement_id: str, event: StatusEvent) -> StatusEvent: ...
    def add_party_status_event(
        self, agreement_id: str, scheme_id: str, event: StatusEvent
    ) -> StatusEvent: ...
    def add_scope_entry(self, agreement_id: str, entry: ScopeEntry) -> ScopeEntry: ...
    def update_scope_entry(
        self, agreement_id: str, entry: ScopeEntry, expected_version: int
    ) -> ScopeEntry: ...
    def scope_entry_version(self, entry_id: str) -> int | None: ...
    def touch(self, agreement_id: str) -> None: ...


class AuditLog(Protocol):
    def record(self, entry: AuditRecord) -> None: ...


class Registry(Protocol):
    """Every repository of one unit of work (one transaction)."""

    @property
    def economies(self) -> EconomyRepository: ...

    @property
    def schemes(self) -> SchemeRepository: ...

    @property
    def categories(self) -> CategoryRepository: ...

    @property
    def bodies(self) -> BodyRepository: ...

    @property
    def certificates(self) -> CertificateRepository: ...

    @property
    def agreements(self) -> AgreementRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    def changed(self, entity_type: str, entity_id: str, facts: ChangeFacts | None = None) -> None:
        """Record that this transaction changed the entity (its audit type and id): the
        transaction's revision is taken (once) and the entity logged in the change log,
        which every process reads to bring its cached facts up to date (ADR 0006), with
        `facts`, what the public change feed says of it (ADR 0009)."""
