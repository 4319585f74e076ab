"""The registry's domain model: frozen dataclasses with no framework imports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol, TypeVar

__all__ = [
    "Agreement",
    "AgreementParty",
    "AgreementStatus",
    "Authorization",
    "Certificate",
    "CertificateStatus",
    "CertificateTerms",
    "CertificationBody",
    "Chaining",
    "Condition",
    "Coverage",
    "Direction",
    "Economy",
    "EconomyKind",
    "Level",
    "Membership",
    "PartyStatus",
    "ProductCategory",
    "Purpose",
    "Scheme",
    "SchemeType",
    "ScopeEntry",
    "StatusChange",
    "StatusEvent",
    "StatusRecord",
    "status_on",
    "window_contains",
    "windows_overlap",
]


class EconomyKind(StrEnum):
    COUNTRY = "country"
    GROUP = "group"


class SchemeType(StrEnum):
    ISO14024 = "iso14024"
    ISO14021 = "iso14021"
    ISO14025 = "iso14025"
    GREEN_PRODUCT = "green-product"
    ENERGY = "energy"
    OTHER = "other"


class Coverage(StrEnum):
    """Whether every valid certificate of a scheme is registered here."""

    COMPLETE = "complete"
    PARTIAL = "partial"


class CertificateStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class AgreementStatus(StrEnum):
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class PartyStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class Direction(StrEnum):
    MUTUAL = "mutual"
    UNILATERAL = "unilateral"


class Purpose(StrEnum):
    """What an agreement does: recognize (certificates, tests or audits), or only cooperate
    (a memorandum of understanding, a framework, a work programme), which never recognizes."""

    RECOGNITION = "recognition"
    COOPERATION = "cooperation"


class Chaining(StrEnum):
    NOT_ALLOWED = "not_allowed"
    ALLOWED = "allowed"


class Level(StrEnum):
    """Recognition levels, strongest first; `native` only ever comes from the resolver."""

    NATIVE = "native"
    FULL = "full"
    CONDITIONAL = "conditional"
    ASSESSMENT_RESULTS = "assessment_results"

    @property
    def strength(self) -> int:
        """Higher is better: native 4, full 3, conditional 2, assessment_results 1."""
        return _LEVEL_STRENGTH[self]

    @property
    def recognized(self) -> bool:
        """Whether an answer at this level counts as recognition."""
        return self is not Level.ASSESSMENT_RESULTS


_LEVEL_STRENGTH = {
    Level.NATIVE: 4,
    Level.FULL: 3,
    Level.CONDITIONAL: 2,
    Level.ASSESSMENT_RESULTS: 1,
}


def window_contains(valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> bool:
    """Whether `on` lies in the inclusive window [valid_from, valid_to] (open end when None)."""
    return valid_from <= on and (valid_to is None or on <= valid_to)


def windows_overlap(
    a_from: dt.date, a_to: dt.date | None, b_from: dt.date, b_to: dt.date | None
) -> bool:
    """Whether two inclusive date windows share at least one day."""
    return (a_to is None or b_from <= a_to) and (b_to is None or a_from <= b_to)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One appended status change, effective from `effective_date` until the next one."""

    status: str
    effective_date: dt.date
    reason: str = ""
    id: str = ""
    recorded_at: dt.datetime | None = None


class StatusRecord(Protocol):
    """What a status timeline reads of an event: a `StatusEvent` or a `StatusChange`."""

    @property
    def status(self) -> str: ...
    @property
    def effective_date(self) -> dt.date: ...


class StatusChange(NamedTuple):
    """A status and the day it takes effect: a `StatusEvent` without its record keeping.

    A named tuple (immutable, compared and hashed by value like the dataclasses here): a
    batch builds tens of thousands of these and of `CertificateTerms`, and a tuple is built
    by one C call where a frozen dataclass pays an `object.__setattr__` per field.
    """

    status: str
    effective_date: dt.date


_S = TypeVar("_S", bound=StrEnum)


def status_on(events: Sequence[StatusRecord], on: dt.date, kind: type[_S]) -> _S | None:
    """The status in force on `on`: the latest event effective on or before it.

    Among events with the same effective date the one recorded last wins (the input order
    is the recording order). None when no event is effective yet.
    """
    current: StatusRecord | None = None
    for event in events:
        if event.effective_date <= on and (
            current is None or event.effective_date >= current.effective_date
        ):
            current = event
    return None if current is None else kind(current.status)


@dataclass(frozen=True, slots=True)
class Membership:
    """A member economy of a group over an inclusive date window."""

    member: str
    valid_from: dt.date
    valid_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Economy:
    """A country (ISO 3166-1 alpha-2) or a registered group of countries."""

    code: str
    name: str
    kind: EconomyKind
    members: tuple[Membership, ...] = ()
    version: int = 1

    def members_on(self, on: dt.date) -> frozenset[str]:
        """The member codes of a group on a date (empty for a country)."""
        return frozenset(
            m.member for m in self.members if window_contains(m.valid_from, m.valid_to, on)
        )


