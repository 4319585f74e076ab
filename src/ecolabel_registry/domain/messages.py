"""How each field's mistake is worded: one place for the single question, the batch, the plan
and every schema, so that the same mistake reads the same everywhere.

A message says what is expected and gives an example; it never shows a regular expression.
Messages leave out the field's name: the problem names it (`target: must be ...`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterable, Sequence

from ecolabel_registry.domain.validation import (
    CODE_PATTERN,
    CRITERION_PATTERN,
    ECONOMY_CODE_PATTERN,
    GTIN_PATTERN,
    HS_CODE_PATTERN,
    SLUG_PATTERN,
    URL_PATTERN,
    is_written_as_day,
)

_ECONOMY = re.compile(ECONOMY_CODE_PATTERN)
_HS = re.compile(HS_CODE_PATTERN)

ECONOMY_CODE_EXPECTED = "must be an economy code such as KR, or a group such as EU"
HS_CODE_EXPECTED = "must be an HS code of 2 to 10 digits, such as 320810"
DATE_EXPECTED = "must be a date as YYYY-MM-DD, such as 2025-03-01"


def shown(value: object) -> str:
    """A value as a message quotes it: its repr, cut short past 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_economy_code(value: str) -> bool:
    """The form of an economy or group code (not whether the registry knows it)."""
    return bool(_ECONOMY.fullmatch(value))


def economy_code_message(value: object) -> str:
    """A value that is not written as an economy code: `kr`, `K`, `KR,JP`..."""
    message = f"{ECONOMY_CODE_EXPECTED}: {shown(value)} is not"
    if isinstance(value, str) and is_economy_code(value.upper()):
        message += f" (codes are upper case: {value.upper()!r})"
    return message


def unknown_economy_message(code: str) -> str:
    """A well-formed code that names no economy or group of the registry."""
    return (
        f"unknown economy {code!r}: use an ISO 3166-1 alpha-2 code such as KR, "
        "or a registered group such as EU"
    )


def hs_code_message(value: object) -> str:
    """A value that is not 2 to 10 digits: `3208.10`, `32 08`, `A1`..."""
    message = f"{HS_CODE_EXPECTED}: {shown(value)} is not"
    if isinstance(value, str):
        digits = re.sub(r"[\s.\-]", "", value)
        if digits != value and _HS.fullmatch(digits):
            message += f" (write it without dots or spaces: {digits!r})"
    return message


INSTANT_EXPECTED = "an RFC 3339 instant with its offset, as 2025-03-01T09:30:00Z"


def instant_message(value: object) -> str:
    """A value that is not an RFC 3339 instant with an offset (`as_recorded`)."""
    return f"{INSTANT_EXPECTED}: {shown(value)} is not"


def recorded_before_message(instant: dt.datetime, first: dt.datetime | None) -> str:
    """An `as_recorded` instant before the registry recorded anything."""
    if first is None:
        return f"{instant.isoformat()} is before the registry recorded anything"
    return (
        f"{instant.isoformat()} is before the registry's first recorded revision "
        f"({first.isoformat()}): nothing was recorded then"
    )


def recorded_future_message(instant: dt.datetime) -> str:
    """An `as_recorded` instant still to come."""
    return f"{instant.isoformat()} is in the future: the registry has recorded nothing then yet"


def date_message(value: object) -> str:
    """A value that is not a day written YYYY-MM-DD: `01/03/2025`, `2025-02-30`..."""
    if isinstance(value, str) and is_written_as_day(value):
        return f"{DATE_EXPECTED}: {shown(value)} is not a day of the calendar"
    return f"{DATE_EXPECTED}: {shown(value)} is not"


def closest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to `word` (at most `n`, closest first), as difflib finds them."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def did_you_mean(names: Sequence[str]) -> str:
    """`; did you mean `x`?` (or `x` or `y`), empty when there is nothing to suggest."""
    if not names:
        return ""
    return "; did you mean " + " or ".join(f"`{n}`" for n in names) + "?"


