"""Bodies of certificates and their status events."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from ecolabel_registry.api.schemas.common import (
    CategoryCode,
    CertificateNumber,
    EconomyCode,
    Gtin,
    HsCode,
    Input,
    IsoDate,
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
