"""Forecast a demand series with the median of the candidate models, or with one of them
where it backtests clearly better.

:func:`forecast_series` is the one entry point (the ``nuri forecast`` command and capacity
planning call it). Its pipeline, each stage a pure function of the one before::

    1. origins     rolling-origin backtest windows over the history      (backtest.py)
    2. backtest    every single model forecasts every window              (models.py)
    3. combine     the Median: per window, the per-step median of those forecasts
    4. score       MASE per window, averaged; leave-one-window-out coverage
    5. choose      the Median, unless a single model's MASE is at least 10% lower
    6. refit       the chosen model (for the Median, every member) on the whole history
    7. calibrate   conformal 80% band from the chosen forecast's backtest residuals
    8. assemble    clip at zero, add the known future demand, stamp the timestamps

Why backtests rather than, say, the best in-sample fit: information criteria compare models of
one family only (AICc of an ETS and of an ARIMA are not comparable), and in-sample fit rewards
models that chase noise; the backtest asks each model the question it will be asked, on this
series. Why the Median by default (:func:`choose_model`): on real demand the single models'
backtest scores differ by a few percent, so the lowest of them is chosen largely by chance and
then misses on the held-out future as often as not; the median of all of them is rarely the
best and rarely bad. A single model is worth its risk only where it is clearly better, as on a
series with a steady trend or a strong weekly shape that some models miss.
"""

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.domain.errors import InvalidInput
from nuri.forecasting.backtest import (
    conformal_band,
    cross_coverage,
    describe_windows,
    lead_block,
    mase,
    mase_season,
    rolling_origins,
    windows_that_fit,
)
from nuri.forecasting.forecast import Forecast, ForecastPoint, ModelScore
from nuri.forecasting.models import (
    MEDIAN,
    MIN_MEDIAN_MEMBERS,
    MODEL_NAMES,
    SEASONAL_NAIVE,
    PointForecaster,
    candidate_models,
    median_forecast,
)
from nuri.forecasting.series import Series

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

DEFAULT_BACKTEST_WINDOWS: Final = 8
"""Most backtest windows per candidate. More windows give more residuals to calibrate the band
(8 x 24 per lead-day for hourly data) and a steadier choice; each costs one fit per candidate
(with 8, a week ahead from a month of hourly data takes about 3 s on one core)."""

MIN_BACKTEST_WINDOWS: Final = 2
"""Fewest windows: one to calibrate the interval on and one to check it."""

SINGLE_MODEL_MARGIN: Final = 0.9
"""A single model replaces the Median only if its backtest MASE is at most this share of the
Median's (at least 10% better): smaller differences are mostly the luck of the windows."""

KNOWN_NAMES: Final[tuple[str, ...]] = (*MODEL_NAMES, MEDIAN)
"""Every name ``models`` accepts: the single models and the combination."""


@dataclass(frozen=True, slots=True)
class _Backtest:
    """One candidate's record over the backtest windows."""

    actuals: FloatArray
    """Shaped (windows, horizon)."""
    forecasts: FloatArray
    """Shaped (windows, horizon), clipped at zero like the final forecast."""
    mase: float
    """Mean over windows of each window's MASE."""


