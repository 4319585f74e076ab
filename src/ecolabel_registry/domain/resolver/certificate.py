"""Rules 1 and 2 of the resolver: does the certificate itself hold on the query date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    CertificateTerms,
    ProductCategory,
    ScopeEntry,
    window_contains,
)
from ecolabel_registry.domain.resolver.answers import Answer, Reason, ReasonCode
from ecolabel_registry.domain.resolver.reasons import listed, negative_answer, sentence
from ecolabel_registry.domain.resolver.timeline import (
    Timeline,
    day_before,
    earliest,
    window_change_day,
)
from ecolabel_registry.domain.validation import hs_match


@dataclass(frozen=True, slots=True)
class Query:
    """A certificate that holds on the query date, with what the resolver needs of it."""

    certificate: Certificate | CertificateTerms
    category: ProductCategory
    on: dt.date
    hs_code: str | None
    hs_codes: tuple[str, ...]
    until: dt.date | None  # last day the certificate itself still holds
    bound: dt.date | None  # first day after `on` on which a certificate fact changes

    @property
    def scheme_id(self) -> str:
        return self.certificate.scheme_id


def check_certificate(
    certificate: Certificate | CertificateTerms,
    category: ProductCategory,
    target: str,
    on: dt.date,
    hs_code: str | None,
) -> Query | Answer:
    """Rules 1 and 2: the certificate holds on `on` (and covers `hs_code`), as a Query, or
    the negative answer saying why not. Raises ValueError when `category` is not the
    certificate's category."""
    if category.scheme_id != certificate.scheme_id or category.code != certificate.category_code:
        msg = (
            f"category {category.scheme_id}/{category.code} is not the category of "
            f"certificate {certificate.scheme_id}/{certificate.number}"
        )
        raise ValueError(msg)
    status = Timeline(certificate.status_events, CertificateStatus, CertificateStatus.ACTIVE)
    window_change = window_change_day(certificate.valid_from, certificate.valid_to, on)
    status_change = status.next_change(on)
    category_change = window_change_day(category.valid_from, category.valid_to, on)

    def miss(code: ReasonCode, clause: str, bound: dt.date | None) -> Answer:
        reason = Reason(code, sentence(clause), scheme_id=certificate.scheme_id)
        return negative_answer(target, on, [(reason, clause)], bound)

    if on < certificate.valid_from:
        return miss(
            ReasonCode.CERTIFICATE_NOT_YET_VALID,
            f"the certificate is valid only from {certificate.valid_from}",
            window_change,
        )
    if on > certificate.valid_to:
        return miss(
            ReasonCode.CERTIFICATE_EXPIRED,
            f"the certificate expired on {certificate.valid_to}",
            None,
        )
    current = status.at(on)
    if current != CertificateStatus.ACTIVE:
        code = (
            ReasonCode.CERTIFICATE_WITHDRAWN
            if current == CertificateStatus.WITHDRAWN
            else ReasonCode.CERTIFICATE_SUSPENDED
        )
        return miss(
            code,
            f"the certificate was {current.value} on {status.since(on)}",
            earliest(window_change, status_change),
        )
    if not window_contains(category.valid_from, category.valid_to, on):
        criteria = (
            f"the criteria of category '{category.name}' (version {category.criteria_version})"
        )
        clause = (
            f"{criteria} apply only from {category.valid_from}"
            if on < category.valid_from
            else f"{criteria} expired on {category.valid_to}"
        )
        return miss(
            ReasonCode.CRITERIA_EXPIRED,
            clause,
            earliest(window_change, status_change, category_change),
        )
    bound = earliest(window_change, status_change, category_change)
    hs_codes = certificate.hs_codes or category.hs_codes
    if hs_code is not None and not any(hs_match(hs_code, c) for c in hs_codes):
        return miss(
            ReasonCode.HS_CODE_NOT_COVERED_BY_CERTIFICATE,
            f"HS code {hs_code} is not covered by the certificate (HS {listed(hs_codes)})",
            bound,
        )
    until = earliest(
        certificate.valid_to,
        category.valid_to,
        day_before(status_change) if status_change is not None else None,
    )
    return Query(certificate, category, on, hs_code, hs_codes, until, bound)


def entry_covers_hs(entry: ScopeEntry, query: Query) -> bool:
    if not entry.hs_prefixes:
        return True
    if query.hs_code is not None:
        return any(hs_match(query.hs_code, p) for p in entry.hs_prefixes)
    return any(hs_match(c, p) for c in query.hs_codes for p in entry.hs_prefixes)


def planned_query(category: ProductCategory, on: dt.date, hs_code: str | None) -> Query:
    """The query for a certificate of `category` as if it held on `on` (for plans)."""
    return Query(
        certificate=_planned_certificate(category, on),
        category=category,
        on=on,
        hs_code=hs_code,
        hs_codes=category.hs_codes,
        until=None,
        bound=None,
    )


def _planned_certificate(category: ProductCategory, on: dt.date) -> Certificate:
    return Certificate(
        scheme_id=category.scheme_id,
        number="(planned)",
        category_code=category.code,
        holder_name="",
        holder_economy="",
        product_name="",
        valid_from=on,
        valid_to=on,
    )
