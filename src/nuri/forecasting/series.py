"""A demand series: regular, non-negative, finite values at evenly spaced UTC timestamps.

Every forecasting function takes a :class:`Series`, so the checks live here, once: a series
that exists is regular, sorted, free of duplicates, NaN, infinities and negative values, and has
at least two points (so it has a step). The models can then assume clean input, and a user who
hands in a bad file learns what to fix before any model runs (not from a statsforecast stack
trace). Whether a series is *long enough* depends on the horizon and the backtest, so that check
is :func:`nuri.forecasting.backtest.minimum_history`'s, made when a forecast is asked for.

Timestamps are ``datetime64[s]`` values meaning UTC (numpy has no zone); the accessors hand out
aware UTC ``datetime`` objects.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.domain.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
"""One-dimensional float64 array (values, forecasts, residuals)."""

TimeArray = npt.NDArray[np.datetime64]
"""One-dimensional ``datetime64[s]`` array of UTC instants."""

HORIZON_UNITS_S: Final[dict[str, int]] = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
"""Units :func:`parse_horizon` accepts, in seconds: minutes, hours, days, weeks."""

_HORIZON = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Series:
    """Values observed at regular UTC instants, the input of every forecast.

    Invariants (checked on construction; build one with :func:`series_from_points` to get
    messages that name the offending point): ``timestamps`` and ``values`` are one-dimensional,
    of equal length (at least 2), read-only; timestamps strictly increase by exactly ``step_s``
    seconds; values are finite and non-negative (demand cannot be negative).
    """

    name: str
    """What the series measures, e.g. a pool or virtual cluster name."""
    unit: str
    """Unit of a value, e.g. ``GPUs``: the average demanded over the step."""
    timestamps: TimeArray
    """Start of each step, ``datetime64[s]`` in UTC."""
    values: FloatArray
    """The observations, one per timestamp."""
    step_s: int = field(init=False)
    """Seconds between consecutive timestamps, inferred."""

    def __post_init__(self) -> None:
        timestamps = np.array(self.timestamps, dtype="datetime64[s]")
        values = np.array(self.values, dtype=np.float64)
        step_s = _check(timestamps, values)
        timestamps.flags.writeable = False
        values.flags.writeable = False
        object.__setattr__(self, "timestamps", timestamps)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "step_s", step_s)

    def __len__(self) -> int:
        return int(self.values.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (
            self.name == other.name
            and self.unit == other.unit
            and np.array_equal(self.timestamps, other.timestamps)
            and np.array_equal(self.values, other.values)
        )

    def __repr__(self) -> str:
        return (
            f"Series(name={self.name!r}, unit={self.unit!r}, points={len(self)},"
            f" step={format_duration(self.step_s)}, start={self.start.isoformat()},"
            f" end={self.end.isoformat()})"
        )

    @property
    def start(self) -> datetime:
        """The first timestamp (aware UTC)."""
        return to_datetime(self.timestamps[0])

    @property
    def end(self) -> datetime:
        """The last timestamp (aware UTC); the series covers up to ``end + step``."""
        return to_datetime(self.timestamps[-1])

    def datetimes(self) -> tuple[datetime, ...]:
        """Every timestamp as an aware UTC ``datetime``."""
        return tuple(to_datetime(moment) for moment in self.timestamps)

    def future_datetimes(self, steps: int) -> tuple[datetime, ...]:
        """The ``steps`` timestamps that follow the series' end, one step apart."""
        step = timedelta(seconds=self.step_s)
        return tuple(self.end + step * (index + 1) for index in range(steps))

    def head(self, points: int) -> "Series":
        """The first ``points`` points (e.g. to hold out the rest); needs ``points >= 2``."""
        return Series(self.name, self.unit, self.timestamps[:points], self.values[:points])


def series_from_points(
    name: str,
    unit: str,
    timestamps: Sequence[datetime] | TimeArray,
    values: Sequence[float] | npt.NDArray[np.floating] | npt.NDArray[np.integer],
) -> Series:
    """Build a :class:`Series`, inferring its step, or say exactly what is wrong with the points.

    ``timestamps`` are ``datetime`` objects (naive ones are taken as UTC, aware ones converted)
    or a ``datetime64`` array (taken as UTC). They must be whole seconds, strictly increasing and
    evenly spaced. ``values`` must be finite, non-negative numbers, one per timestamp.

    Raises:
        InvalidInput: lengths differ or there are fewer than 2 points; a value is not a number,
            NaN, infinite or negative; timestamps are duplicated, out of order, irregular or not
            whole seconds. The message names the first offending point (1-based) and its time.
    """
    moments = _as_datetime64(timestamps)
    numbers = _as_floats(values)
    return Series(name=name, unit=unit, timestamps=moments, values=numbers)


