"""Integer units: exchange rates, GPU-hours, H100e units, won and display rounding."""

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuri.domain.errors import InvalidInput
from nuri.domain.units import (
    H100E_UNITS_PER_GPU_HOUR,
    MAX_EXCHANGE_RATE,
    cost_krw,
    format_exchange_rate,
    h100e_units,
    parse_exchange_rate,
    parse_gpu_hours,
    round_hours,
    units_to_gpu_hours,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1000),
        ("1.0", 1000),
        ("0.45", 450),
        ("0.5", 500),
        ("0.001", 1),
        ("2.125", 2125),
        ("  1.5  ", 1500),
        ("1e-3", 1),
        ("1.2300", 1230),
        (Decimal("0.75"), 750),
        (3, 3000),
    ],
    ids=lambda value: repr(value),
)
def test_parse_exchange_rate_accepts_up_to_three_decimals(
    text: str | Decimal | int, expected: int
) -> None:
    """A positive rate with at most three decimal places becomes integer thousandths."""
    assert parse_exchange_rate(text) == expected


@pytest.mark.parametrize("text", ["0.0001", "0.4501", "1.2345", "1e-4"])
def test_parse_exchange_rate_refuses_more_than_three_decimals(text: str) -> None:
    """A rate needing a fourth decimal place is refused, never rounded."""
    with pytest.raises(InvalidInput, match="more than three decimal places"):
        parse_exchange_rate(text)


@pytest.mark.parametrize("text", ["0", "0.000", "-0", "-1", "-0.5", 0, -2])
def test_parse_exchange_rate_refuses_zero_and_negative(text: str | int) -> None:
    """Zero and negative rates are refused as not positive."""
    with pytest.raises(InvalidInput, match="positive"):
        parse_exchange_rate(text)


@pytest.mark.parametrize("text", ["abc", "", "1,5", "one", "0.4.5", "--1"])
def test_parse_exchange_rate_refuses_non_numbers(text: str) -> None:
    """Text that is not a number is refused with InvalidInput naming the input."""
    with pytest.raises(InvalidInput, match="not a number"):
        parse_exchange_rate(text)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_parse_exchange_rate_refuses_non_finite(text: str) -> None:
    """NaN and infinities are refused as not positive numbers."""
    with pytest.raises(InvalidInput):
        parse_exchange_rate(text)


@pytest.mark.parametrize(
    ("rate_milli", "expected"),
    [(1000, "1.0"), (450, "0.45"), (1, "0.001"), (2125, "2.125"), (10000, "10.0"), (500, "0.5")],
)
def test_format_exchange_rate_is_plain_decimal(rate_milli: int, expected: str) -> None:
    """Thousandths print as a plain decimal, whole numbers with a trailing '.0'."""
    assert format_exchange_rate(rate_milli) == expected


@given(st.integers(min_value=1, max_value=MAX_EXCHANGE_RATE * 1000))
def test_format_then_parse_exchange_rate_round_trips(rate_milli: int) -> None:
    """Formatting any allowed rate and parsing it back gives the same thousandths."""
    text = format_exchange_rate(rate_milli)
    assert "e" not in text.lower()
    assert parse_exchange_rate(text) == rate_milli


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1", 3_600_000),
        ("0.5", 1_800_000),
        ("1500", 1500 * 3_600_000),
        ("0.001", 3600),
        (Decimal("2.25"), 8_100_000),
        (7, 7 * 3_600_000),
    ],
    ids=lambda value: repr(value),
)
def test_parse_gpu_hours_is_exact(text: str | Decimal | int, expected: int) -> None:
    """GPU-hours become H100e units exactly (one GPU-hour is 3,600,000 units)."""
    assert parse_gpu_hours(text) == expected


@pytest.mark.parametrize("text", ["-1", "-0.001", "abc", "", "NaN", "Infinity"])
def test_parse_gpu_hours_refuses_negative_and_non_numbers(text: str) -> None:
    """Negative, non-numeric and non-finite GPU-hours are refused with InvalidInput."""
    with pytest.raises(InvalidInput):
        parse_gpu_hours(text)


def test_parse_gpu_hours_refuses_finer_than_a_unit() -> None:
    """GPU-hours that do not map to a whole H100e unit are refused, not rounded."""
    with pytest.raises(InvalidInput, match="finer than a thousandth"):
        parse_gpu_hours("0.0000001")


@given(st.integers(min_value=0, max_value=10**12))
def test_gpu_hours_to_units_round_trip(thousandths: int) -> None:
    """Hours with up to three decimals -> units -> hours gives back the same exact Decimal."""
    hours = Decimal(thousandths).scaleb(-3)
    units = parse_gpu_hours(hours)
    assert units == thousandths * 3600
    assert units_to_gpu_hours(units) == hours
    assert parse_gpu_hours(str(hours)) == units


@given(st.integers(min_value=0, max_value=10**15))
def test_units_to_gpu_hours_round_trip(ninths: int) -> None:
    """Any unit count that is a whole number of ninths divides exactly and parses back."""
    units = ninths * 9  # 3,600,000 = 2^7 x 3^2 x 5^5, so these have a finite decimal form
    hours = units_to_gpu_hours(units)
    assert hours * H100E_UNITS_PER_GPU_HOUR == units
    assert parse_gpu_hours(hours) == units
    assert parse_gpu_hours(str(hours)) == units


