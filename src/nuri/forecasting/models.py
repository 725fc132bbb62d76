"""The candidate models a forecast chooses from, built on statsforecast.

Each candidate is a :data:`PointForecaster`: a pure function from a history (float array) and a
horizon to the mean forecast of the next ``horizon`` steps. Intervals are not the models' own
(they were far too wide on real demand); :mod:`nuri.forecasting.backtest` calibrates them from
backtest residuals. The candidates, by name (the names appear in every :class:`Forecast`)::

    SeasonalNaive   repeat the last season (a day for hourly data): the baseline every other
                    model must beat, always a candidate
    Naive           repeat the last value: on demand that moves like a random walk, the latest
                    level is often a better guess than yesterday's shape
    AutoETS         exponential smoothing, error/trend/season chosen by AICc; seasonal only
                    for seasons up to 24 steps (statsforecast's limit)
    AutoARIMA       ARIMA orders chosen by AICc, non-seasonal, on the series with its daily
                    season removed (robust STL) when that season is significant
    MSTL            robust STL decomposition into daily (+ weekly, with two weeks of history)
                    seasons, each repeated forward, plus an AutoETS trend
    Median          not a model but a combination: the per-step median of the single models'
                    forecasts (:func:`median_forecast`)

Why a median combination: on the real demand series the single models' backtest scores differ
by a few percent, so picking the best one is close to chance, and each of them is badly wrong
on some series (a trend carried too far, a season read from noise, a pull to a mean that is not
there). The per-step median of several forecasts is never worse than the worst of them, and
one model's error moves it at most to the next model's forecast; combinations are the robust
choice in every M competition (Makridakis et al. 2020, M4). The chooser prefers it unless one
model backtests clearly better (:mod:`nuri.forecasting.chooser`).

Why AutoARIMA is restricted: a full seasonal search with a 24-step season takes 70-80 s per
month of hourly data, and a backtest refits every candidate once per window. Removing the
season first and searching non-seasonal orders (the third remedy in the issue) costs about
0.2 s per fit. The daily season is removed only when its autocorrelation is significant (the
90% test of the M4 competition's seasonality check, Assimakopoulos & Nikolopoulos): on the
demand series most days are not alike, and subtracting a seasonal shape estimated from noise
adds that noise to every forecast. Robust STL keeps a single large job starting from being
read as a season.

statsforecast warns (``UserWarning``) when an optimiser does not converge on one of the many
models a search tries; the search simply moves on, so those warnings are silenced, but only
around the calls here, never process-wide.
"""

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from statsforecast.models import (  # type: ignore[import-untyped]
    MSTL,
    AutoARIMA,
    AutoETS,
    SeasonalNaive,
)

from nuri.domain.errors import InvalidInput
from nuri.forecasting.backtest import mase_season, seasons_in_steps

FloatArray = npt.NDArray[np.float64]

PointForecaster = Callable[[FloatArray, int], FloatArray]
"""``(history, horizon) -> mean forecast of the next horizon steps``; pure and deterministic."""

SEASONAL_NAIVE: Final = "SeasonalNaive"
NAIVE: Final = "Naive"
AUTO_ETS: Final = "AutoETS"
AUTO_ARIMA: Final = "AutoARIMA"
MSTL_NAME: Final = "MSTL"
MEDIAN: Final = "Median"
"""The name of the median combination of the single models, as it appears in a forecast."""

MODEL_NAMES: Final[tuple[str, ...]] = (SEASONAL_NAIVE, NAIVE, AUTO_ETS, AUTO_ARIMA, MSTL_NAME)
"""Every single model, in tie-break order: on equal backtest scores the earlier (simpler) wins."""

MIN_MEDIAN_MEMBERS: Final = 3
"""Fewest single models the median combines: with two it would be their mean, and one bad
model could move it half way."""

ETS_MAX_SEASON: Final = 24
"""statsforecast's ETS cannot model longer seasons; beyond this AutoETS runs non-seasonal."""

SEASONALITY_Z: Final = 1.645
"""One-sided 90% normal quantile of the seasonality test (M4's Theta benchmark uses it)."""