def parse_horizon(text: str, step_s: int) -> int:
    """The number of steps in a horizon such as ``"7d"``, ``"36h"``, ``"90m"`` or ``"2w"``.

    Units: ``m`` minutes, ``h`` hours, ``d`` days, ``w`` weeks (case-insensitive). The amount is
    a positive whole number and the horizon must be a whole number of ``step_s``-second steps.

    Raises:
        InvalidInput: a malformed text, an unknown unit, a zero horizon, or one that does not
            divide into whole steps (the message gives the step and the nearest valid horizons).
    """
    if step_s <= 0:
        raise InvalidInput(f"the series step must be positive, got {step_s} s")
    match = _HORIZON.match(text)
    if match is None:
        raise InvalidInput(
            f"cannot read the horizon {text!r}: write a whole number and a unit,"
            " m (minutes), h (hours), d (days) or w (weeks), e.g. 7d or 36h"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    if unit not in HORIZON_UNITS_S:
        raise InvalidInput(
            f"unknown unit {match.group(2)!r} in the horizon {text!r}: use m (minutes),"
            " h (hours), d (days) or w (weeks)"
        )
    seconds = amount * HORIZON_UNITS_S[unit]
    if seconds <= 0:
        raise InvalidInput(f"the horizon {text!r} must be positive, e.g. 7d")
    steps, remainder = divmod(seconds, step_s)
    if remainder:
        below = format_duration(steps * step_s) if steps else None
        above = format_duration((steps + 1) * step_s)
        nearest = f"{below} or {above}" if below else above
        raise InvalidInput(
            f"the horizon {text!r} is not a whole number of the series' {format_duration(step_s)}"
            f" steps; use a multiple of {format_duration(step_s)}, e.g. {nearest}"
        )
    return steps


def format_duration(seconds: int) -> str:
    """A duration in the largest unit that divides it: ``"1 h"``, ``"90 min"``, ``"7 d"``."""
    for label, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size} {label}"
    return f"{seconds} s"


def to_datetime(moment: np.datetime64) -> datetime:
    """A ``datetime64`` (meaning UTC) as an aware UTC ``datetime``, to the second."""
    seconds = int(moment.astype("datetime64[s]").astype(np.int64))
    return _EPOCH + timedelta(seconds=seconds)


def _as_datetime64(timestamps: Sequence[datetime] | TimeArray) -> TimeArray:
    if isinstance(timestamps, np.ndarray):
        if not np.issubdtype(timestamps.dtype, np.datetime64):
            raise InvalidInput(
                f"timestamps must be datetimes or a datetime64 array, got a {timestamps.dtype} array"
            )
        whole = timestamps.astype("datetime64[s]")
        if np.any(whole != timestamps):
            first = int(np.argmax(whole != timestamps))
            raise InvalidInput(
                f"timestamps must fall on whole seconds; point {first + 1} is {timestamps[first]}"
            )
        return whole
    seconds: list[int] = []
    for index, moment in enumerate(timestamps):
        if not isinstance(moment, datetime):
            raise InvalidInput(
                f"point {index + 1}: the timestamp {moment!r} is not a datetime"
                " (naive datetimes are taken as UTC)"
            )
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if aware.microsecond:
            raise InvalidInput(
                f"point {index + 1}: the timestamp {aware.isoformat()} is not a whole second"
            )
        seconds.append(int((aware - _EPOCH).total_seconds()))
    return np.array(seconds, dtype=np.int64).astype("datetime64[s]")


def _as_floats(
    values: Sequence[float] | npt.NDArray[np.floating] | npt.NDArray[np.integer],
) -> FloatArray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    for index, value in enumerate(values):
        try:
            float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"point {index + 1}: the value {value!r} is not a number") from None
    raise InvalidInput("values must be one number per timestamp")


def _check(timestamps: TimeArray, values: FloatArray) -> int:
    """Validate the arrays of a series and return its step in seconds."""
    if timestamps.ndim != 1 or values.ndim != 1:
        raise InvalidInput("timestamps and values must be one-dimensional sequences")
    if timestamps.size != values.size:
        raise InvalidInput(
            f"there are {timestamps.size} timestamps but {values.size} values; give one value"
            " per timestamp"
        )
    if values.size < 2:
        raise InvalidInput(
            f"a series needs at least 2 points to have a step, got {values.size}; supply more"
            " history"
        )
    if np.isnat(timestamps).any():
        first = int(np.argmax(np.isnat(timestamps)))
        raise InvalidInput(f"point {first + 1} has no timestamp (NaT)")
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise InvalidInput(
            f"point {first + 1} ({_text(timestamps[first])}) is {values[first]}: every value"
            " must be a finite number; fill the gap (e.g. interpolate) rather than drop it,"
            " since dropping leaves an irregular step"
        )
    negative = values < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise InvalidInput(
            f"point {first + 1} ({_text(timestamps[first])}) is {values[first]:g}: demand"
            " cannot be negative"
        )
    gaps = np.diff(timestamps.astype(np.int64))
    if (gaps == 0).any():
        first = int(np.argmax(gaps == 0)) + 1
        raise InvalidInput(
            f"points {first} and {first + 1} share the timestamp {_text(timestamps[first])};"
            " aggregate duplicates to one value per step"
        )
    if (gaps < 0).any():
        first = int(np.argmax(gaps < 0)) + 1
        raise InvalidInput(
            f"timestamps must increase: point {first + 1} ({_text(timestamps[first])}) comes"
            f" before point {first} ({_text(timestamps[first - 1])}); sort the series by time"
        )
    sizes, counts = np.unique(gaps, return_counts=True)
    step_s = int(sizes[int(np.argmax(counts))])  # the most common gap; ties: the shortest
    odd = gaps != step_s
    if odd.any():
        first = int(np.argmax(odd)) + 1
        raise InvalidInput(
            f"irregular step: point {first + 1} ({_text(timestamps[first])}) comes"
            f" {format_duration(int(gaps[first - 1]))} after point {first}, but the series' step"
            f" is {format_duration(step_s)} (its most common gap); resample to a regular step"
            " and fill missing steps"
        )
    return step_s


def _text(moment: np.datetime64) -> str:
    return to_datetime(moment).isoformat()
