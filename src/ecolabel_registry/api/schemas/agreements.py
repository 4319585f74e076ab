"""Bodies of agreements, their parties, scope entries and status events."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ecolabel_registry.api.schemas.common import (
    CategoryCode,
    CriterionKey,
    HsCode,
    Input,
    IsoDate,
    Output,
    Slug,
    StatusEventCreate,
    StatusEventRead,
    Url,
    domain_fields,
)
from ecolabel_registry.domain.model import (
    Agreement,
    AgreementParty,
    AgreementStatus,
    Chaining,
    Condition,
    Direction,
    Level,
    PartyStatus,
    Purpose,
    ScopeEntry,
    status_on,
    window_contains,
)
from ecolabel_registry.services.impact import MAX_GROUPS


class AgreementStatusEventCreate(StatusEventCreate):
    status: Literal["in_force", "suspended", "terminated"]


class PartyStatusEventCreate(StatusEventCreate):
    status: Literal["active", "suspended", "withdrawn"]


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
            **domain_fields(
                self,
                id="",
                level=Level(self.level),
                conditions=tuple(Condition(c.text, tuple(c.criteria)) for c in self.conditions),
            )
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
            **domain_fields(
                self,
                id="",
                parties=tuple(AgreementParty(p) for p in self.parties),
                scope_entries=tuple(e.to_domain() for e in self.scope_entries),
            )
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
        return cls.read(
            a,
            kind="multilateral" if a.multilateral else "bilateral",
            parties=[
                PartyRead.read(
                    p,
                    status=_value(
                        status_on(p.status_events, today, PartyStatus) or PartyStatus.ACTIVE
                    ),
                )
                for p in a.parties
            ],
            scope_entries=[
                e
                for e in a.scope_entries
                if not entries_on or window_contains(e.valid_from, e.valid_to, today)
            ],
            on=today,
            status=_value(status_on(a.status_events, today, AgreementStatus)),
        )


def _value(status: Any) -> str | None:
    return None if status is None else str(status.value)


# Impact


class EconomyImpactRead(Output):
    economy: str
    certificates: int = Field(description="Certificates whose answer here would change.")
    no_longer_recognized: int = Field(description="Of those, the ones that would lose recognition.")


class ImpactRead(Output):
    on: dt.date
    certificates: int = Field(description="Certificates whose answer changes in some economy.")
    economies: list[EconomyImpactRead] = Field(description="Most certificates first.")
    groups: int = Field(
        description="Groups of alike certificates (scheme, category, HS codes) evaluated."
    )
    complete: bool = Field(
        description=f"false when more than {MAX_GROUPS} groups would be needed: the figures "
        "then count the largest groups only."
    )
