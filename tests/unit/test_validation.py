"""The field rules of domain.validation: GTINs in their normal form, starts within the owner."""

from __future__ import annotations

import datetime as dt

import pytest

from ecolabel_registry.domain.errors import FieldError
from ecolabel_registry.domain.validation import (
    check_gtins,
    check_starts_within,
    normal_gtin,
    normal_gtins,
)


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("614141000036", "00614141000036"),  # GTIN-12 (UPC-A)
        ("4006381333931", "04006381333931"),  # GTIN-13
        ("04006381333931", "04006381333931"),  # the same, already 14 digits
        ("10614141000033", "10614141000033"),  # GTIN-14 with an indicator digit
    ],
)
def test_every_gtin_length_has_one_14_digit_normal_form(given: str, normal: str) -> None:
    assert normal_gtin(given) == normal


@pytest.mark.parametrize("value", ["4006381333932", "123456789", "40063813339X1", ""])
def test_a_value_that_is_no_gtin_is_left_as_it_is(value: str) -> None:
    assert normal_gtin(value) == value


def test_normal_gtins_keeps_the_order() -> None:
    assert normal_gtins(("96385074", "4006381333931")) == ("00000096385074", "04006381333931")


def test_one_gtin_in_two_forms_is_listed_twice() -> None:
    errors: list[FieldError] = []
    check_gtins(errors, ("gtins",), ("4006381333931", "04006381333931", "96385074"))
    assert [(e.loc, "listed twice" in e.message) for e in errors] == [(("gtins", 1), True)]


def test_something_starting_before_its_owner_is_an_error_naming_the_field() -> None:
    errors: list[FieldError] = []
    start = dt.date(2024, 1, 1)
    loc = ("body", "effective_date")
    check_starts_within(errors, loc, start, "certificate", "valid_from", start)
    assert errors == []
    check_starts_within(errors, loc, dt.date(2023, 12, 31), "certificate", "valid_from", start)
    assert [e.loc for e in errors] == [loc]
    assert errors[0].message.startswith(
        "effective_date 2023-12-31 is before the certificate's valid_from 2024-01-01"
    )
