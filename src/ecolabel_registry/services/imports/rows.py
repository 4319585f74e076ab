"""One import row to a staged certificate: cell conversion, the checks of a create, row errors.

The registry look-ups the checks need (categories, economies, bodies) go through `Lookups`,
which asks the registry once per key and import instead of once per row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecolabel_registry.domain.access import Actor, Role
from ecolabel_registry.domain.errors import Conflict, FieldError, Forbidden, InvalidInput
from ecolabel_registry.domain.model import (
    Certificate,
    CertificateStatus,
    CertificationBody,
    StatusEvent,
)
from ecolabel_registry.domain.validation import (
    CERTIFICATE_NUMBER_RULE,
    CODE_PATTERN,
    ECONOMY_CODE_PATTERN,
    SLUG_PATTERN,
    is_certificate_number,
    iso_day,
    normal_gtins,
)
from ecolabel_registry.services.authz import require_issuing_body
from ecolabel_registry.services.certificates import (
    check_certificate,
    check_event_starts,
    check_status_event,
)
from ecolabel_registry.services.imports.formats import MAX_LISTED_ERRORS, shown
from ecolabel_registry.services.ports.imports import StagedCertificate, restore_cell
from ecolabel_registry.services.ports.registry import Registry

FIRST_REASON = "issued"
STATUS_REASON = "imported"

_CODE = re.compile(CODE_PATTERN)
_ECONOMY = re.compile(ECONOMY_CODE_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_STATUSES = frozenset(s.value for s in CertificateStatus)


# Row errors


class ImportRejected(InvalidInput):
    """The file has bad rows; nothing was written. `errors` lists at most MAX_LISTED_ERRORS."""

    def __init__(self, errors: list[FieldError], error_count: int, rows: int, bad_rows: int):
        listed = len(errors)
        more = error_count - listed
        detail = (
            f"{bad_rows} of {rows} rows are invalid ({error_count} errors); nothing was imported"
            + (f"; the first {listed} errors are listed, {more} more are not" if more else "")
        )
        super().__init__(errors, detail)
        self.error_count = error_count
        self.rows = rows
        self.bad_rows = bad_rows
        self.problem_extra = {
            "rows": rows,
            "invalid_rows": bad_rows,
            "error_count": error_count,
            "errors_not_listed": more,
        }


class RowErrors:
    """Row errors, capped: the first MAX_LISTED_ERRORS are kept, all are counted."""

    def __init__(self) -> None:
        self.listed: list[FieldError] = []
        self.count = 0
        self.rows: set[int] = set()
        self.forbidden: list[tuple[int, str]] = []

    def add(
        self, row: int, loc: Sequence[str | int], message: str, kind: str = "value_error"
    ) -> None:
        self.count += 1
        self.rows.add(row)
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append(FieldError(("body", "rows", row, *loc), message, kind))

    def add_domain(self, row: int, exc: InvalidInput) -> None:
        for e in exc.errors:
            loc = e.loc[1:] if e.loc and e.loc[0] == "body" else e.loc
            self.add(row, loc, e.message, e.type)

    def forbid(self, row: int, message: str) -> None:
        if len(self.forbidden) < 10:
            self.forbidden.append((row, message))
        self.rows.add(row)

    def raise_if_any(self, rows: int) -> None:
        if self.forbidden:
            listed = "; ".join(f"row {r}: {m}" for r, m in self.forbidden)
            raise Forbidden(f"nothing was imported: {listed}")
        if self.count:
            self.listed.sort(key=lambda e: e.loc[2] if isinstance(e.loc[2], int) else 0)
            raise ImportRejected(self.listed, self.count, rows, len(self.rows))


# One row to a certificate


@dataclass(slots=True)
class _Row:
    """Field conversion of one row, collecting errors as (loc, message)."""

    values: dict[str, Any]
    csv: bool
    errors: list[tuple[tuple[str | int, ...], str]] = dataclasses.field(default_factory=list)

    def fail(self, name: str | tuple[str | int, ...], message: str) -> None:
        self.errors.append(((name,) if isinstance(name, str) else name, message))

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        if self.csv and isinstance(value, str):
            value = restore_cell(value)
            if value == "":
                return None
        return value

    def text(
        self,
        name: str,
        *,
        pattern: re.Pattern[str] | None = None,
        max_length: int = 300,
        strip: bool = False,
        required: bool = False,
        what: str = "",
    ) -> str | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        if not isinstance(value, str):
            self.fail(name, "must be a string")
            return None
        if strip:
            value = value.strip()
            if not value:
                if required:
                    self.fail(name, "must not be blank")
                return None
        if len(value) > max_length:
            self.fail(name, f"is longer than {max_length} characters")
            return None
        if "\x00" in value:
            self.fail(name, "must not contain NUL (\\u0000) characters")
            return None
        if pattern is not None and not pattern.match(value):
            self.fail(name, f"{value!r} is not {what}")
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        value = self.raw(name)
        if value is None:
            if required:
                self.fail(name, "is required")
            return None
        day = iso_day(value)
        if day is not None:
            return day
        self.fail(name, f"{shown(value)} is not a date (YYYY-MM-DD)")
        return None

    def codes(self, name: str, max_items: int) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if self.csv and isinstance(value, str):
            items: list[Any] = [v.strip() for v in value.split(";") if v.strip()]
        elif isinstance(value, list):
            items = value
        else:
            self.fail(name, "must be a list of strings")
            return ()
        if not all(isinstance(v, str) for v in items):
            self.fail(name, "must be a list of strings")
            return ()
        if len(items) > max_items:
            self.fail(name, f"has more than {max_items} items")
            return ()
        return tuple(items)

    def status(self, name: str | tuple[str | int, ...], value: Any) -> str | None:
        if value not in _STATUSES:
            self.fail(name, f"{shown(value)} is not one of {', '.join(sorted(_STATUSES))}")
            return None
        return str(value)

    def events(self) -> tuple[StatusEvent, ...] | None:
        value = self.raw("status_events")
        if value is None:
            return None
        if self.csv and isinstance(value, str):
            try:
                value = json.loads(value)
            except RecursionError:
                self.fail("status_events", "is nested too deeply to be a list of status events")
                return None
            except ValueError:
                self.fail("status_events", "must be a JSON list of status events")
                return None
        if not isinstance(value, list) or not value:
            self.fail("status_events", "must be a non-empty list of status events")
            return None
        events: list[StatusEvent] = []
        for i, item in enumerate(value):
            loc = ("status_events", i)
            if not isinstance(item, dict) or set(item) - {"status", "effective_date", "reason"}:
                self.fail(loc, "must be an object with status, effective_date and reason")
                continue
            status = self.status(loc, item.get("status"))
            day = item.get("effective_date")
            date = iso_day(day)
            if date is None:
                self.fail(loc, f"effective_date {shown(day)} is not a date (YYYY-MM-DD)")
            reason = item.get("reason")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
                self.fail(loc, "reason must be 1 to 2000 characters")
                reason = None
            elif "\x00" in reason:
                self.fail(loc, "reason must not contain NUL (\\u0000) characters")
                reason = None
            if status is not None and date is not None and reason is not None:
                events.append(StatusEvent(status, date, reason.strip()))
        return tuple(events)


def convert(
    scheme_id: str, values: dict[str, Any], is_csv: bool
) -> tuple[Certificate | None, StatusEvent | None, tuple[StatusEvent, ...] | None, _Row]:
    r = _Row(values, is_csv)
    number = r.text("number", max_length=100, required=True)
    if number is not None and not is_certificate_number(number):
        r.fail("number", f"{number!r} is not a certificate number: {CERTIFICATE_NUMBER_RULE}")
        number = None
    category = r.text(
        "category_code", pattern=_CODE, max_length=64, required=True, what="a category code"
    )
    holder = r.text("holder_name", strip=True, required=True)
    economy = r.text(
        "holder_economy", pattern=_ECONOMY, max_length=10, required=True, what="an economy code"
    )
    product = r.text("product_name", strip=True, required=True)
    brand = r.text("brand", max_length=200)
    model = r.text("model", max_length=200)
    gtins = r.codes("gtins", 1000)
    hs_codes = r.codes("hs_codes", 100)
    body = r.text("certification_body_id", pattern=_SLUG, max_length=64, what="a body id")
    valid_from = r.date("valid_from", required=True)
    valid_to = r.date("valid_to", required=True)
    status_value = r.raw("status")
    status: StatusEvent | None = None
    status_date = r.date("status_effective_date")
    status_reason = r.text("status_reason", strip=True, max_length=2000)
    if status_value is not None:
        name = r.status("status", status_value)
        if status_date is None and "status_effective_date" not in {e[0][0] for e in r.errors}:
            r.fail("status_effective_date", "is required with status")
        if name is not None and status_date is not None:
            status = StatusEvent(name, status_date, status_reason or STATUS_REASON)
    elif status_date is not None or status_reason is not None:
        r.fail("status", "is required with status_effective_date or status_reason")
    history = r.events()
    if history is not None and status is not None:
        latest = latest_event(history)
        if latest is not None and (latest.status, latest.effective_date) != (
            status.status,
            status.effective_date,
        ):
            r.fail(
                "status",
                f"{status.status} on {status.effective_date} is not the latest event of "
                f"status_events ({latest.status} on {latest.effective_date})",
            )
    if r.errors:
        return None, None, None, r
    assert number is not None
    assert category is not None
    assert holder is not None
    assert economy is not None
    assert product is not None
    assert valid_from is not None
    assert valid_to is not None
    certificate = Certificate(
        scheme_id=scheme_id,
        number=number,
        category_code=category,
        holder_name=holder,
        holder_economy=economy,
        product_name=product,
        valid_from=valid_from,
        valid_to=valid_to,
        brand=brand,
        model=model,
        gtins=normal_gtins(gtins),
        hs_codes=hs_codes,
        certification_body_id=body,
    )
    return certificate, status, history, r


def latest_event(events: Sequence[StatusEvent]) -> StatusEvent | None:
    """The event that decides the status from its date on: the latest effective, last recorded."""
    latest: StatusEvent | None = None
    for e in events:
        if latest is None or e.effective_date >= latest.effective_date:
            latest = e
    return latest


def same_event(a: StatusEvent, b: StatusEvent) -> bool:
    return (str(a.status), a.effective_date, a.reason) == (
        str(b.status),
        b.effective_date,
        b.reason,
    )


def append_events(
    number: str, history: Sequence[StatusEvent], new: Sequence[StatusEvent]
) -> tuple[list[StatusEvent], str | None]:
    """Check each new event against the history before it; the events, or an error."""
    done = list(history)
    for event in new:
        try:
            check_status_event(number, done, event)
        except (Conflict, InvalidInput) as exc:
            return [], exc.detail
        done.append(event)
    return done[len(history) :], None


# The registry's look-ups, cached, and the row converter


class Lookups:
    """Categories, economies and bodies of the registry, each asked for once per key."""

    def __init__(self, registry: Registry) -> None:
        economies = registry.economies
        self.category = functools.cache(registry.categories.get)
        self.body = functools.cache(registry.bodies.get)
        self.economy_known = functools.cache(lambda code: code in economies.kinds([code]))

    def check(self, certificate: Certificate) -> CertificationBody | None:
        """Validate a certificate as a create does (InvalidInput); its issuing body, if any."""
        return check_certificate(certificate, self.category, self.economy_known, self.body)


@dataclass(frozen=True, slots=True)
class RowConverter:
    """The rows of one import, by one actor into one scheme, to staged certificates."""

    actor: Actor
    scheme_id: str
    lookups: Lookups

    @property
    def own_body(self) -> str | None:
        """The importing certification body, which fills an empty certification_body_id."""
        actor = self.actor
        return actor.certification_body_id if actor.role is Role.CERTIFICATION_BODY else None

    def stage(
        self, errors: RowErrors, row: int, values: dict[str, Any], is_csv: bool
    ) -> StagedCertificate | None:
        """The row as a certificate checked as a create is, or None with its errors added."""
        certificate, status, history, parsed = convert(self.scheme_id, values, is_csv)
        if certificate is None:
            for where, message in parsed.errors:
                errors.add(row, where, message)
            return None
        own_body = self.own_body
        if own_body is not None and certificate.certification_body_id is None:
            certificate = dataclasses.replace(certificate, certification_body_id=own_body)
        try:
            body = self.lookups.check(certificate)
        except InvalidInput as exc:
            errors.add_domain(row, exc)
            return None
        try:
            require_issuing_body(
                self.actor, body, self.scheme_id, certificate.valid_from, "import it"
            )
        except Forbidden as exc:
            errors.forbid(row, exc.detail)
            return None
        stated: list[tuple[tuple[str | int, ...], StatusEvent]] = []
        if status is not None:
            stated.append((("status_effective_date",), status))
        stated += [(("status_events", i, "effective_date"), e) for i, e in enumerate(history or ())]
        try:
            for where, event in stated:
                check_event_starts(certificate, event, where)
        except InvalidInput as exc:
            errors.add_domain(row, exc)
            return None
        first = StatusEvent(CertificateStatus.ACTIVE.value, certificate.valid_from, FIRST_REASON)
        if history is not None:
            declared = "history"
            initial, problem = append_events(certificate.number, (), history)
            loc: tuple[str | int, ...] = ("status_events",)
        elif status is not None:
            declared = "status"
            if status.status == first.status:
                same_day = status.effective_date == first.effective_date
                initial = [status if same_day else first]
                problem = None
            else:
                tail, problem = append_events(certificate.number, [first], [status])
                initial = [first, *tail]
            loc = ("status",)
        else:
            declared, initial, problem, loc = "none", [first], None, ()
        if problem is not None:
            errors.add(row, loc, problem)
            return None
        return StagedCertificate(row, certificate, tuple(initial), declared, status)
