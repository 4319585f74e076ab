"""Certificates: registration, changes and their appended status history."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from ecolabel_registry.domain.model import (
    CERTIFICATE_TERMS_CHANGEABLE,
    Certificate,
    CertificateStatus,
    CertificationBody,
    ProductCategory,
    StatusEvent,
    StatusRecord,
)
from ecolabel_registry.domain.validation import (
    Loc,
    check_gtins,
    check_hs_codes,
    check_starts_within,
    check_window,
    gtin_check_digit_ok,
    hs_match,
    normal_gtin,
    normal_gtins,
    sub_resource_suffix,
)
from ecolabel_registry.services._common import audit, id_cursor, page_of, raise_if, revised
from ecolabel_registry.services.authz import require_issuing_body
from ecolabel_registry.services.ports.registry import (
    CertificateFilter,
    CertificateLists,
    Page,
    Registry,
    SearchTerm,
)

CERTIFICATE_UPDATABLE = frozenset(CERTIFICATE_TERMS_CHANGEABLE)


MAX_SEARCH_TERMS = 8


def search_terms(q: str) -> tuple[SearchTerm, ...]:
    """The words of a search box (split on spaces), each to be found as the beginning of a word
    of the certificate's number, holder, product name, brand or model, in any case.

    Characters that are not letters or digits separate words: a query word holding some
    (`BENCH-0001-0024542`) is found as its parts in a row. A query word without any letter
    or digit is left out. A word that is a GTIN in any form (GTIN-8, -12, -13 or -14 with a
    valid check digit) also carries its 14-digit form, which is how the registry stores
    GTINs (`normal_gtin`).
    """
    words = list(dict.fromkeys(w for w in q.lower().split() if any(c.isalnum() for c in w)))
    if not words:
        raise InvalidInput.single(
            ("query", "q"), "type at least one word of letters or digits, e.g. q=kettle"
        )
    if len(words) > MAX_SEARCH_TERMS:
        raise InvalidInput.single(
            ("query", "q"),
            f"at most {MAX_SEARCH_TERMS} words, e.g. q=acme kettle; {len(words)} were given",
        )
    return tuple(
        SearchTerm(w, normal_gtin(w) if w.isascii() and gtin_check_digit_ok(w) else None)
        for w in words
    )


def _encode(cursor: int) -> str:
    return str(cursor)


def _normal(filters: CertificateFilter) -> CertificateFilter:
    """The filters as stored values compare with them (a GTIN in its 14-digit form)."""
    if filters.gtin is not None:
        return dataclasses.replace(filters, gtin=normal_gtin(filters.gtin))
    return filters


def _page(rows: list[tuple[int, Certificate]], limit: int) -> Page[Certificate]:
    """The page of `rows` read with `limit + 1`, its cursor the last id shown."""
    items = rows[:limit]
    next_cursor = _encode(items[-1][0]) if len(rows) > limit else None
    return Page([c for _, c in items], next_cursor)


class CertificateSearch:
    """The lists of certificates of the API (`GET /v1/certificates`, a scheme's list):
    `CertificateService.search` (which the web pages use) read without a session, on the
    event loop."""

    def __init__(self, lists: CertificateLists) -> None:
        self._l = lists

    async def search(
        self, filters: CertificateFilter, cursor: str | None, limit: int
    ) -> Page[Certificate]:
        """Certificates matching every given filter, in registration order; NotFound for an
        unknown scheme (also when the cursor is not one, as `CertificateService.search`)."""
        filters = _normal(filters)
        try:
            after = id_cursor(cursor)
        except InvalidInput:
            await self._known(filters.scheme_id)
            raise
        rows = await self._l.find(filters, after, limit + 1)
        if not rows:  # a scheme with certificates exists
            await self._known(filters.scheme_id)
        return _page(rows, limit)

    async def _known(self, scheme_id: str | None) -> None:
        if scheme_id is not None and not await self._l.scheme_exists(scheme_id):
            raise NotFound(f"no scheme {scheme_id!r}")


class CertificateService:
    """Registers certificates and appends their status events."""

    def __init__(self, registry: Registry) -> None:
        self._r = registry

    def get(self, scheme_id: str, number: str) -> Certificate:
        """The certificate, or NotFound (saying whether the scheme's coverage is complete)."""
        certificate = self._r.certificates.get(scheme_id, number)
        if certificate is None:
            raise self._not_found(scheme_id, number)
        return certificate

    def _not_found(self, scheme_id: str, number: str) -> NotFound:
        if self._r.schemes.get(scheme_id) is None:
            return NotFound(f"no scheme {scheme_id!r}")
        return NotFound(f"no certificate {number!r} under scheme {scheme_id!r}")

    def status_events(
        self, scheme_id: str, number: str, cursor: str | None, limit: int
    ) -> Page[StatusEvent]:
        """A page of the certificate's status history, in the order it was recorded."""
        after = id_cursor(cursor)
        events = self._r.certificates.status_events(scheme_id, number, after, limit + 1)
        if not events and self._r.certificates.get(scheme_id, number) is None:
            raise self._not_found(scheme_id, number)
        return page_of(events, limit, lambda e: e.id)

    def search(
        self, filters: CertificateFilter, cursor: str | None, limit: int
    ) -> Page[Certificate]:
        """Certificates matching every given filter, in registration order."""
        if filters.scheme_id is not None and self._r.schemes.get(filters.scheme_id) is None:
            raise NotFound(f"no scheme {filters.scheme_id!r}")
        rows = self._r.certificates.find(_normal(filters), id_cursor(cursor), limit + 1)
        return _page(rows, limit)

    def create(self, actor: Actor, certificate: Certificate, reason: str = "issued") -> Certificate:
        """Register a certificate; its history starts with `active` on its first valid day."""
        if self._r.schemes.get(certificate.scheme_id) is None:
            raise NotFound(f"no scheme {certificate.scheme_id!r}")
        if actor.role is Role.CERTIFICATION_BODY and certificate.certification_body_id is None:
            certificate = dataclasses.replace(
                certificate, certification_body_id=actor.certification_body_id
            )
        certificate = dataclasses.replace(certificate, gtins=normal_gtins(certificate.gtins))
        body = self._check(certificate)
        require_issuing_body(
            actor, body, certificate.scheme_id, certificate.valid_from, "register it"
        )
        if self._r.certificates.get(certificate.scheme_id, certificate.number) is not None:
            raise Conflict(
                f"scheme {certificate.scheme_id!r} already has a certificate {certificate.number!r}"
            )
        first = StatusEvent(CertificateStatus.ACTIVE, certificate.valid_from, reason)
        saved = self._r.certificates.add(
            dataclasses.replace(certificate, status_events=(first,), version=1)
        )
        audit(self._r, actor, "certificate.create", "certificate", _key(saved), None, saved)
        return saved

    def update(
        self,
        actor: Actor,
        scheme_id: str,
        number: str,
        changes: Mapping[str, Any],
        expected_version: int | None,
    ) -> Certificate:
        """Change a certificate's fields (not its status: that is an appended event)."""
        current = self.get(scheme_id, number)
        require_issuing_body(
            actor,
            self._body(current.certification_body_id),
            scheme_id,
            current.valid_from,
            "change it",
        )
        what = f"certificate {scheme_id}/{number}"
        updated = revised(current, changes, CERTIFICATE_UPDATABLE, expected_version, what)
        updated = dataclasses.replace(updated, gtins=normal_gtins(updated.gtins))
        body = self._check(updated)
        require_issuing_body(actor, body, scheme_id, updated.valid_from, "change it")
        saved = self._r.certificates.update(updated)
        audit(self._r, actor, "certificate.update", "certificate", _key(saved), current, saved)
        return saved

    def add_status_event(
        self, actor: Actor, scheme_id: str, number: str, event: StatusEvent
    ) -> tuple[int, StatusEvent]:
        """Append a status event; a withdrawal is final, so nothing may follow it.

        The certificate is held against other writers before its history is read, until the
        transaction ends: events sent at the same moment are checked one after the other.
        Returns the certificate's new version and the recorded event (also the audit's
        record: the history is not read or copied again).
        """
        locked = self._r.certificates.lock(scheme_id, number)
        if locked is None:
            raise self._not_found(scheme_id, number)
        current = locked.certificate
        require_issuing_body(
            actor,
            self._body(current.certification_body_id),
            scheme_id,
            current.valid_from,
            "change its status",
        )
        check_event_starts(current, event)
        check_status_event(number, locked.history, event)
        saved_event, version = self._r.certificates.add_status_event(scheme_id, number, event)
        audit(
            self._r,
            actor,
            "certificate.status_event",
            "certificate",
            _key(current),
            None,
            saved_event,
            parent=current,
        )
        return version, saved_event

    def _body(self, body_id: str | None) -> CertificationBody | None:
        return None if body_id is None else self._r.bodies.get(body_id)

    def check(self, certificate: Certificate) -> CertificationBody | None:
        """Validate a certificate as a create does (InvalidInput); its issuing body, if any."""
        return self._check(certificate)

    def _check(self, certificate: Certificate) -> CertificationBody | None:
        """Validate every field against the registry; the issuing body when there is one."""
        r = self._r
        return check_certificate(
            certificate,
            r.categories.get,
            lambda code: code in r.economies.kinds([code]),
            r.bodies.get,
        )


def check_certificate(
    certificate: Certificate,
    category_of: Callable[[str, str], ProductCategory | None],
    economy_known: Callable[[str], bool],
    body_of: Callable[[str], CertificationBody | None],
) -> CertificationBody | None:
    """Validate every field of a certificate against the registry's categories, economies and
    bodies, given as look-ups (InvalidInput); the issuing body when there is one."""
    errors: list[FieldError] = []
    b = ("body",)
    if not certificate.number.strip():
        errors.append(FieldError((*b, "number"), "must not be blank"))
    suffix = sub_resource_suffix(certificate.number)
    if suffix is not None:
        errors.append(
            FieldError(
                (*b, "number"),
                f"a certificate number may not end in {suffix!r}: the certificate's path "
                f"would name its {suffix[1:]}; FR/044/017 is fine",
            )
        )
    category = category_of(certificate.scheme_id, certificate.category_code)
    if category is None:
        errors.append(
            FieldError(
                (*b, "category_code"),
                f"scheme {certificate.scheme_id!r} has no product category "
                f"{certificate.category_code!r}",
            )
        )
    if not economy_known(certificate.holder_economy):
        errors.append(
            FieldError((*b, "holder_economy"), f"unknown economy {certificate.holder_economy!r}")
        )
    check_window(errors, b, certificate.valid_from, certificate.valid_to)
    check_gtins(errors, (*b, "gtins"), certificate.gtins)
    check_hs_codes(errors, (*b, "hs_codes"), certificate.hs_codes)
    if category is not None:
        _check_hs_within_category(errors, certificate, category)
    body = None
    if certificate.certification_body_id is not None:
        body = body_of(certificate.certification_body_id)
        if body is None:
            errors.append(
                FieldError(
                    (*b, "certification_body_id"),
                    f"unknown certification body {certificate.certification_body_id!r}",
                )
            )
    raise_if(errors)
    return body


def check_status_event(number: str, history: Sequence[StatusRecord], event: StatusEvent) -> None:
    """Whether `event` may be appended to `history`: a reason, and a withdrawal is final."""
    if not event.reason.strip():
        raise InvalidInput.single(("body", "reason"), "a reason is required")
    for past in history:
        if (
            past.status == CertificateStatus.WITHDRAWN
            and event.effective_date >= past.effective_date
        ):
            raise Conflict(
                f"certificate {number} was withdrawn with effect from {past.effective_date}; "
                "a withdrawal is final"
            )
    if event.status == CertificateStatus.WITHDRAWN:
        later = [e for e in history if e.effective_date > event.effective_date]
        if later:
            raise Conflict(
                f"certificate {number} has a {later[-1].status} event effective "
                f"{later[-1].effective_date}, after {event.effective_date}; a withdrawal is "
                "final, so it cannot take effect before events already recorded"
            )


def check_event_starts(
    certificate: Certificate, event: StatusEvent, loc: Loc = ("body", "effective_date")
) -> None:
    """A status event takes effect on or after the certificate's valid_from (InvalidInput)."""
    errors: list[FieldError] = []
    check_starts_within(
        errors, loc, event.effective_date, "certificate", "valid_from", certificate.valid_from
    )
    raise_if(errors)


def _check_hs_within_category(
    errors: list[FieldError], certificate: Certificate, category: ProductCategory
) -> None:
    for i, code in enumerate(certificate.hs_codes):
        if code.isdigit() and not any(hs_match(code, c) for c in category.hs_codes):
            errors.append(
                FieldError(
                    ("body", "hs_codes", i),
                    f"HS code {code} is outside category {category.code}'s HS codes "
                    f"({', '.join(category.hs_codes)})",
                )
            )


def _key(certificate: Certificate) -> str:
    return f"{certificate.scheme_id}/{certificate.number}"
