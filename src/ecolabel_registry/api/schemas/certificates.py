"""Bodies of certificates and their status events."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from pydantic import Field, StringConstraints

from ecolabel_registry.api.schemas.common import (
    CategoryCode,
    CertificateNumber,
    EconomyCode,
    Gtin,
    HsCode,
    Input,
    IsoDate,
    Listed,
    Name,
    Output,
    Slug,
    StatusEventCreate,
    StatusEventRead,
    domain_fields,
)
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    status_on,
)


class CertificateStatusEventCreate(StatusEventCreate):
    status: CertificateStatus


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
        return Certificate(scheme_id=scheme_id, **domain_fields(self))


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
        return cls.read(c, status=status_on(c.status_events, today, CertificateStatus))


_FIELDS = tuple(CertificateRead.model_fields)
_EVENT_FIELDS = tuple(StatusEventRead.model_fields)
_SHOWN = frozenset({"status", "status_events"})
# As pydantic writes them: a UTC instant ends in Z; lists of tuples are arrays.
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def certificate_page_json(page: Listed[Certificate], today: dt.date) -> bytes:
    """The body of a page of certificates, `PageOut[CertificateRead]` of `CertificateRead.of`
    each: the same fields in the same order (the models' own), the same JSON, without
    building and validating the models (a search writes 20 to 1,000 of them). The one
    writer of the pages of certificates, on every path that answers one."""
    return orjson.dumps(
        {"items": [_read(c, today) for c in page.items], "next_cursor": page.next_cursor},
        option=_JSON_OPTIONS,
    )


def _read(c: Certificate, today: dt.date) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "status": status_on(c.status_events, today, CertificateStatus),
        "status_events": [
            {name: getattr(e, name) for name in _EVENT_FIELDS} for e in c.status_events
        ],
    }
    return {name: shown[name] if name in _SHOWN else getattr(c, name) for name in _FIELDS}
