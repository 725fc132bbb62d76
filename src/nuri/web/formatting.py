"""Numbers, money, dates and durations as a Korean or an English reader expects them.

Both languages group thousands with commas (Korean does too). Korean pages show times in Korea
(Asia/Seoul, the commons' own zone); English pages show UTC and say so, because an English
reader of a Korean commons may be anywhere. Won are whole (the ledger never holds fractions)
and shown as ``₩1,234,567``; on Korean pages a large sum also gets its reading in 조/억/만, the
way Korean budgets are spoken and written (``₩123,456,789`` is "약 1억 2,346만 원").

Every function here is pure: give it a language and a value, get the text.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from nuri.domain.units import units_to_gpu_hours

Language = Literal["en", "ko"]

SEOUL = ZoneInfo("Asia/Seoul")
KRW_READING_FROM = 1_000_000
"""Sums of won from this size on get a 조/억/만 reading on Korean pages (₩4,000,000 is 400만 원)."""
_MAN = 10_000
_EOK = 10_000 * _MAN
_JO = 10_000 * _EOK
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_number(value: float | int | Decimal, places: int = 0) -> str:
    """``value`` rounded half-up to at most ``places`` decimals, thousands grouped, trailing zeros
    dropped: ``1234.5`` with 2 places is ``1,234.5``; ``-0.001`` with 2 places is ``0``."""
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        return "0"
    text = f"{rounded:,.{places}f}"
    if places:
        text = text.rstrip("0").rstrip(".")
    return text


def format_gpu_hours(value: float | int | Decimal) -> str:
    """H100e GPU-hours for people: two decimals at most (a hundredth is 36 GPU-seconds), four
    below one hour, so that a short test job shows as ``0.0028`` rather than a misleading ``0``.
    """
    return format_number(value, 2 if abs(float(value)) >= 1 else 4)


def format_krw(won: int, lang: Language) -> str:
    """Whole won with the won sign, plus (Korean, large sums) the 조/억/만 reading."""
    text = f"-₩{-won:,}" if won < 0 else f"₩{won:,}"
    if lang == "ko" and abs(won) >= KRW_READING_FROM:
        text += f" ({korean_reading(won)})"
    return text


def korean_reading(won: int) -> str:
    """How a Korean says a sum, to the nearest 만 won: ``123456789`` is ``약 1억 2,346만 원``,
    ``50000000`` is ``5,000만 원`` (exact sums get no 약, "about")."""
    sign = "-" if won < 0 else ""
    magnitude = abs(won)
    nearest = (magnitude + _MAN // 2) // _MAN * _MAN
    parts = []
    for size, unit in ((_JO, "조"), (_EOK, "억"), (_MAN, "만")):
        count, nearest = divmod(nearest, size)
        if count:
            parts.append(f"{count:,}{unit}")
    if not parts:
        return f"{sign}{magnitude:,}원"
    about = "" if magnitude % _MAN == 0 else "약 "
    return f"{about}{sign}{' '.join(parts)} 원"


def format_datetime(moment: datetime, lang: Language) -> str:
    """``2026년 3월 2일 18:00 (KST)`` in Korean; ``2 Mar 2026 09:00 UTC`` in English."""
    local = moment.astimezone(_zone(lang))
    if lang == "ko":
        return f"{local.year}년 {local.month}월 {local.day}일 {local:%H:%M} (KST)"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year} {local:%H:%M} UTC"


def format_date(moment: datetime, lang: Language) -> str:
    """The day alone: ``2026년 3월 2일`` or ``2 Mar 2026`` (in the language's zone)."""
    local = moment.astimezone(_zone(lang))
    if lang == "ko":
        return f"{local.year}년 {local.month}월 {local.day}일"
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}"


def format_duration(seconds: float | int, lang: Language) -> str:
    """``1시간 30분`` or ``1h 30m``; under a minute, seconds; zero parts left out."""
    remaining = max(int(seconds), 0)
    names = (
        (("일", 86400), ("시간", 3600), ("분", 60), ("초", 1))
        if lang == "ko"
        else (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    )
    parts = []
    for name, size in names:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count:,}{name}")
    return " ".join(parts) if parts else ("0초" if lang == "ko" else "0s")


def format_percent(share: float) -> str:
    """A share in [0, 1] as a percentage with one decimal at most: ``0.125`` is ``12.5%``."""
    return f"{format_number(share * 100, 1)}%"


def iso_instant(moment: datetime) -> str:
    """The machine-readable form for ``<time datetime=...>``: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(lang: Language) -> tzinfo:
    return SEOUL if lang == "ko" else UTC


@dataclass(frozen=True, slots=True)
class Formatter:
    """The functions above bound to one page's language, for templates (``fmt.krw(x)``)."""

    lang: Language

    def number(self, value: float | int | Decimal, places: int = 0) -> str:
        return format_number(value, places)

    def gpu_hours(self, value: float | int | Decimal) -> str:
        return format_gpu_hours(value)

    def units_as_gpu_hours(self, units: int) -> str:
        """Integer H100e units (the ledger's) as GPU-hours."""
        return format_gpu_hours(units_to_gpu_hours(units))

    def krw(self, won: int) -> str:
        return format_krw(won, self.lang)

    def when(self, moment: datetime | None) -> str:
        """Date and time (``format_datetime``); empty for None."""
        return "" if moment is None else format_datetime(moment, self.lang)

    def day(self, moment: datetime | None) -> str:
        """The date alone (``format_date``); empty for None."""
        return "" if moment is None else format_date(moment, self.lang)

    def duration(self, seconds: float | int) -> str:
        return format_duration(seconds, self.lang)

    def percent(self, share: float) -> str:
        return format_percent(share)

    def iso(self, moment: datetime) -> str:
        return iso_instant(moment)