def candidate_models(step_s: int, shortest_history: int) -> dict[str, PointForecaster]:
    """Every candidate for a series with this step, in :data:`MODEL_NAMES` order.

    ``shortest_history`` is the fewest points any fit will see (the earliest backtest window),
    so each model is the same in every window and in the final fit: MSTL keeps only the seasons
    that fit twice into it, and is left out when none does (e.g. weekly data has no season).
    """
    season = mase_season(step_s)
    models: dict[str, PointForecaster] = {
        SEASONAL_NAIVE: _seasonal_naive(season),
        NAIVE: _naive,
        AUTO_ETS: _auto_ets(season if season <= ETS_MAX_SEASON else 1),
        AUTO_ARIMA: _auto_arima(season),
    }
    fitting = [period for period in seasons_in_steps(step_s) if 2 * period <= shortest_history]
    if fitting:
        models[MSTL_NAME] = _mstl(tuple(fitting))
    return models


def has_significant_season(history: FloatArray, season: int) -> bool:
    """Whether the autocorrelation at lag ``season`` is significantly positive (90%, one-sided).

    The bound is Bartlett's standard error of the lag-``season`` autocorrelation under the
    hypothesis that the lower lags explain the series: ``sqrt((1 + 2 sum r_k^2) / n)``, k below
    ``season``. Needs three seasons of history; a constant series has no season.
    """
    n = history.size
    if season < 2 or n < 3 * season:
        return False
    centred = history - history.mean()
    energy = float(np.dot(centred, centred))
    if energy == 0:
        return False
    acf = np.array(
        [float(np.dot(centred[:-lag], centred[lag:])) / energy for lag in range(1, season + 1)]
    )
    bound = SEASONALITY_Z * math.sqrt((1 + 2 * float(np.sum(acf[:-1] ** 2))) / n)
    return bool(acf[-1] > bound)


def median_forecast(forecasts: Sequence[FloatArray]) -> FloatArray:
    """The per-step median of equally long forecasts (the mean of the middle two for an even
    number). Its value at each step lies between the lowest and highest forecast there, so
    forecasts clipped at zero give a median at or above zero.

    Raises:
        InvalidInput: no forecasts, or forecasts of different lengths.
    """
    if not forecasts:
        raise InvalidInput("the median combination needs at least one forecast")
    if len({forecast.shape for forecast in forecasts}) != 1:
        raise InvalidInput("the median combination needs forecasts of one length")
    return np.asarray(np.median(np.stack(forecasts), axis=0), dtype=np.float64)


def _naive(history: FloatArray, horizon: int) -> FloatArray:
    """The last value, repeated (statsforecast's ``Naive``, without its fitting overhead)."""
    return np.full(horizon, history[-1], dtype=np.float64)


def _seasonal_naive(season: int) -> PointForecaster:
    def forecast(history: FloatArray, horizon: int) -> FloatArray:
        if history.size < season:
            return np.full(horizon, history[-1])
        return _mean(SeasonalNaive(season_length=season), history, horizon)

    return forecast


def _auto_ets(season: int) -> PointForecaster:
    def forecast(history: FloatArray, horizon: int) -> FloatArray:
        return _mean(AutoETS(season_length=season), history, horizon)

    return forecast


def _auto_arima(season: int) -> PointForecaster:
    def forecast(history: FloatArray, horizon: int) -> FloatArray:
        arima = AutoARIMA(seasonal=False)
        if has_significant_season(history, season):
            deseasonalised = MSTL(
                season_length=[season], trend_forecaster=arima, stl_kwargs={"robust": True}
            )
            return _mean(deseasonalised, history, horizon)
        return _mean(arima, history, horizon)

    return forecast


def _mstl(seasons: tuple[int, ...]) -> PointForecaster:
    def forecast(history: FloatArray, horizon: int) -> FloatArray:
        model = MSTL(
            season_length=list(seasons),
            trend_forecaster=AutoETS(model="ZZN"),
            stl_kwargs={"robust": True},
        )
        return _mean(model, history, horizon)

    return forecast


def _mean(model: Any, history: FloatArray, horizon: int) -> FloatArray:
    """Run one statsforecast model and return its mean forecast as float64."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result: Mapping[str, Any] = model.forecast(y=history, h=horizon)
    return np.asarray(result["mean"], dtype=np.float64)
