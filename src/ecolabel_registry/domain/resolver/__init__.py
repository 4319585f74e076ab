"""The equivalence resolver: the rules of docs/resolution.md over in-memory facts.

`engine` holds the Resolver; `answers` what it answers with; `certificate` (rules 1 and 2),
`routes` (rules 4 and 5) and `reasons` (rule 6) the rules; `links` the cached indexes of
agreements; `timeline` the date arithmetic.
"""

from ecolabel_registry.domain.resolver.answers import (
    MAX_CHAIN_LENGTH,
    Answer,
    PlanOption,
    Reason,
    ReasonCode,
    RegistryFacts,
    Route,
    RouteStep,
)
from ecolabel_registry.domain.resolver.engine import Resolver

__all__ = [
    "MAX_CHAIN_LENGTH",
    "Answer",
    "PlanOption",
    "Reason",
    "ReasonCode",
    "RegistryFacts",
    "Resolver",
    "Route",
    "RouteStep",
]
