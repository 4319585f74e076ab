"""Rule 6 of the resolver: reasons for a miss and the explanations of answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ecolabel_registry.domain.model import (
    Agreement,
    AgreementStatus,
    Level,
    PartyStatus,
    Scheme,
    ScopeEntry,
)
from ecolabel_registry.domain.resolver.answers import Answer, Reason, ReasonCode, Route
from ecolabel_registry.domain.resolver.timeline import day_before

if TYPE_CHECKING:
    from ecolabel_registry.domain.resolver.certificate import Query
    from ecolabel_registry.domain.resolver.links import Link


def sentence(clause: str) -> str:
    """A clause as a sentence: capitalized, with a full stop."""
    return clause[:1].upper() + clause[1:] + "."


def listed(codes: Iterable[str]) -> str:
    """Codes as a comma-separated list, or "none"."""
    return ", ".join(codes) or "none"


def link_failure(
    schemes: Mapping[str, Scheme], link: Link, on: dt.date
) -> tuple[ReasonCode, str, str] | None:
    """Why an agreement gives no route on `on` for this pair, whatever its scope."""
    agreement = link.agreement
    title = f"agreement '{agreement.title}'"
    if on < agreement.effective_from:
        return (
            ReasonCode.AGREEMENT_NOT_IN_FORCE,
            f"{title} takes effect only on {agreement.effective_from}",
            link.recognizing,
        )
    if agreement.effective_to is not None and on > agreement.effective_to:
        return (
            ReasonCode.AGREEMENT_NOT_IN_FORCE,
            f"{title} ended on {agreement.effective_to}",
            link.recognizing,
        )
    status = link.status.at(on)
    if status == AgreementStatus.TERMINATED:
        return (
            ReasonCode.AGREEMENT_NOT_IN_FORCE,
            f"{title} was terminated on {link.status.since(on)}",
            link.recognizing,
        )
    if status == AgreementStatus.SUSPENDED:
        return (
            ReasonCode.AGREEMENT_SUSPENDED,
            f"{title} has been suspended since {link.status.since(on)}",
            link.recognizing,
        )
    for party_id, party in (
        (link.recognizing, link.recognizing_party),
        (link.recognized, link.recognized_party),
    ):
        party_status = party.at(on)
        if party_status != PartyStatus.ACTIVE:
            verb = "suspended from" if party_status == PartyStatus.SUSPENDED else "withdrawn from"
            return (
                ReasonCode.PARTY_SUSPENDED,
                f"{scheme_name(schemes, party_id)} has been {verb} {title} since {party.since(on)}",
                party_id,
            )
    return None


def scope_miss(
    schemes: Mapping[str, Scheme], link: Link, query: Query, covering: Sequence[ScopeEntry]
) -> tuple[Reason, str]:
    """Why `link` gives no route for the query: its scope misses the category or HS code."""
    title = f"agreement '{link.agreement.title}'"
    recognizing = scheme_name(schemes, link.recognizing)
    pair = f"{recognizing} recognizes {scheme_name(schemes, link.recognized)}"
    category = f"the category '{query.category.name}' ({query.category.code})"
    if not covering:
        code = ReasonCode.CATEGORY_NOT_IN_SCOPE
        clause = f"the scope of {title}, under which {pair}, does not cover {category}"
    else:
        code = ReasonCode.HS_CODE_NOT_IN_SCOPE
        prefixes = sorted({p for e in covering for p in e.hs_prefixes})
        declared = (
            f"HS code {query.hs_code}"
            if query.hs_code is not None
            else f"the certificate's HS codes ({listed(query.hs_codes)})"
        )
        clause = (
            f"the scope of {title}, under which {pair}, covers {category} only for "
            f"HS codes {listed(prefixes)}, not {declared}"
        )
    return Reason(code, sentence(clause), link.agreement.id, link.recognizing), clause


def negative_answer(
    target: str,
    on: dt.date,
    misses: Sequence[tuple[Reason, str]],
    bound: dt.date | None,
) -> Answer:
    """A negative answer; the explanation quotes the first miss."""
    first = misses[0][1]
    more = len(misses) - 1
    if more > 0:
        first += f" ({more} more reason{'s' if more > 1 else ''} listed)"
    return Answer(
        recognized=False,
        level=None,
        routes=(),
        reasons=tuple(reason for reason, _clause in misses),
        conditions=(),
        valid_until=day_before(bound) if bound is not None else None,
        explanation=f"Not recognized in {target} on {on}: {first}.",
    )


def explain_route(
    schemes: Mapping[str, Scheme], agreements: Mapping[str, Agreement], target: str, route: Route
) -> str:
    """The explanation of a positive answer whose best route is `route`."""
    path = route.path
    agreement = agreements.get(route.agreement_id or "")
    title = agreement.title if agreement is not None else route.agreement_id
    chain = scheme_name(schemes, path[-1].recognizing_scheme_id)
    for step in reversed(path):
        chain += f"{' recognizes ' if step is path[-1] else ', which recognizes '}"
        chain += scheme_name(schemes, step.recognized_scheme_id)
    via = (
        f"agreement '{title}' ({chain})"
        if len(path) == 1
        else f"a chain of {len(path)} agreements ending with '{title}' ({chain})"
    )
    if route.level == Level.FULL:
        return f"Recognized in {target} as equivalent under {via}."
    if route.level == Level.CONDITIONAL:
        return f"Recognized in {target} on conditions under {via}."
    return (
        f"Not recognized in {target}, but the assessment results behind the certificate "
        f"are accepted under {via}: the product must still be certified there."
    )


def scheme_name(schemes: Mapping[str, Scheme], scheme_id: str) -> str:
    """A scheme's name, or its id when the facts do not hold it."""
    scheme = schemes.get(scheme_id)
    return scheme.name if scheme is not None else scheme_id


def no_agreement(
    schemes: Mapping[str, Scheme], target: str, operative: Sequence[str], scheme_id: str
) -> tuple[Reason, str]:
    """`NO_AGREEMENT`: no scheme is `operative` in the target, or no agreement links any of
    them to the certificate's scheme."""
    if not operative:
        clause = f"no scheme in the registry is operative in {target}"
        return Reason(ReasonCode.NO_AGREEMENT, sentence(clause)), clause
    names = ", ".join(scheme_name(schemes, s) for s in operative)
    clause = (
        f"no agreement is on record under which {names} "
        f"recognizes {scheme_name(schemes, scheme_id)}"
    )
    return Reason(ReasonCode.NO_AGREEMENT, sentence(clause), None, scheme_id), clause
