"""Shared pieces of the request and response bodies: field types, base models, pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, Protocol, Self, TypeVar

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
from ecolabel_registry.domain.model import StatusEvent
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
S = TypeVar("S")
S_co = TypeVar("S_co", covariant=True)


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

    @classmethod
    def read(cls, source: object, **shown: Any) -> Self:
        """The body from `source`'s attributes of the same names, except the fields in `shown`,
        which give what the body shows instead (a derived value, or one read on a date)."""
        return cls.model_validate(
            {
                name: shown[name] if name in shown else getattr(source, name)
                for name in cls.model_fields
            }
        )


class Listed(Protocol[S_co]):
    """A page of a list as the services give it."""

    @property
    def items(self) -> Sequence[S_co]: ...

    @property
    def next_cursor(self) -> str | None: ...


class PageOut(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Listed[S], read: Callable[[S], T]) -> PageOut[T]:
        """The page with each item read into its response body."""
        return cls(items=[read(item) for item in page.items], next_cursor=page.next_cursor)


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored timestamp with its time zone: SQLite gives back naive UTC times."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


UtcInstant = Annotated[dt.datetime, AfterValidator(utc)]


class StatusEventRead(Output):
    id: str
    status: str
    effective_date: IsoDate
    reason: str
    recorded_at: UtcInstant | None


class StatusEventCreate(Input):
    """A status event's body; each kind of entity narrows `status` to its own statuses."""

    status: str
    effective_date: IsoDate
    reason: Reason

    def to_domain(self) -> StatusEvent:
        return StatusEvent(str(self.status), self.effective_date, self.reason)


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


def domain_fields(body: BaseModel, **given: Any) -> dict[str, Any]:
    """Every field of a create body, with lists as tuples: its domain object's arguments;
    `given` replaces (or adds) the ones the domain object takes in another form."""
    fields = {name: tuple(value) if isinstance(value, list) else value for name, value in body}
    return fields | given
