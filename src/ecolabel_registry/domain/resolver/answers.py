"""What the resolver answers with (routes, reasons, answers, plans) and the facts it reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ecolabel_registry.domain.model import Agreement, Condition, Economy, Level, Scheme

MAX_CHAIN_LENGTH = 3
"""The most agreements a chained route may pass through (docs/domain.md, rule 5)."""


class ReasonCode(StrEnum):
    """Why a certificate is not recognized, or why one agreement gives no route."""

    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_SUSPENDED = "CERTIFICATE_SUSPENDED"
    CERTIFICATE_WITHDRAWN = "CERTIFICATE_WITHDRAWN"
    CRITERIA_EXPIRED = "CRITERIA_EXPIRED"
    HS_CODE_NOT_COVERED_BY_CERTIFICATE = "HS_CODE_NOT_COVERED_BY_CERTIFICATE"
    NO_AGREEMENT = "NO_AGREEMENT"
    COOPERATION_ONLY = "COOPERATION_ONLY"
    AGREEMENT_NOT_IN_FORCE = "AGREEMENT_NOT_IN_FORCE"
    AGREEMENT_SUSPENDED = "AGREEMENT_SUSPENDED"
    PARTY_SUSPENDED = "PARTY_SUSPENDED"
    CATEGORY_NOT_IN_SCOPE = "CATEGORY_NOT_IN_SCOPE"
    HS_CODE_NOT_IN_SCOPE = "HS_CODE_NOT_IN_SCOPE"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a miss; `scheme_id` is the scheme it is about (see docs/resolution.md)."""

    code: ReasonCode
    message: str
    agreement_id: str | None = None
    scheme_id: str | None = None


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One agreement on a route: `recognizing_scheme_id` recognizes `recognized_scheme_id`."""

    agreement_id: str
    scope_entry_id: str
    recognizing_scheme_id: str
    recognized_scheme_id: str
    level: Level


@dataclass(frozen=True, slots=True)
class Route:
    """One way a certificate is accepted in the target.

    A native route has the certificate's own scheme as `recognizing_scheme_id`, no agreement
    and an empty path. An agreement route lists every agreement in `path`, starting with the
    one that recognizes the certificate's scheme; `agreement_id` and `scope_entry_id` are
    those of the last step, whose recognizing scheme is operative in the target.
    """

    basis: Literal["native", "agreement"]
    level: Level
    recognizing_scheme_id: str
    agreement_id: str | None
    scope_entry_id: str | None
    conditions: tuple[Condition, ...]
    valid_until: dt.date | None
    path: tuple[RouteStep, ...]
    equivalent_category_code: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to "is this certificate recognized in this economy on this date?"."""

    recognized: bool
    level: Level | None
    routes: tuple[Route, ...]
    reasons: tuple[Reason, ...]
    conditions: tuple[Condition, ...]
    valid_until: dt.date | None
    explanation: str


@dataclass(frozen=True, slots=True)
class PlanOption:
    """What a certificate of one scheme's category would give in each target market.

    `score` is the level strength summed over the targets (native 4, full 3, conditional 2,
    assessment results 1, none 0); options are ranked by the number of targets recognized,
    then by score, then by scheme id.
    """

    scheme_id: str
    category_code: str
    recognized_in: tuple[str, ...]
    levels: Mapping[str, Level | None]
    score: int


@dataclass(frozen=True)
class RegistryFacts:
    """The slowly changing facts the resolver reads: economies, schemes and agreements.

    `economies` holds at least every group with its memberships; countries may be absent.
    """

    economies: Mapping[str, Economy]
    schemes: Mapping[str, Scheme]
    agreements: Sequence[Agreement]
