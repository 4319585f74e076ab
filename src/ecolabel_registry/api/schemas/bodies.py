"""Bodies of certification bodies and their authorizations."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ecolabel_registry.api.schemas.common import (
    EconomyCode,
    Input,
    IsoDate,
    Name,
    Output,
    Slug,
)
from ecolabel_registry.domain.model import (
    Authorization,
    CertificationBody,
)


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
