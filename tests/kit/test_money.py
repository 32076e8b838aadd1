from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.kit.errors import ValidationFailed
from arrears.kit.money import (
    Rounding,
    exponent,
    format_minor,
    from_minor,
    parse_amount,
    round_ratio,
    to_minor,
)


def test_currencies_have_their_iso_minor_units():
    assert (exponent("CNY"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)


def test_unknown_currency_is_refused():
    with pytest.raises(ValidationFailed) as info:
        exponent("XYZ")
    assert info.value.code == "invalid_currency"


def test_amount_finer_than_the_currency_is_refused_not_rounded():
    with pytest.raises(ValidationFailed) as info:
        to_minor(Decimal("1.005"), "CNY")
    assert info.value.code == "too_many_decimals"
    assert to_minor(Decimal("1.50"), "CNY") == 150


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234.56", "1234.56"), (" 12 ", "12"), ("¥8.5", "8.5"), (0.1, "0.1"), (7, "7")],
)
def test_amounts_are_parsed_exactly(text, value):
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "NaN", "Infinity", None, [1]])
def test_non_amounts_are_refused(text):
    with pytest.raises(ValidationFailed):
        parse_amount(text)


@pytest.mark.parametrize(
    ("num", "den", "unit", "mode", "expected"),
    [
        (5, 2, 1, Rounding.HALF_UP, 3),
        (5, 2, 1, Rounding.DOWN, 2),
        (21, 10, 1, Rounding.UP, 3),
        (-5, 2, 1, Rounding.HALF_UP, -3),
        (15049, 1, 100, Rounding.HALF_UP, 15000),
        (15050, 1, 100, Rounding.HALF_UP, 15100),
        (15001, 1, 100, Rounding.UP, 15100),
    ],
)
def test_round_ratio_rounds_as_the_mode_says(num, den, unit, mode, expected):
    assert round_ratio(num, den, unit, mode) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_minor_units_round_trip_exactly(minor, currency):
    assert to_minor(from_minor(minor, currency), currency) == minor
    assert Decimal(format_minor(minor, currency)) == from_minor(minor, currency)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from([1, 100]),
)
def test_round_ratio_is_within_one_unit_and_ordered(num, den, unit):
    down = round_ratio(num, den, unit, Rounding.DOWN)
    half = round_ratio(num, den, unit, Rounding.HALF_UP)
    up = round_ratio(num, den, unit, Rounding.UP)
    assert down <= half <= up <= down + unit
    assert down * den <= num <= up * den
    assert down % unit == 0 and up % unit == 0