@pytest.mark.parametrize(
    ("devices", "seconds", "rate_milli", "expected"),
    [(1, 1, 1000, 1000), (8, 3600, 500, 14_400_000), (0, 10, 1000, 0), (4, 0, 1000, 0)],
)
def test_h100e_units_is_the_exact_product(
    devices: int, seconds: int, rate_milli: int, expected: int
) -> None:
    """H100e units are devices x seconds x rate_milli, exactly."""
    assert h100e_units(devices, seconds, rate_milli) == expected


def test_h100e_units_one_h100_hour_is_one_gpu_hour() -> None:
    """One H100 (rate 1.0) for one hour is exactly one H100e GPU-hour of units."""
    assert h100e_units(1, 3600, 1000) == H100E_UNITS_PER_GPU_HOUR


@pytest.mark.parametrize(("devices", "seconds", "rate_milli"), [(-1, 1, 1), (1, -1, 1), (1, 1, -1)])
def test_h100e_units_refuses_negatives(devices: int, seconds: int, rate_milli: int) -> None:
    """Negative devices, seconds or rate are refused."""
    with pytest.raises(InvalidInput):
        h100e_units(devices, seconds, rate_milli)


@pytest.mark.parametrize(
    ("devices", "seconds", "krw_per_device_hour", "expected"),
    [
        (1, 1, 1800, 1),  # exactly 0.5 won rounds up
        (1, 1, 1799, 0),  # just under 0.5 won rounds down
        (1, 1, 5400, 2),  # 1.5 won rounds up
        (1, 1, 5399, 1),
        (1, 3600, 3000, 3000),
        (8, 3600, 3000, 24_000),
        (2, 900, 1000, 500),
        (0, 3600, 3000, 0),
        (1, 3600, 0, 0),
    ],
)
def test_cost_krw_rounds_half_up(
    devices: int, seconds: int, krw_per_device_hour: int, expected: int
) -> None:
    """Cost in won is rounded half-up, once, from the exact product."""
    assert cost_krw(devices, seconds, krw_per_device_hour) == expected


@given(
    st.integers(min_value=0, max_value=64),
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**7),
)
def test_cost_krw_matches_decimal_half_up(devices: int, seconds: int, price: int) -> None:
    """cost_krw agrees with Decimal ROUND_HALF_UP of the exact won amount."""
    exact = Decimal(devices * seconds * price) / Decimal(3600)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert cost_krw(devices, seconds, price) == expected


@pytest.mark.parametrize(("devices", "seconds", "price"), [(-1, 1, 1), (1, -1, 1), (1, 1, -1)])
def test_cost_krw_refuses_negatives(devices: int, seconds: int, price: int) -> None:
    """Negative devices, seconds or price are refused."""
    with pytest.raises(InvalidInput):
        cost_krw(devices, seconds, price)


@pytest.mark.parametrize(
    ("units", "places", "expected"),
    [
        (3_600_000, 4, 1.0),
        (0, 4, 0.0),
        (1, 4, 0.0),
        (180, 4, 0.0001),  # 0.00005 rounds half-up
        (179, 4, 0.0),
        (1_800_000, 4, 0.5),
        (18_000, 2, 0.01),  # 0.005 rounds half-up
        (17_999, 2, 0.0),
        (5_400_000_000, 4, 1500.0),
        (1_234_567, 0, 0.0),
        (1_800_000, 0, 1.0),
    ],
)
def test_round_hours(units: int, places: int, expected: float) -> None:
    """round_hours shows GPU-hours rounded half-up to the given number of places."""
    assert round_hours(units, places) == expected


@pytest.mark.parametrize(
    "parse",
    [parse_exchange_rate, parse_gpu_hours],
    ids=["exchange_rate", "gpu_hours"],
)
def test_huge_values_with_excess_precision_are_refused_not_rounded(
    parse: Callable[[str], int],
) -> None:
    """A value with too many decimals is refused however large its integer part."""
    with pytest.raises(InvalidInput):
        parse("12345678901234567890123456.0001")


@pytest.mark.parametrize(
    "parse",
    [parse_exchange_rate, parse_gpu_hours],
    ids=["exchange_rate", "gpu_hours"],
)
def test_huge_exponent_is_refused_with_invalid_input(parse: Callable[[str], int]) -> None:
    """An absurdly large number is refused with InvalidInput rather than a decimal signal."""
    with pytest.raises(InvalidInput):
        parse("1e999999")


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_exchange_rate, "1000.001"), (parse_gpu_hours, "1000000000001")],
    ids=["rate-above-1000", "hours-above-10e12"],
)
def test_values_beyond_the_documented_bounds_are_refused(
    parse: Callable[[str], int], text: str
) -> None:
    """Exchange rates above 1000 and awards above 10^12 GPU-hours are refused as mistakes."""
    with pytest.raises(InvalidInput, match="at most"):
        parse(text)


def test_hours_with_thirty_significant_digits_are_checked_exactly() -> None:
    """A tiny fraction beyond a unit is refused even where 28-digit arithmetic would round it."""
    with pytest.raises(InvalidInput, match="finer than"):
        parse_gpu_hours("99999999999.0000000000000000001")