@dataclass(frozen=True, slots=True)
class Scheme:
    """An eco-label or green certification programme, keyed by a stable slug."""

    id: str
    name: str
    operator: str
    type: SchemeType
    home_economies: tuple[str, ...]
    certificate_coverage: Coverage = Coverage.PARTIAL
    website: str | None = None
    description: str | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class ProductCategory:
    """A scheme's criteria document for one kind of product."""

    scheme_id: str
    code: str
    name: str
    criteria_version: str
    valid_from: dt.date
    valid_to: dt.date | None
    hs_codes: tuple[str, ...]
    criteria: tuple[str, ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True)
class Authorization:
    """A certification body's authorization to certify for one scheme over a window."""

    scheme_id: str
    valid_from: dt.date
    valid_to: dt.date | None = None


@dataclass(frozen=True, slots=True)
class CertificationBody:
    """An organisation that issues certificates."""

    id: str
    name: str
    economy: str
    accreditation_ref: str | None
    authorizations: tuple[Authorization, ...] = ()
    version: int = 1


CERTIFICATE_TERMS_CHANGEABLE: tuple[str, ...] = (
    "category_code",
    "holder_name",
    "holder_economy",
    "product_name",
    "brand",
    "model",
    "gtins",
    "hs_codes",
    "valid_from",
    "valid_to",
)
"""The fields of a certificate that an update (PATCH or an import row) may change; its
scheme, number and issuing body stay, and its status changes only by status events."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """One certified product under a scheme, with its appended status history."""

    scheme_id: str
    number: str
    category_code: str
    holder_name: str
    holder_economy: str
    product_name: str
    valid_from: dt.date
    valid_to: dt.date
    brand: str | None = None
    model: str | None = None
    gtins: tuple[str, ...] = ()
    hs_codes: tuple[str, ...] = ()
    certification_body_id: str | None = None
    status_events: tuple[StatusEvent, ...] = ()
    version: int = 1

    def terms(self) -> CertificateTerms:
        """What recognition depends on in this certificate."""
        return CertificateTerms(
            self.scheme_id,
            self.number,
            self.category_code,
            self.valid_from,
            self.valid_to,
            self.hs_codes,
            tuple(StatusChange(e.status, e.effective_date) for e in self.status_events),
        )


class CertificateTerms(NamedTuple):
    """What recognition depends on in a certificate, and all that the resolver reads of one:
    its scheme, number, category, validity window, HS codes and status changes. The batch
    reads only these; holder, product, GTINs and the events' record keeping stay unread.
    A named tuple, as `StatusChange` is (cheap to build)."""

    scheme_id: str
    number: str
    category_code: str
    valid_from: dt.date
    valid_to: dt.date
    hs_codes: tuple[str, ...]
    status_events: tuple[StatusChange, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """A condition of a conditional recognition, optionally tied to criterion keys."""

    text: str
    criteria: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScopeEntry:
    """What one agreement recognizes of one scheme, at one level, over a window.

    `category_code` None means every category of the recognized scheme; an empty
    `hs_prefixes` means every HS code of the category. `recognizing_scheme_id` None means
    every other party (mutual agreements); `equivalent_category_code` is a category of the
    recognizing scheme.
    """

    id: str
    recognized_scheme_id: str
    level: Level
    valid_from: dt.date
    valid_to: dt.date | None = None
    recognizing_scheme_id: str | None = None
    category_code: str | None = None
    hs_prefixes: tuple[str, ...] = ()
    equivalent_category_code: str | None = None
    conditions: tuple[Condition, ...] = ()
    version: int = 1


@dataclass(frozen=True, slots=True)
class AgreementParty:
    """A scheme that signed an agreement, with its own status history."""

    scheme_id: str
    status_events: tuple[StatusEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Agreement:
    """A recognition agreement between schemes.

    For `unilateral` agreements `recognizing_scheme_id` recognizes `recognized_scheme_id`;
    for `mutual` ones both are None and every party recognizes every other. A `cooperation`
    agreement is stored and dated like any other but gives no route.
    """

    id: str
    title: str
    reference: str
    signed_on: dt.date | None
    direction: Direction
    chaining: Chaining
    effective_from: dt.date
    effective_to: dt.date | None
    parties: tuple[AgreementParty, ...]
    scope_entries: tuple[ScopeEntry, ...] = ()
    status_events: tuple[StatusEvent, ...] = ()
    recognizing_scheme_id: str | None = None
    recognized_scheme_id: str | None = None
    url: str | None = None
    version: int = 1
    purpose: Purpose = Purpose.RECOGNITION
    party_ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "party_ids", frozenset(p.scheme_id for p in self.parties))

    @property
    def multilateral(self) -> bool:
        """More than two parties."""
        return len(self.parties) > 2


# A certificate's own fields, as import files and table rows list them

CERTIFICATE_FIELDS: tuple[str, ...] = (
    "number",
    *CERTIFICATE_TERMS_CHANGEABLE[:-2],  # category_code to hs_codes
    "certification_body_id",
    *CERTIFICATE_TERMS_CHANGEABLE[-2:],  # valid_from, valid_to
)
"""A certificate's fields other than its scheme, status history and version, in the order
an import file's columns and the certificate table's rows list them."""
