"""How the portal writes numbers, won, dates and durations in Korean and English, which language
a request gets, and how a command is written back into the submit form."""

import shlex
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nuri.web.formatting import (
    Formatter,
    format_date,
    format_datetime,
    format_duration,
    format_gpu_hours,
    format_krw,
    format_number,
    format_percent,
    iso_instant,
    korean_reading,
)
from nuri.web.forms import command_line
from nuri.web.i18n import from_accept_language, negotiate

MOMENT = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)  # 01:05 the next day in Seoul


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (0, 0, "0"),
        (1234567, 0, "1,234,567"),
        (1234.5, 2, "1,234.5"),
        (1234.005, 2, "1,234.01"),  # half up, not banker's rounding
        (Decimal("2.50"), 2, "2.5"),
        (-0.001, 2, "0"),
        (-1500, 0, "-1,500"),
        (0.125, 1, "0.1"),
    ],
    ids=["zero", "grouped", "trailing-zero-dropped", "half-up", "decimal", "negative-zero",
         "negative", "one-place"],
)  # fmt: skip
def test_numbers_are_grouped_and_rounded_half_up(value, places, expected) -> None:
    """Both languages group thousands with commas; trailing zeros are dropped."""
    assert format_number(value, places) == expected


def test_gpu_hours_keep_small_amounts_visible() -> None:
    """Two decimals from one hour up; four below, so a short job is not shown as zero."""
    assert format_gpu_hours(1000.0) == "1,000"
    assert format_gpu_hours(12.3456) == "12.35"
    assert format_gpu_hours(0.0041) == "0.0041"
    assert format_gpu_hours(0) == "0"


@pytest.mark.parametrize(
    ("won", "expected"),
    [
        (0, "₩0"),
        (16, "₩16"),
        (999_999, "₩999,999"),
        (4_000_000, "₩4,000,000 (400만 원)"),
        (50_000_000, "₩50,000,000 (5,000만 원)"),
        (100_000_000, "₩100,000,000 (1억 원)"),
        (123_456_789, "₩123,456,789 (약 1억 2,346만 원)"),
        (1_234_567_890_000, "₩1,234,567,890,000 (1조 2,345억 6,789만 원)"),
        (-2_500_000, "-₩2,500,000 (-250만 원)"),
    ],
    ids=["zero", "small", "below-reading", "man", "thousands-of-man", "eok", "about", "jo",
         "negative"],
)  # fmt: skip
def test_korean_won_get_their_eok_and_man_reading(won: int, expected: str) -> None:
    """₩ with grouping; from a million won, the 조/억/만 reading, 약 when it is rounded."""
    assert format_krw(won, "ko") == expected


def test_english_won_have_no_reading() -> None:
    assert format_krw(123_456_789, "en") == "₩123,456,789"


def test_the_korean_reading_rounds_to_the_nearest_man() -> None:
    assert korean_reading(14_999) == "약 1만 원"
    assert korean_reading(4_999) == "4,999원"
    assert korean_reading(200_000_000) == "2억 원"


def test_korean_dates_are_in_seoul_and_english_ones_in_utc() -> None:
    """Korean: year, month, day in Korea (UTC+9), 24-hour clock; English: UTC, and it says so."""
    assert format_datetime(MOMENT, "ko") == "2026년 3월 3일 01:05 (KST)"
    assert format_datetime(MOMENT, "en") == "2 Mar 2026 16:05 UTC"
    assert format_date(MOMENT, "ko") == "2026년 3월 3일"
    assert format_date(MOMENT, "en") == "2 Mar 2026"
    assert iso_instant(MOMENT) == "2026-03-02T16:05:00Z"


@pytest.mark.parametrize(
    ("seconds", "korean", "english"),
    [
        (0, "0초", "0s"),
        (45, "45초", "45s"),
        (5400, "1시간 30분", "1h 30m"),
        (90061, "1일 1시간 1분 1초", "1d 1h 1m 1s"),
    ],
)
def test_durations_name_their_units(seconds: int, korean: str, english: str) -> None:
    assert format_duration(seconds, "ko") == korean
    assert format_duration(seconds, "en") == english


def test_the_formatter_binds_a_language_for_templates() -> None:
    """Templates call ``fmt.krw(x)``; None dates print as nothing."""
    korean = Formatter("ko")
    assert korean.krw(4_000_000) == "₩4,000,000 (400만 원)"
    assert korean.when(None) == "" and korean.day(MOMENT) == "2026년 3월 3일"
    assert korean.units_as_gpu_hours(3_600_000 * 3) == "3"
    assert format_percent(0.125) == "12.5%"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-GB,en;q=0.9,ko;q=0.8", "en"),
        ("fr-FR, ko;q=0.5", "ko"),
        ("ko;q=0, en;q=0.1", "en"),
        ("de, fr", "en"),
        ("en;q=0.5, ko;q=0.5", "en"),  # equal preference: the first named
        ("ko;q=bogus, en;q=0.2", "en"),
    ],
    ids=["none", "korean-browser", "english-browser", "second-choice", "refused", "neither",
         "tie", "malformed-quality"],
)  # fmt: skip
def test_the_browsers_accept_language_picks_the_best_supported(header: str, expected: str) -> None:
    assert from_accept_language(header) == expected


def test_lang_in_the_address_beats_the_cookie_which_beats_the_browser() -> None:
    assert negotiate("ko", "en", "en") == "ko"
    assert negotiate(None, "ko", "en") == "ko"
    assert negotiate("xx", None, "ko-KR") == "ko"


@given(st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=6))
def test_a_command_written_back_into_the_form_splits_into_the_same_words(words) -> None:
    """Resubmitting shows the command as a line; shlex must turn it back into the same words."""
    if any("\x00" in word for word in words):
        return
    assert shlex.split(command_line(words)) == words


def test_a_command_is_written_the_way_a_person_would_type_it() -> None:
    assert command_line(["python3", "train.py", "--lr=0.1"]) == "python3 train.py --lr=0.1"
    assert command_line(["python3", "-c", "print('hi')"]) == "python3 -c \"print('hi')\""
    assert command_line(['say "hi"']) == "'say \"hi\"'"
