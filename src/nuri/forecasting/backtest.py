"""Rolling-origin backtests, scaled errors and conformal intervals: the arithmetic that decides
which model forecasts a series and how wide its intervals are. Pure numpy; no model runs here.

**Rolling origins.** A model is judged the way it will be used: trained on the past, asked for
the next ``horizon`` steps, compared with what happened. Doing that at several *origins*
(training ends) instead of one keeps a single lucky or unlucky week from picking the model::

    series  |=====================================================================|
    window 1|== train (>= min_train) ==|-- horizon --|
    window 2|======== train ============ stride =====|-- horizon --|
    window 3|=================== train ================ stride =====|-- horizon --|
                                                                   last window ends at the end

The last window ends where the series ends (the most recent behaviour counts); the others
step back by ``stride``, as far apart as the history allows but never more than one horizon
(older than that says little about the next horizon), and never less than one season (windows
that start within the same day would largely repeat each other's errors).

**MASE.** Errors are divided by the in-sample mean absolute error of the seasonal-naive
forecast (each window's own training part), so a score of 1 means "as good as repeating last
season in sample", scores are comparable across series of any size, and a model is judged
against the baseline the issue names. The season is the daily one in steps (24 for hourly
data); data coarser than a day uses the weekly season (7 for daily data); otherwise lag 1.

**Conformal intervals.** statsforecast's own 80% intervals come from each model's likelihood
and assume its errors are Gaussian with the model's variance; on real demand (long calm
stretches broken by jumps when a big job starts) they covered 94-100% of a held-out week: far
too wide to plan with. Conformal calibration replaces the assumption by the model's own record:
the backtest residuals (actual - forecast) at each lead time are exactly the errors the model
makes when forecasting this series that far ahead, so their empirical 10% and 90% quantiles,
added to the new forecast, bound 80% of its errors if the future errs like the backtested past
(split conformal prediction; Vovk et al. 2005, Stankeviciute et al. 2021 for time series).
Quantiles are taken per lead-time block (half a day of leads: 1-12 h, 13-24 h, ... for hourly
data; see :func:`lead_block`) because errors grow with the lead, and pooled within a block
because a few windows give too few residuals per single lead. Half a day rather than a day:
errors grow fastest over the first hours, and a day-long block gave the first hours the wider
band of the later ones; with 8 windows a 12-hour block still pools 96 residuals, about ten
beyond each bound. Signed rather than absolute residuals keep the band
asymmetric where demand is (jumps up are larger than drops, and zero is a floor).
How well that holds is itself measured without looking at the future: :func:`cross_coverage`
calibrates on all windows but one and scores the one left out, in turn.
"""

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.domain.errors import InvalidInput
from nuri.forecasting.series import format_duration

FloatArray = npt.NDArray[np.float64]

SECONDS_PER_DAY: Final = 86_400
SECONDS_PER_WEEK: Final = 7 * SECONDS_PER_DAY

INTERVAL_LEVEL: Final = 0.8
"""Share of future values the forecast interval should hold (the ``80`` of ``lo80``/``hi80``)."""

LEAD_BLOCK_S: Final = 12 * 3600
"""Lead times whose backtest residuals are pooled into one interval width: half a day."""

MIN_TRAIN_SEASONS: Final = 2
"""The earliest backtest window trains on at least this many seasons (and one horizon)."""


def seasons_in_steps(step_s: int) -> tuple[int, ...]:
    """The daily and weekly seasons of a series with this step, in steps, shortest first.

    A season is kept when the step divides it into at least 2 steps: hourly data has
    ``(24, 168)``, 15-minute data ``(96, 672)``, daily data ``(7,)``, weekly data ``()``.
    """
    if step_s <= 0:
        raise InvalidInput(f"the step must be positive, got {step_s} s")
    return tuple(
        period // step_s
        for period in (SECONDS_PER_DAY, SECONDS_PER_WEEK)
        if period % step_s == 0 and period // step_s >= 2
    )


def mase_season(step_s: int) -> int:
    """The season, in steps, of the seasonal-naive forecast that scales MASE.

    The daily season where the step divides a day (24 for hourly data), else the weekly one
    (7 for daily data), else 1 (the plain naive forecast).
    """
    seasons = seasons_in_steps(step_s)
    return seasons[0] if seasons else 1


