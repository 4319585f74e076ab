"""Field rules shared by every write path: HS codes, GTINs, slugs, certificate numbers and
date windows."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

from ecolabel_registry.domain.errors import FieldError

Loc = tuple[str | int, ...]

HS_CODE_PATTERN = r"^[0-9]{2,10}$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
ECONOMY_CODE_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
CRITERION_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
GTIN_PATTERN = r"^[0-9]{8,14}$"
URL_PATTERN = r"^https?://\S+$"

# A certificate's path is /v1/schemes/{scheme}/certificates/{number}, and numbers may hold
# "/" (FR/044/017); a path ending in one of these segments names the certificate's markets
# or its status history, so no number may end in "/<segment>".
CERTIFICATE_SUB_RESOURCES = ("markets", "status-events")

_HS = re.compile(HS_CODE_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_CRITERION = re.compile(CRITERION_PATTERN)
_GTIN = re.compile(r"^[0-9]{8}$|^[0-9]{12,14}$")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

CERTIFICATE_NUMBER_MAX_LENGTH = 100
CERTIFICATE_NUMBER_RULE = (
    "1 to 100 characters, no space at either end, and no line break, control or invisible "
    "formatting character (such as a zero-width space), e.g. 'KR-2023-0042' or 'FR/044/017'"
)
# Printable ASCII, no space at either end: the common case, decided without unicodedata.
_NUMBER_ASCII = re.compile(r"[!-~](?:[ -~]{0,98}[!-~])?")
_NUMBER = re.compile(r"\S(?:.{0,98}\S)?")
# Control (Cc) and format (Cf: zero-width spaces, joiners, byte order marks, bidirectional
# overrides) characters, and the line and paragraph separators.
_NOT_IN_NUMBERS = frozenset({"Cc", "Cf", "Zl", "Zp"})


def is_hs_code(value: str) -> bool:
    """Two to ten digits."""
    return bool(_HS.match(value))


def hs_match(a: str, b: str) -> bool:
    """HS codes match when one is a prefix of the other (3208 covers 320810 and back)."""
    return a.startswith(b) or b.startswith(a)


def is_written_as_day(value: str) -> bool:
    """Written YYYY-MM-DD (ASCII digits), whether or not it is a day of the calendar."""
    return _ISO_DAY.fullmatch(value) is not None


def iso_day(value: object) -> dt.date | None:
    """The day a value writes as YYYY-MM-DD (ISO 8601's calendar date, extended format, and
    nothing else: no week date, no time, no basic format); None for anything else."""
    if not isinstance(value, str) or not is_written_as_day(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:  # 2025-02-30, 0000-01-01
        return None


_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def rfc3339_instant(value: object) -> dt.datetime | None:
    """The instant an RFC 3339 date-time names (with its offset: `Z` or `+02:00`), in UTC;
    None for anything else (no offset, a date alone, a day not of the calendar).

    RFC 3339 section 5.6: https://www.rfc-editor.org/rfc/rfc3339#section-5.6 (fractions
    beyond microseconds are cut, which Python's datetime cannot hold).
    """
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        return None
    text = value.upper().replace(" ", "T").replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # at most 6 digits of fraction
        digits = rest[: len(rest) - 6]
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except ValueError:
        return None


def is_slug(value: str) -> bool:
    """Lower-case letters, digits and inner hyphens, at most 64 characters."""
    return bool(_SLUG.match(value))


def sub_resource_suffix(number: str) -> str | None:
    """The sub-resource path ("/markets") a certificate number ends in, if any."""
    return next(
        (f"/{name}" for name in CERTIFICATE_SUB_RESOURCES if number.endswith(f"/{name}")), None
    )


def is_certificate_number(value: str) -> bool:
    """The one rule for certificate numbers, of the API and the import alike.

    See CERTIFICATE_NUMBER_RULE: the whole value must match (never a trailing line break
    let through), and no character may be invisible or a control character.
    """
    if value.isascii():
        return _NUMBER_ASCII.fullmatch(value) is not None
    return _NUMBER.fullmatch(value) is not None and not any(
        unicodedata.category(c) in _NOT_IN_NUMBERS for c in value
    )


def gtin_check_digit_ok(value: str) -> bool:
    """Whether a GTIN-8/12/13/14 has the right length and GS1 mod-10 check digit."""
    if not _GTIN.match(value):
        return False
    digits = [int(c) for c in value]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def normal_gtin(value: str) -> str:
    """A GTIN in the registry's normal form: 14 digits, zero-filled on the left.

    GS1 compares GTIN-8, -12, -13 and -14 in this 14-digit form (GS1 General
    Specifications, the GTIN data structures: a GTIN is right-justified in a 14-digit field,
    zero-filled), so `4006381333931` and `04006381333931` are one GTIN. A value that is not
    a GTIN (wrong length or check digit) is returned unchanged, for its error to quote.
    """
    return value.zfill(14) if gtin_check_digit_ok(value) else value


def normal_gtins(values: tuple[str, ...]) -> tuple[str, ...]:
    """Each GTIN in its normal form (`normal_gtin`), in the given order."""
    return tuple(normal_gtin(v) for v in values)


def check_starts_within(
    errors: list[FieldError],
    loc: Loc,
    starts: dt.date,
    owner: str,
    owner_field: str,
    owner_starts: dt.date,
) -> None:
    """Record an error when something starts before the thing it belongs to does.

    A status event, a party status or a scope entry never starts before its certificate
    or agreement: a suspension effective before the certificate's valid_from would never
    have any effect, so it is refused rather than silently kept.
    """
    if starts < owner_starts:
        errors.append(
            FieldError(
                loc,
                f"{loc[-1]} {starts} is before the {owner}'s {owner_field} {owner_starts}: "
                f"nothing takes effect before the {owner} does (use {owner_starts} or later)",
            )
        )


def check_window(
    errors: list[FieldError],
    loc: Loc,
    valid_from: dt.date,
    valid_to: dt.date | None,
    to_name: str = "valid_to",
    from_name: str = "valid_from",
) -> None:
    """Record an error when the window ends before it starts."""
    if valid_to is not None and valid_to < valid_from:
        errors.append(
            FieldError((*loc, to_name), f"{to_name} {valid_to} is before {from_name} {valid_from}")
        )


def _check_each(
    errors: list[FieldError],
    loc: Loc,
    values: tuple[str, ...],
    valid: Callable[[str], bool],
    invalid: Callable[[str], str],
    noun: str,
    same: Callable[[str], str] = lambda v: v,
) -> None:
    """Record an error for each value that is not `valid` (saying `invalid(value)`), and for
    each one listed again (`same` gives the form in which two values are the same)."""
    seen: set[str] = set()
    for i, value in enumerate(values):
        if not valid(value):
            errors.append(FieldError((*loc, i), invalid(value)))
        elif same(value) in seen:
            errors.append(FieldError((*loc, i), f"{noun} {value} is listed twice"))
        seen.add(same(value))


def check_hs_codes(errors: list[FieldError], loc: Loc, codes: tuple[str, ...]) -> None:
    """Record an error for each malformed or repeated HS code."""
    _check_each(
        errors, loc, codes, is_hs_code, lambda c: f"HS code {c!r} is not 2 to 10 digits", "HS code"
    )


def check_gtins(errors: list[FieldError], loc: Loc, gtins: tuple[str, ...]) -> None:
    """Record an error for each GTIN with a wrong length or check digit, or repeated
    (in any of its forms: `4006381333931` and `04006381333931` are the same GTIN)."""
    _check_each(
        errors,
        loc,
        gtins,
        gtin_check_digit_ok,
        lambda g: f"GTIN {g!r} is not 8, 12, 13 or 14 digits with a valid check digit",
        "GTIN",
        normal_gtin,
    )


def check_criteria(errors: list[FieldError], loc: Loc, keys: tuple[str, ...]) -> None:
    """Record an error for each malformed or repeated criterion key."""
    _check_each(
        errors,
        loc,
        keys,
        lambda k: _CRITERION.match(k) is not None,
        lambda k: f"criterion key {k!r} must be lower-case letters, digits, '.', '_' or '-'",
        "criterion key",
    )