def forecast_series(
    series: Series,
    horizon_steps: int,
    *,
    known_future: Sequence[float] | None = None,
    models: Sequence[str] | None = None,
    backtest_windows: int = DEFAULT_BACKTEST_WINDOWS,
) -> Forecast:
    """Forecast ``horizon_steps`` steps past the end of ``series`` with calibrated 80% intervals.

    The candidates are those named in ``models`` (default: every single model of
    :data:`~nuri.forecasting.models.MODEL_NAMES` and the ``Median``; ``SeasonalNaive`` is always
    added, as the baseline). Each single model is backtested on up to ``backtest_windows``
    rolling origins of ``horizon_steps`` steps each (fewer when the history is too short for
    that many, but at least 2). The ``Median`` combines the single models that backtested (at
    least three, or it is left out) and is scored the same way.
    :func:`choose_model` picks the forecast; it is refitted on the whole series (for the
    Median: each member, and the median taken). Its intervals are the conformal band of its
    backtest residuals, per half day of lead time.
    Mean and bounds are clipped at zero (demand is not negative), then ``known_future`` (extra
    demand per future step, e.g. from awards starting after the series ends, in the series'
    unit) is added to all three. ``lo80 <= mean <= hi80`` at every point.

    The result's ``backtest`` maps each candidate that ran (the Median included) to its
    backtest MASE and the leave-one-window-out coverage of its 80% interval; a candidate whose
    fit failed is left out (and logged); ``model`` is one of its keys. Deterministic: the same
    input gives the same forecast.

    Raises:
        InvalidInput: ``horizon_steps`` below 1; fewer than 2 backtest windows; an unknown model
            name (the message lists the known ones); ``known_future`` of the wrong length, or
            with a negative or non-finite value; a series too short for the horizon and backtest
            (the message says how many points are needed).
    """
    if horizon_steps < 1:
        raise InvalidInput(f"the horizon must be at least 1 step, got {horizon_steps}")
    if backtest_windows < MIN_BACKTEST_WINDOWS:
        raise InvalidInput(
            f"backtest_windows must be at least {MIN_BACKTEST_WINDOWS} (one to calibrate"
            f" intervals on, one to check them), got {backtest_windows}"
        )
    extra = _known_future(known_future, horizon_steps)
    wanted = _model_names(models)
    season = mase_season(series.step_s)
    history = series.values
    # 1. origins: as many windows as asked for and the history holds, at least the minimum
    fitting = windows_that_fit(len(series), horizon_steps, season)
    windows = max(MIN_BACKTEST_WINDOWS, min(backtest_windows, fitting))
    origins = rolling_origins(len(series), horizon_steps, windows, season)
    candidates = {
        name: model
        for name, model in candidate_models(series.step_s, origins[0]).items()
        if name in wanted
    }
    block = lead_block(series.step_s)
    started = time.perf_counter()
    # 2. backtest every single model
    records: dict[str, _Backtest] = {}
    for name, model in candidates.items():
        record = _backtest(model, history, origins, horizon_steps, season, name, series.name)
        if record is not None:
            records[name] = record
    members = list(records)
    # 3. combine (scored like the others in 4)
    if MEDIAN in wanted:
        if len(members) >= MIN_MEDIAN_MEMBERS:
            records[MEDIAN] = _median_backtest(
                [records[name] for name in members], origins, history, season
            )
        else:
            logger.info(
                "%s: %s left out, it needs %d models and %d backtested",
                series.name,
                MEDIAN,
                MIN_MEDIAN_MEMBERS,
                len(members),
            )
    # 5-6. choose and refit; a model whose final fit fails yields to the next best
    order = _preference(records)
    chosen, mean = _refit(order, members, candidates, history, horizon_steps, series.name)
    # 7. calibrate
    chosen_record = records[chosen]
    band = conformal_band(chosen_record.actuals - chosen_record.forecasts, horizon_steps, block)
    lo = np.maximum(mean + band.lo, 0.0)
    hi = mean + band.hi
    logger.info(
        "forecast %s: %s chosen by backtest (%s) in %.1f s",
        series.name,
        chosen,
        describe_windows(origins, horizon_steps, series.step_s),
        time.perf_counter() - started,
    )
    # 8. assemble
    points = tuple(
        ForecastPoint(timestamp=moment, mean=float(m + e), lo80=float(low + e), hi80=float(h + e))
        for moment, m, low, h, e in zip(
            series.future_datetimes(horizon_steps), mean, lo, hi, extra, strict=True
        )
    )
    scores = {
        name: ModelScore(
            mase=record.mase,
            coverage80=cross_coverage(record.actuals, record.forecasts, block),
        )
        for name, record in records.items()
    }
    return Forecast(
        series=series.name,
        unit=series.unit,
        step_s=series.step_s,
        model=chosen,
        backtest=scores,
        points=points,
    )


def choose_model(scores: Mapping[str, float], margin: float = SINGLE_MODEL_MARGIN) -> str:
    """The forecast to use, given each candidate's backtest MASE (lower is better).

    The ``Median``, if it is among ``scores``, unless the best single model's MASE is at most
    ``margin`` times the Median's; then that single model. Without a Median, the best single
    model. Ties between single models go to the earlier in ``scores`` (pass them in
    :data:`~nuri.forecasting.models.MODEL_NAMES` order, simplest first).

    Raises:
        InvalidInput: no single model among ``scores``.
    """
    singles = [name for name in scores if name != MEDIAN]
    if not singles:
        raise InvalidInput("choosing a forecast needs the backtest score of at least one model")
    best = min(singles, key=lambda name: scores[name])
    if MEDIAN in scores and not scores[best] <= margin * scores[MEDIAN]:
        return MEDIAN
    return best


def _preference(records: Mapping[str, _Backtest]) -> list[str]:
    """Every candidate, the chosen one first, then the others by backtest MASE (stable)."""
    chosen = choose_model({name: record.mase for name, record in records.items()})
    rest = sorted((name for name in records if name != chosen), key=lambda n: records[n].mase)
    return [chosen, *rest]