def lead_block(step_s: int) -> int:
    """How many consecutive leads share one conformal band width, for a series with this step.

    Half a day of steps where the step divides it (12 for hourly data, 48 for 15-minute data);
    for coarser data, one :func:`mase_season` of steps (7 for daily data, 1 for weekly).
    """
    if step_s <= 0:
        raise InvalidInput(f"the step must be positive, got {step_s} s")
    if LEAD_BLOCK_S % step_s == 0:
        return LEAD_BLOCK_S // step_s
    return mase_season(step_s)


def min_train(horizon: int, season: int) -> int:
    """Points the earliest backtest window trains on: ``MIN_TRAIN_SEASONS`` seasons, and at
    least one horizon (a model that saw less than it is asked to forecast is judged unfairly)."""
    return max(MIN_TRAIN_SEASONS * season, horizon, 2)


def minimum_history(horizon: int, windows: int, season: int) -> int:
    """Points a series needs for ``windows`` backtest windows of ``horizon`` steps."""
    return min_train(horizon, season) + horizon + (windows - 1) * season


def windows_that_fit(length: int, horizon: int, season: int) -> int:
    """How many backtest windows a series of ``length`` points holds (0 if not even one)."""
    spare = length - min_train(horizon, season) - horizon
    return 0 if spare < 0 else spare // season + 1


