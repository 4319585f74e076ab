"""Request and response bodies, and their conversion to and from the domain model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ecolabel_registry.domain.errors import FieldError, InvalidInput
from ecolabel_registry.domain.messages import date_message
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    AgreementStatus,
    Authorization,
    Certificate,
    CertificateStatus,
    CertificationBody,
    Chaining,
    Condition,
    Coverage,
    Direction,
    Economy,
    EconomyKind,
    Level,
    Membership,
    PartyStatus,
    ProductCategory,
    Purpose,
    Scheme,
    SchemeType,
    ScopeEntry,
    StatusEvent,
    status_on,
    window_contains,
)
from ecolabel_registry.domain.validation import (
    CERTIFICATE_NUMBER_MAX_LENGTH,
    CERTIFICATE_NUMBER_RULE,
    CODE_PATTERN,
    CRITERION_PATTERN,
    ECONOMY_CODE_PATTERN,
    GTIN_PATTERN,
    HS_CODE_PATTERN,
    SLUG_PATTERN,
    URL_PATTERN,
    is_certificate_number,
)

EconomyCode = Annotated[
    str, StringConstraints(pattern=ECONOMY_CODE_PATTERN), Field(examples=["KR"])
]
HsCode = Annotated[str, StringConstraints(pattern=HS_CODE_PATTERN), Field(examples=["320810"])]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN), Field(examples=["eu-ecolabel"])]
CategoryCode = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
CriterionKey = Annotated[str, StringConstraints(pattern=CRITERION_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2000)]


def _certificate_number(value: str) -> str:
    if not is_certificate_number(value):
        raise PydanticCustomError("certificate_number", "must be " + CERTIFICATE_NUMBER_RULE)
    return value


CertificateNumber = Annotated[
    str,
    AfterValidator(_certificate_number),
    Field(
        min_length=1,
        max_length=CERTIFICATE_NUMBER_MAX_LENGTH,
        description="The certificate number: " + CERTIFICATE_NUMBER_RULE + ".",
        examples=["KR-2023-0042"],
    ),
]
Gtin = Annotated[str, StringConstraints(pattern=GTIN_PATTERN)]
SchemeIdPath = Annotated[str, Field(max_length=64)]


def _iso_date_only(value: Any) -> Any:
    """Dates come as "YYYY-MM-DD" strings: a number is not read as a Unix time."""
    if isinstance(value, str | dt.date):
        return value
    raise ValueError(date_message(value))


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]

T = TypeVar("T")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # No text of the registry holds NUL, and PostgreSQL cannot store one.
        if _holds_nul(value):
            raise ValueError("must not contain NUL (\\u0000) characters")
        return value


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageOut(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None


# Economies


class MembershipIO(Input):
    member: EconomyCode
    valid_from: IsoDate
    valid_to: IsoDate | None = None


class MembershipRead(Output):
    member: str
    valid_from: IsoDate
    valid_to: IsoDate | None


class GroupPut(Input):
    """A group and all its memberships (a PUT replaces them)."""

    name: Name
    members: list[MembershipIO] = Field(max_length=1000)


class EconomyRead(Output):
    code: str
    name: str
    kind: EconomyKind
    members: list[MembershipRead]
    version: int

    @classmethod
    def of(cls, e: Economy) -> EconomyRead:
        return cls(
            code=e.code,
            name=e.name,
            kind=e.kind,
            members=[
                MembershipRead(member=m.member, valid_from=m.valid_from, valid_to=m.valid_to)
                for m in e.members
            ],
            version=e.version,
        )


def memberships(body: GroupPut) -> list[Membership]:
    return [Membership(m.member, m.valid_from, m.valid_to) for m in body.members]


class MembershipAdd(Input):
    """One more membership window of the member named in the path."""

    valid_from: IsoDate
    valid_to: IsoDate | None = None


class MembershipEnd(Input):
    valid_to: IsoDate = Field(description="The member's last day in the group.")


# Schemes


class SchemeCreate(Input):
    id: Slug
    name: Name
    operator: Name
    type: SchemeType
    home_economies: list[EconomyCode] = Field(min_length=1, max_length=300)
    certificate_coverage: Coverage = Coverage.PARTIAL
    website: Url | None = None
    description: LongText | None = None

    def to_domain(self) -> Scheme:
        return Scheme(
            id=self.id,
            name=self.name,
            operator=self.operator,
            type=self.type,
            home_economies=tuple(self.home_economies),
            certificate_coverage=self.certificate_coverage,
            website=self.website,
            description=self.description,
        )


class SchemeUpdate(Input):
    name: Name | None = None
    operator: Name | None = None
    type: SchemeType | None = None
    home_economies: list[EconomyCode] | None = Field(default=None, min_length=1, max_length=300)
    certificate_coverage: Coverage | None = None
    website: Url | None = None
    description: LongText | None = None


class SchemeRead(Output):
    id: str
    name: str
    operator: str
    type: SchemeType
    home_economies: list[str]
    certificate_coverage: Coverage
    website: str | None
    description: str | None
    version: int

    @classmethod
    def of(cls, s: Scheme) -> SchemeRead:
        return cls(
            id=s.id,
            name=s.name,
            operator=s.operator,
            type=s.type,
            home_economies=list(s.home_economies),
            certificate_coverage=s.certificate_coverage,
            website=s.website,
            description=s.description,
            version=s.version,
        )


class CategoryCreate(Input):
    code: CategoryCode
    name: Name
    criteria_version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    hs_codes: list[HsCode] = Field(min_length=1, max_length=500)
    criteria: list[CriterionKey] = Field(default_factory=list, max_length=500)

    def to_domain(self, scheme_id: str) -> ProductCategory:
        return ProductCategory(
            scheme_id=scheme_id,
            code=self.code,
            name=self.name,
            criteria_version=self.criteria_version,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            hs_codes=tuple(self.hs_codes),
            criteria=tuple(self.criteria),
        )


class CategoryUpdate(Input):
    name: Name | None = None
    criteria_version: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None
    hs_codes: list[HsCode] | None = Field(default=None, min_length=1, max_length=500)
    criteria: list[CriterionKey] | None = Field(default=None, max_length=500)


class CategoryRead(Output):
    scheme_id: str
    code: str
    name: str
    criteria_version: str
    valid_from: IsoDate
    valid_to: IsoDate | None
    hs_codes: list[str]
    criteria: list[str]
    version: int

    @classmethod
    def of(cls, c: ProductCategory) -> CategoryRead:
        return cls(
            scheme_id=c.scheme_id,
            code=c.code,
            name=c.name,
            criteria_version=c.criteria_version,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            hs_codes=list(c.hs_codes),
            criteria=list(c.criteria),
            version=c.version,
        )


# Certification bodies


class AuthorizationIO(Input):
    scheme_id: Slug
    valid_from: IsoDate
    valid_to: IsoDate | None = None


class AuthorizationRead(Output):
    scheme_id: str
    valid_from: IsoDate
    valid_to: IsoDate | None


class CertificationBodyCreate(Input):
    id: Slug
    name: Name
    economy: EconomyCode
    accreditation_ref: Annotated[str, StringConstraints(max_length=300)] | None = None
    authorizations: list[AuthorizationIO] = Field(default_factory=list, max_length=500)

    def to_domain(self) -> CertificationBody:
        return CertificationBody(
            id=self.id,
            name=self.name,
            economy=self.economy,
            accreditation_ref=self.accreditation_ref,
            authorizations=authorizations(self.authorizations),
        )


def authorizations(items: list[AuthorizationIO]) -> tuple[Authorization, ...]:
    return tuple(Authorization(a.scheme_id, a.valid_from, a.valid_to) for a in items)


class CertificationBodyUpdate(Input):
    name: Name | None = None
    economy: EconomyCode | None = None
    accreditation_ref: Annotated[str, StringConstraints(max_length=300)] | None = None
    authorizations: list[AuthorizationIO] | None = Field(default=None, max_length=500)


class CertificationBodyRead(Output):
    id: str
    name: str
    economy: str
    accreditation_ref: str | None
    authorizations: list[AuthorizationRead]
    version: int

    @classmethod
    def of(cls, b: CertificationBody) -> CertificationBodyRead:
        return cls(
            id=b.id,
            name=b.name,
            economy=b.economy,
            accreditation_ref=b.accreditation_ref,
            authorizations=[
                AuthorizationRead(
                    scheme_id=a.scheme_id, valid_from=a.valid_from, valid_to=a.valid_to
                )
                for a in b.authorizations
            ],
            version=b.version,
        )


# Status events


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored timestamp with its time zone: SQLite gives back naive UTC times."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


class StatusEventRead(Output):
    id: str
    status: str
    effective_date: IsoDate
    reason: str
    recorded_at: dt.datetime | None

    @classmethod
    def of(cls, e: StatusEvent) -> StatusEventRead:
        return cls(
            id=e.id,
            status=str(e.status),
            effective_date=e.effective_date,
            reason=e.reason,
            recorded_at=None if e.recorded_at is None else utc(e.recorded_at),
        )


class CertificateStatusEventCreate(Input):
    status: CertificateStatus
    effective_date: IsoDate
    reason: Reason

    def to_domain(self) -> StatusEvent:
        return StatusEvent(self.status.value, self.effective_date, self.reason)


class AgreementStatusEventCreate(Input):
    status: Literal["in_force", "suspended", "terminated"]
    effective_date: IsoDate
    reason: Reason

    def to_domain(self) -> StatusEvent:
        return StatusEvent(self.status, self.effective_date, self.reason)


class PartyStatusEventCreate(Input):
    status: Literal["active", "suspended", "withdrawn"]
    effective_date: IsoDate
    reason: Reason

    def to_domain(self) -> StatusEvent:
        return StatusEvent(self.status, self.effective_date, self.reason)


# Certificates


class CertificateCreate(Input):
    number: CertificateNumber
    category_code: CategoryCode
    holder_name: Name
    holder_economy: EconomyCode
    product_name: Name
    brand: Annotated[str, StringConstraints(max_length=200)] | None = None
    model: Annotated[str, StringConstraints(max_length=200)] | None = None
    gtins: list[Gtin] = Field(default_factory=list, max_length=1000)
    hs_codes: list[HsCode] = Field(default_factory=list, max_length=100)
    certification_body_id: Slug | None = None
    valid_from: IsoDate
    valid_to: IsoDate

    def to_domain(self, scheme_id: str) -> Certificate:
        return Certificate(
            scheme_id=scheme_id,
            number=self.number,
            category_code=self.category_code,
            holder_name=self.holder_name,
            holder_economy=self.holder_economy,
            product_name=self.product_name,
            brand=self.brand,
            model=self.model,
            gtins=tuple(self.gtins),
            hs_codes=tuple(self.hs_codes),
            certification_body_id=self.certification_body_id,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class CertificateUpdate(Input):
    category_code: CategoryCode | None = None
    holder_name: Name | None = None
    holder_economy: EconomyCode | None = None
    product_name: Name | None = None
    brand: Annotated[str, StringConstraints(max_length=200)] | None = None
    model: Annotated[str, StringConstraints(max_length=200)] | None = None
    gtins: list[Gtin] | None = Field(default=None, max_length=1000)
    hs_codes: list[HsCode] | None = Field(default=None, max_length=100)
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None


class CertificateRead(Output):
    scheme_id: str
    number: str
    category_code: str
    holder_name: str
    holder_economy: str
    product_name: str
    brand: str | None
    model: str | None
    gtins: list[str]
    hs_codes: list[str] = Field(
        description="The certificate's own HS codes; empty means its category's."
    )
    certification_body_id: str | None
    valid_from: IsoDate
    valid_to: IsoDate
    status: CertificateStatus | None = Field(
        description="The status today, from the status history."
    )
    status_events: list[StatusEventRead]
    version: int

    @classmethod
    def of(cls, c: Certificate, today: dt.date) -> CertificateRead:
        return cls(
            scheme_id=c.scheme_id,
            number=c.number,
            category_code=c.category_code,
            holder_name=c.holder_name,
            holder_economy=c.holder_economy,
            product_name=c.product_name,
            brand=c.brand,
            model=c.model,
            gtins=list(c.gtins),
            hs_codes=list(c.hs_codes),
            certification_body_id=c.certification_body_id,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
            status=status_on(c.status_events, today, CertificateStatus),
            status_events=[StatusEventRead.of(e) for e in c.status_events],
            version=c.version,
        )


# Agreements


class ConditionIO(Input):
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    criteria: list[CriterionKey] = Field(default_factory=list, max_length=100)


class ConditionRead(Output):
    text: str
    criteria: list[str]


class ScopeEntryCreate(Input):
    recognized_scheme_id: Slug
    recognizing_scheme_id: Slug | None = None
    category_code: CategoryCode | None = Field(default=None, description="None: every category.")
    hs_prefixes: list[HsCode] = Field(
        default_factory=list, max_length=500, description="Empty: every HS code."
    )
    equivalent_category_code: CategoryCode | None = None
    level: Literal["full", "conditional", "assessment_results"]
    conditions: list[ConditionIO] = Field(default_factory=list, max_length=100)
    valid_from: IsoDate
    valid_to: IsoDate | None = None

    def to_domain(self) -> ScopeEntry:
        return ScopeEntry(
            id="",
            recognized_scheme_id=self.recognized_scheme_id,
            recognizing_scheme_id=self.recognizing_scheme_id,
            category_code=self.category_code,
            hs_prefixes=tuple(self.hs_prefixes),
            equivalent_category_code=self.equivalent_category_code,
            level=Level(self.level),
            conditions=tuple(Condition(c.text, tuple(c.criteria)) for c in self.conditions),
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class ScopeEntryEnd(Input):
    valid_to: IsoDate = Field(description="The last day the entry applies.")


class ScopeEntryRead(Output):
    id: str
    recognized_scheme_id: str
    recognizing_scheme_id: str | None
    category_code: str | None
    hs_prefixes: list[str]
    equivalent_category_code: str | None
    level: str
    conditions: list[ConditionRead]
    valid_from: IsoDate
    valid_to: IsoDate | None
    version: int = Field(description="The entry's version: its ETag, for ending it.")

    @classmethod
    def of(cls, e: ScopeEntry) -> ScopeEntryRead:
        return cls(
            id=e.id,
            recognized_scheme_id=e.recognized_scheme_id,
            recognizing_scheme_id=e.recognizing_scheme_id,
            category_code=e.category_code,
            hs_prefixes=list(e.hs_prefixes),
            equivalent_category_code=e.equivalent_category_code,
            level=e.level.value,
            conditions=[
                ConditionRead(text=c.text, criteria=list(c.criteria)) for c in e.conditions
            ],
            valid_from=e.valid_from,
            valid_to=e.valid_to,
            version=e.version,
        )


class AgreementCreate(Input):
    title: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
    reference: Annotated[
        str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)
    ]
    url: Url | None = None
    signed_on: IsoDate | None = None
    direction: Direction
    purpose: Purpose = Field(
        default=Purpose.RECOGNITION,
        description="recognition, or cooperation (a memorandum of understanding or framework, "
        "which never gives a route).",
    )
    chaining: Chaining = Chaining.NOT_ALLOWED
    effective_from: IsoDate
    effective_to: IsoDate | None = None
    parties: list[Slug] = Field(min_length=2, max_length=200)
    recognizing_scheme_id: Slug | None = None
    recognized_scheme_id: Slug | None = None
    scope_entries: list[ScopeEntryCreate] = Field(default_factory=list, max_length=1000)

    def to_domain(self) -> Agreement:
        return Agreement(
            id="",
            title=self.title,
            reference=self.reference,
            url=self.url,
            signed_on=self.signed_on,
            direction=self.direction,
            purpose=self.purpose,
            chaining=self.chaining,
            effective_from=self.effective_from,
            effective_to=self.effective_to,
            parties=tuple(AgreementParty(p) for p in self.parties),
            recognizing_scheme_id=self.recognizing_scheme_id,
            recognized_scheme_id=self.recognized_scheme_id,
            scope_entries=tuple(e.to_domain() for e in self.scope_entries),
        )


class AgreementUpdate(Input):
    title: (
        Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
        | None
    ) = None
    reference: (
        Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
        | None
    ) = None
    url: Url | None = None
    signed_on: IsoDate | None = None
    effective_to: IsoDate | None = None
    chaining: Chaining | None = None
    purpose: Purpose | None = None


class PartyRead(Output):
    scheme_id: str
    status: str | None = Field(description="The party's status on the date read (`on`).")
    status_events: list[StatusEventRead]


class AgreementRead(Output):
    id: str
    title: str
    reference: str
    url: str | None
    signed_on: IsoDate | None
    kind: Literal["bilateral", "multilateral"]
    purpose: Purpose
    direction: Direction
    chaining: Chaining
    effective_from: IsoDate
    effective_to: IsoDate | None
    recognizing_scheme_id: str | None
    recognized_scheme_id: str | None
    parties: list[PartyRead]
    scope_entries: list[ScopeEntryRead] = Field(
        description="Every scope entry, or with `on` only those valid on that date."
    )
    on: IsoDate = Field(description="The date the statuses are read on: today, or `on`.")
    status: str | None = Field(description="The agreement's status on the date read (`on`).")
    status_events: list[StatusEventRead]
    version: int

    @classmethod
    def of(cls, a: Agreement, today: dt.date, *, entries_on: bool = False) -> AgreementRead:
        """The agreement with its statuses on `today`; with `entries_on`, only the scope
        entries valid on that date."""
        return cls(
            id=a.id,
            title=a.title,
            reference=a.reference,
            url=a.url,
            signed_on=a.signed_on,
            kind="multilateral" if a.multilateral else "bilateral",
            purpose=a.purpose,
            direction=a.direction,
            chaining=a.chaining,
            effective_from=a.effective_from,
            effective_to=a.effective_to,
            recognizing_scheme_id=a.recognizing_scheme_id,
            recognized_scheme_id=a.recognized_scheme_id,
            parties=[
                PartyRead(
                    scheme_id=p.scheme_id,
                    status=_value(
                        status_on(p.status_events, today, PartyStatus) or PartyStatus.ACTIVE
                    ),
                    status_events=[StatusEventRead.of(e) for e in p.status_events],
                )
                for p in a.parties
            ],
            scope_entries=[
                ScopeEntryRead.of(e)
                for e in a.scope_entries
                if not entries_on or window_contains(e.valid_from, e.valid_to, today)
            ],
            on=today,
            status=_value(status_on(a.status_events, today, AgreementStatus)),
            status_events=[StatusEventRead.of(e) for e in a.status_events],
            version=a.version,
        )


def _value(status: Any) -> str | None:
    return None if status is None else str(status.value)


def changes(update: BaseModel, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields a PATCH body sets, with lists as tuples; null only where a field allows it."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name in sorted(update.model_fields_set):
        value = getattr(update, name)
        if value is None and name not in nullable:
            errors.append(FieldError(("body", name), "cannot be null", "null_not_allowed"))
        if isinstance(value, list):
            value = tuple(value)
        out[name] = value
    if errors:
        raise InvalidInput(errors)
    return out