def _refit(
    order: list[str],
    members: list[str],
    candidates: Mapping[str, PointForecaster],
    history: FloatArray,
    horizon: int,
    series_name: str,
) -> tuple[str, FloatArray]:
    """The first of ``order`` that fits the whole history, and its clipped forecast.

    The Median refits each of ``members`` and takes the median of those that fit (at least
    SeasonalNaive and Naive, which never fail).
    """
    for name in order:
        if name == MEDIAN:
            fits = [
                _fit(candidates[member], member, history, horizon, series_name)
                for member in members
            ]
            return name, median_forecast([fit for fit in fits if fit is not None])
        fit = _fit(candidates[name], name, history, horizon, series_name)
        if fit is not None:
            return name, fit
    raise AssertionError("unreachable: SeasonalNaive is always a candidate and never fails")


def _fit(
    model: PointForecaster, name: str, history: FloatArray, horizon: int, series_name: str
) -> FloatArray | None:
    """One model's clipped forecast from the whole history, or None (logged) if it fails."""
    try:
        return _clipped(model(history, horizon), horizon)
    # As in the backtest: statsforecast signals unfit data with bare Exceptions.
    except Exception as error:
        if name == SEASONAL_NAIVE:
            raise
        logger.warning("%s: %s failed on the whole history: %s", series_name, name, error)
        return None


def _median_backtest(
    members: list[_Backtest], origins: tuple[int, ...], history: FloatArray, season: int
) -> _Backtest:
    """The Median's record: per window, the per-step median of the members' forecasts, scored
    like a single model's (the members' forecasts are already clipped, so it is too)."""
    actuals = members[0].actuals
    forecasts = np.stack(
        [
            median_forecast([member.forecasts[row] for member in members])
            for row in range(len(origins))
        ]
    )
    scores = [
        mase(actuals[row], forecasts[row], history[:origin], season)
        for row, origin in enumerate(origins)
    ]
    return _Backtest(actuals=actuals, forecasts=forecasts, mase=float(np.mean(scores)))


def _backtest(
    model: PointForecaster,
    history: FloatArray,
    origins: tuple[int, ...],
    horizon: int,
    season: int,
    name: str,
    series_name: str,
) -> _Backtest | None:
    """Run ``model`` on every window, or None (logged) if a fit fails."""
    actuals = np.empty((len(origins), horizon))
    forecasts = np.empty((len(origins), horizon))
    scores = []
    for row, origin in enumerate(origins):
        train = history[:origin]
        try:
            forecast = _clipped(model(train, horizon), horizon)
        # statsforecast raises bare Exceptions for data a model cannot fit (e.g. "no model
        # able to be fitted"); such a model is simply not a candidate for this series.
        except Exception as error:
            if name == SEASONAL_NAIVE:
                raise
            logger.warning("%s: %s left out, its fit failed: %s", series_name, name, error)
            return None
        actuals[row] = history[origin : origin + horizon]
        forecasts[row] = forecast
        scores.append(mase(actuals[row], forecast, train, season))
    return _Backtest(actuals=actuals, forecasts=forecasts, mase=float(np.mean(scores)))


def _clipped(forecast: FloatArray, horizon: int) -> FloatArray:
    """The model's forecast as ``horizon`` finite values, clipped at zero."""
    if forecast.shape != (horizon,) or not bool(np.all(np.isfinite(forecast))):
        raise ValueError(f"the model returned {forecast.shape} values, not {horizon} finite ones")
    return np.maximum(forecast, 0.0)


def _model_names(models: Sequence[str] | None) -> set[str]:
    if models is None:
        return set(KNOWN_NAMES)
    if isinstance(models, str):
        models = [models]
    unknown = [name for name in models if name not in KNOWN_NAMES]
    if unknown:
        raise InvalidInput(
            f"unknown model(s) {', '.join(map(repr, unknown))}; known models:"
            f" {', '.join(KNOWN_NAMES)}"
        )
    return {*models, SEASONAL_NAIVE}


def _known_future(known_future: Sequence[float] | None, horizon: int) -> FloatArray:
    if known_future is None:
        return np.zeros(horizon)
    try:
        extra = np.asarray(known_future, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("known_future must be numbers, one per forecast step") from None
    if extra.shape != (horizon,):
        raise InvalidInput(
            f"known_future has {extra.size} values but the horizon is {horizon} steps; give one"
            " extra demand per forecast step (0 where nothing is known)"
        )
    bad = ~np.isfinite(extra) | (extra < 0)
    if bad.any():
        first = int(np.argmax(bad))
        value = extra[first]
        raise InvalidInput(
            f"known_future step {first + 1} is {value:g}: extra demand must be a finite number"
            " >= 0" + (" (NaN)" if math.isnan(value) else "")
        )
    return extra
