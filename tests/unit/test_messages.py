"""The words of field mistakes and of unknown parameters (`domain.messages`)."""

from __future__ import annotations

import pytest

from ecolabel_registry.domain.messages import (
    PATTERN_MESSAGES,
    pattern_message,
    shown,
    suggested_parameter,
    unknown_parameter_message,
)
from ecolabel_registry.domain.validation import ECONOMY_CODE_PATTERN

EQUIVALENCE = ("scheme", "certificate", "target", "on", "hs_code")


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("date", ["on"]),
        ("Date", ["on"]),
        ("country", ["target"]),
        ("hs-code", ["hs_code"]),
        ("HS_CODE", ["hs_code"]),
        ("certificat", ["certificate"]),
        ("sheme", ["scheme"]),
        ("colour", []),
    ],
)
def test_the_parameter_meant(name: str, meant: list[str]) -> None:
    assert suggested_parameter(name, EQUIVALENCE) == meant


def test_a_synonym_is_suggested_only_where_the_operation_takes_it() -> None:
    assert suggested_parameter("date", ("scheme", "economy", "in_force_on")) == ["in_force_on"]
    assert suggested_parameter("date", ("limit", "cursor")) == []


def test_the_message_lists_what_the_operation_takes() -> None:
    assert unknown_parameter_message("date", ("on", "target")) == (
        "unknown query parameter; did you mean `on`? (this operation takes `on`, `target`)"
    )
    assert unknown_parameter_message("x", ()) == (
        "unknown query parameter (this operation takes none)"
    )


def test_no_pattern_message_shows_its_pattern() -> None:
    for pattern in PATTERN_MESSAGES:
        message = pattern_message(pattern, "?")
        assert pattern not in message
        assert "such as" in message
    assert pattern_message(r"^[a-z]+$", "A") == "'A' is not in the form this field takes"
    assert pattern_message(ECONOMY_CODE_PATTERN, "kr").endswith("(codes are upper case: 'KR')")


def test_a_long_value_is_cut_short() -> None:
    assert shown("KR") == "'KR'"
    assert shown("x" * 100) == "'" + "x" * 36 + "..."
    assert len(shown(list(range(1000)))) == 40