def rolling_origins(length: int, horizon: int, windows: int, season: int) -> tuple[int, ...]:
    """Where each backtest window's forecast starts (= its training length), oldest first.

    The last origin is ``length - horizon``; the others step back by a stride of at most
    ``horizon`` and at least ``season`` steps, spread over the history beyond
    :func:`min_train` (see the module docstring).

    Raises:
        InvalidInput: ``horizon`` or ``windows`` below 1, or a series shorter than
            :func:`minimum_history` (the message says how many points are needed and why).
    """
    if horizon < 1:
        raise InvalidInput(f"the horizon must be at least 1 step, got {horizon}")
    if windows < 1:
        raise InvalidInput(f"the backtest needs at least 1 window, got {windows}")
    needed = minimum_history(horizon, windows, season)
    if length < needed:
        raise InvalidInput(
            f"too little history: {length} points, but forecasting {horizon} steps with"
            f" {windows} backtest windows needs at least {needed} ({min_train(horizon, season)}"
            f" to train the earliest window, {horizon} to score it, and {season} more for each"
            f" further window, {season} being the season in steps); supply more history, a"
            " shorter horizon or fewer backtest windows"
        )
    last = length - horizon
    if windows == 1:
        return (last,)
    stride = min(horizon, (last - min_train(horizon, season)) // (windows - 1))
    stride = max(stride, season)
    return tuple(last - stride * back for back in range(windows - 1, -1, -1))


def seasonal_naive_scale(insample: FloatArray, season: int) -> float:
    """Mean absolute error of the in-sample seasonal-naive forecast, the MASE denominator.

    Falls back to lag 1 when the sample is shorter than two seasons. A sample with no change at
    that lag (e.g. all zeros) has no natural scale; then its mean absolute value is used, and
    1.0 if that is 0 too, so MASE stays finite and still ranks models by absolute error.
    """
    lag = season if insample.size > season else 1
    if insample.size <= lag:
        return 1.0
    scale = float(np.mean(np.abs(insample[lag:] - insample[:-lag])))
    if scale > 0:
        return scale
    level = float(np.mean(np.abs(insample)))
    return level if level > 0 else 1.0


def mase(actual: FloatArray, forecast: FloatArray, insample: FloatArray, season: int) -> float:
    """Mean absolute scaled error of ``forecast`` against ``actual``.

    ``insample`` is the history the forecast was made from; its seasonal-naive error
    (:func:`seasonal_naive_scale`) is the unit. Below 1: better than the in-sample seasonal naive.
    """
    _same_shape(actual, forecast)
    if actual.size == 0:
        raise InvalidInput("MASE needs at least one actual value")
    return float(np.mean(np.abs(actual - forecast))) / seasonal_naive_scale(insample, season)


def interval_coverage(actual: FloatArray, lo: FloatArray, hi: FloatArray) -> float:
    """Share of ``actual`` values within ``[lo, hi]`` (bounds included)."""
    _same_shape(actual, lo)
    _same_shape(actual, hi)
    if actual.size == 0:
        raise InvalidInput("coverage needs at least one actual value")
    return float(np.mean((actual >= lo) & (actual <= hi)))


@dataclass(frozen=True, slots=True)
class ConformalBand:
    """Offsets to add to a mean forecast, per lead time, to get its interval."""

    lo: FloatArray
    """Added to the mean for the lower bound (usually negative), one per lead."""
    hi: FloatArray
    """Added to the mean for the upper bound (usually positive), one per lead."""


def conformal_band(
    residuals: FloatArray, horizon: int, block: int, level: float = INTERVAL_LEVEL
) -> ConformalBand:
    """The interval offsets for leads ``1..horizon`` from backtest residuals.

    ``residuals`` has one row per backtest window and one column per lead (actual - forecast).
    Leads are grouped in blocks of ``block`` (:func:`lead_block`); within a block the residuals of all
    windows are pooled and the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles taken, with
    the usual finite-sample widening (rank ``ceil((n + 1) q)`` of ``n``). Leads beyond the
    backtested ones reuse the last block. ``lo <= 0 <= hi`` always, so the mean lies inside.
    """
    if residuals.ndim != 2 or residuals.shape[0] < 1 or residuals.shape[1] < 1:
        raise InvalidInput("conformal calibration needs residuals shaped (windows, leads)")
    if not 0 < level < 1:
        raise InvalidInput(f"the interval level must be between 0 and 1, got {level}")
    block = max(1, block)
    tail = (1 - level) / 2
    lo = np.empty(horizon)
    hi = np.empty(horizon)
    leads = residuals.shape[1]
    for start in range(0, horizon, block):
        first = min(start, ((leads - 1) // block) * block)
        pooled = residuals[:, first : first + block].ravel()
        lo[start : start + block] = min(0.0, _widened_quantile(pooled, tail, upper=False))
        hi[start : start + block] = max(0.0, _widened_quantile(pooled, 1 - tail, upper=True))
    return ConformalBand(lo=lo, hi=hi)


def cross_coverage(
    actuals: FloatArray, forecasts: FloatArray, block: int, level: float = INTERVAL_LEVEL
) -> float:
    """Backtest coverage of conformal intervals, each window scored on a band calibrated
    without it (leave one window out), pooled over windows.

    ``actuals`` and ``forecasts`` are shaped (windows, leads). With one window there is nothing
    to calibrate on; the result is then NaN.
    """
    _same_shape(actuals, forecasts)
    windows, leads = actuals.shape
    if windows < 2:
        return math.nan
    residuals = actuals - forecasts
    inside = 0
    for held in range(windows):
        others = np.delete(residuals, held, axis=0)
        band = conformal_band(others, leads, block, level)
        lo = np.maximum(forecasts[held] + band.lo, 0.0)
        hi = forecasts[held] + band.hi
        inside += int(np.sum((actuals[held] >= lo) & (actuals[held] <= hi)))
    return float(inside) / float(windows * leads)


def _widened_quantile(sample: FloatArray, q: float, *, upper: bool) -> float:
    """The split-conformal quantile: rank ``ceil((n + 1) q)`` of ``n`` (from the other end for
    a lower quantile), clamped to the sample, so small samples give wider, not narrower, bands."""
    ordered = np.sort(sample)
    n = ordered.size
    if upper:
        rank = min(n, math.ceil((n + 1) * q))
        return float(ordered[rank - 1])
    rank = min(n, math.ceil((n + 1) * (1 - q)))
    return float(ordered[n - rank])


def _same_shape(left: FloatArray, right: FloatArray) -> None:
    if left.shape != right.shape:
        raise InvalidInput(f"arrays differ in shape: {left.shape} and {right.shape}")


def describe_windows(origins: tuple[int, ...], horizon: int, step_s: int) -> str:
    """A one-line account of a backtest for logs, e.g. ``3 windows of 7 d, 2 d apart``."""
    if len(origins) < 2:
        return f"1 window of {format_duration(horizon * step_s)}"
    stride = origins[1] - origins[0]
    return (
        f"{len(origins)} windows of {format_duration(horizon * step_s)},"
        f" {format_duration(stride * step_s)} apart"
    )
