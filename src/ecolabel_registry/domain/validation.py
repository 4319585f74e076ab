"""Field rules shared by every write path: HS codes, GTINs, slugs, certificate numbers and
date windows."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from ecolabel_registry.domain.errors import FieldError

Loc = tuple[str | int, ...]

HS_CODE_PATTERN = r"^[0-9]{2,10}$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
ECONOMY_CODE_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
CRITERION_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

_HS = re.compile(HS_CODE_PATTERN)
_SLUG = re.compile(SLUG_PATTERN)
_CRITERION = re.compile(CRITERION_PATTERN)
_GTIN = re.compile(r"^[0-9]{8}$|^[0-9]{12,14}$")

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


def is_slug(value: str) -> bool:
    """Lower-case letters, digits and inner hyphens, at most 64 characters."""
    return bool(_SLUG.match(value))


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


def check_hs_codes(errors: list[FieldError], loc: Loc, codes: tuple[str, ...]) -> None:
    """Record an error for each malformed or repeated HS code."""
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if not is_hs_code(code):
            errors.append(FieldError((*loc, i), f"HS code {code!r} is not 2 to 10 digits"))
        elif code in seen:
            errors.append(FieldError((*loc, i), f"HS code {code} is listed twice"))
        seen.add(code)


def check_gtins(errors: list[FieldError], loc: Loc, gtins: tuple[str, ...]) -> None:
    """Record an error for each GTIN with a wrong length or check digit, or repeated."""
    seen: set[str] = set()
    for i, gtin in enumerate(gtins):
        if not gtin_check_digit_ok(gtin):
            errors.append(
                FieldError(
                    (*loc, i),
                    f"GTIN {gtin!r} is not 8, 12, 13 or 14 digits with a valid check digit",
                )
            )
        elif gtin in seen:
            errors.append(FieldError((*loc, i), f"GTIN {gtin} is listed twice"))
        seen.add(gtin)


def check_criteria(errors: list[FieldError], loc: Loc, keys: tuple[str, ...]) -> None:
    """Record an error for each malformed or repeated criterion key."""
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if not _CRITERION.match(key):
            errors.append(
                FieldError(
                    (*loc, i),
                    f"criterion key {key!r} must be lower-case letters, digits, '.', '_' or '-'",
                )
            )
        elif key in seen:
            errors.append(FieldError((*loc, i), f"criterion key {key} is listed twice"))
        seen.add(key)
