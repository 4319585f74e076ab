"""Bodies of schemes and their product categories."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ecolabel_registry.api.schemas.common import (
    CategoryCode,
    CriterionKey,
    EconomyCode,
    HsCode,
    Input,
    IsoDate,
    LongText,
    Name,
    Output,
    Slug,
    Url,
    domain_fields,
)
from ecolabel_registry.domain.model import (
    Coverage,
    ProductCategory,
    Scheme,
    SchemeType,
)


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
        return Scheme(**domain_fields(self))


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


class CategoryCreate(Input):
    code: CategoryCode
    name: Name
    criteria_version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    hs_codes: list[HsCode] = Field(min_length=1, max_length=500)
    criteria: list[CriterionKey] = Field(default_factory=list, max_length=500)

    def to_domain(self, scheme_id: str) -> ProductCategory:
        return ProductCategory(scheme_id=scheme_id, **domain_fields(self))


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