# Words people use for the parameters this API names otherwise (`date` for `on`). A word is
# suggested only when the operation asked about takes the name it stands for.
PARAMETER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "date": ("on", "in_force_on"),
    "day": ("on", "in_force_on"),
    "at": ("on", "in_force_on"),
    "as_of": ("on", "in_force_on"),
    "valid_on": ("on", "in_force_on"),
    "when": ("on", "in_force_on"),
    "country": ("target", "targets", "economy"),
    "economy": ("target", "targets"),
    "market": ("target", "targets"),
    "markets": ("targets",),
    "hs": ("hs_code",),
    "hscode": ("hs_code",),
    "hs_prefix": ("hs_code",),
    "number": ("certificate",),
    "certificate_number": ("certificate",),
    "scheme_id": ("scheme",),
    "label": ("scheme",),
    "page_size": ("limit",),
    "per_page": ("limit",),
    "size": ("limit",),
    "page": ("cursor",),
}


def suggested_parameter(name: str, known: Sequence[str]) -> list[str]:
    """The names of `known` that `name` was probably meant to be."""
    word = name.strip().lower().replace("-", "_").replace(" ", "_")
    if word in known and word != name:
        return [word]
    meant = [k for k in PARAMETER_SYNONYMS.get(word, ()) if k in known]
    if meant:
        return meant[:1]
    return closest(word, known, n=1)


def unknown_parameter_message(name: str, known: Sequence[str]) -> str:
    """A query parameter the operation does not take, with the ones it does."""
    message = "unknown query parameter" + did_you_mean(suggested_parameter(name, known))
    if known:
        return message + " (this operation takes " + ", ".join(f"`{k}`" for k in known) + ")"
    return message + " (this operation takes none)"


# What a value of each declared pattern must look like, for the schemas' and parameters'
# pattern errors: keyed by the pattern of `validation`, so that a regular expression never
# reaches a message.
PATTERN_MESSAGES: dict[str, Callable[[object], str]] = {
    ECONOMY_CODE_PATTERN: economy_code_message,
    HS_CODE_PATTERN: hs_code_message,
    SLUG_PATTERN: lambda value: (
        "must be an id of lower-case letters, digits and inner hyphens (at most 64 "
        f"characters), such as eu-ecolabel: {shown(value)} is not"
    ),
    CODE_PATTERN: lambda value: (
        "must be a code of letters, digits, '.', '_', '/' or '-' (at most 64 characters), "
        f"such as paints: {shown(value)} is not"
    ),
    CRITERION_PATTERN: lambda value: (
        "must be a criterion key of lower-case letters, digits, '.', '_' or '-', "
        f"such as voc-limit: {shown(value)} is not"
    ),
    GTIN_PATTERN: lambda value: (
        f"must be a GTIN of 8 to 14 digits, such as 4006381333931: {shown(value)} is not"
    ),
    URL_PATTERN: lambda value: (
        f"must be a web address such as https://example.org/: {shown(value)} is not"
    ),
}


def pattern_message(pattern: str, value: object) -> str:
    """The message for a value that does not have the form `pattern` declares."""
    wording = PATTERN_MESSAGES.get(pattern)
    if wording is None:
        return f"{shown(value)} is not in the form this field takes"
    return wording(value)


# The database's answers a caller can act on (persistence.errors): each says what was done
# (nothing) and what to do (send the request again).
DATABASE_UNREACHABLE = "the database cannot be reached right now; retry shortly"
DATABASE_SLOW = "the database took too long to answer this request; retry shortly"
LOCK_WAIT_EXPIRED = (
    "another request is changing the same records (an import of this scheme, for example) "
    "and did not finish in time; retry shortly"
)
WRITE_LOCK_TAKEN = (
    "another write to the registry was in progress and this one could not wait for it; "
    "nothing was written: send the request again"
)
