"""The CSV cell neutralization round trip and the certificate number rule, as functions."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecolabel_registry.domain.validation import is_certificate_number
from ecolabel_registry.services.imports import neutralize_cell, restore_cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@given(st.text(alphabet=st.sampled_from("=+-@\t\r'a \"")) | st.text())
def test_a_neutralized_cell_restores_to_the_value_and_never_starts_like_a_formula(
    value: str,
) -> None:
    cell = neutralize_cell(value)
    assert restore_cell(cell) == value
    assert not cell.startswith(FORMULA_STARTS)


@given(st.text(max_size=120))
def test_the_number_rule_is_the_documented_one(value: str) -> None:
    """1-100 characters, no whitespace at either end, no line break, no Cc, Cf, Zl or Zp
    character; the shortcut for ASCII text decides the same."""
    expected = (
        1 <= len(value) <= 100
        and not value[0].isspace()
        and not value[-1].isspace()
        and "\n" not in value
        and not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)
    )
    assert is_certificate_number(value) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("KR-2023-0042", True),
        ("FR/044/017", True),
        ("Ü-1", True),
        ("AB 12", True),
        ("KR-1\n", False),
        ("KR\u200b1", False),
        ("\ufeffKR", False),
        ("KR\u2028-1", False),
        (" KR", False),
        ("", False),
    ],
)
def test_certificate_numbers(value: str, ok: bool) -> None:
    assert is_certificate_number(value) is ok
