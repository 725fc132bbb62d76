"""Forecasting on synthetic series of known structure: series validation, horizons, the backtest
arithmetic (MASE, coverage, conformal bands) against hand-computed values, the median
combination and the rule that chooses between it and a single model, and the chooser end to end
(it recovers a trend and a weekly shape, its intervals cover about 80%, are ordered and never
negative, known future demand is added, bad input is refused with a message that says what to
fix).

Series are short and backtests use few windows so the whole module runs in seconds.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from nuri.domain.errors import InvalidInput
from nuri.forecasting.backtest import (
    conformal_band,
    cross_coverage,
    interval_coverage,
    lead_block,
    mase,
    mase_season,
    minimum_history,
    rolling_origins,
    seasonal_naive_scale,
    seasons_in_steps,
    windows_that_fit,
)
from nuri.forecasting.chooser import choose_model, forecast_series
from nuri.forecasting.forecast import Forecast
from nuri.forecasting.models import (
    MEDIAN,
    MODEL_NAMES,
    candidate_models,
    has_significant_season,
    median_forecast,
)
from nuri.forecasting.plots import forecast_figure
from nuri.forecasting.series import Series, parse_horizon, series_from_points
from nuri.sim.plots import write_figure

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
HOUR = 3600
DAY = 24
WEEK = 7 * DAY
WEEKLY_SHAPE = np.array([0.0, 2.0, 4.0, 4.0, 2.0, -6.0, -6.0])
"""Offset per weekday (Monday first), in GPUs: busy midweek, quiet at the weekend."""
SLOPE = 0.05
"""GPUs per hour of the synthetic trend."""


def hourly(values: np.ndarray, name: str = "pool") -> Series:
    stamps = [START + timedelta(hours=index) for index in range(len(values))]
    return series_from_points(name, "GPUs", stamps, values)


def structured(hours: int, seed: int = 0) -> np.ndarray:
    """Trend + daily sine + weekly shape + a little noise, from START (a Monday, midnight)."""
    t = np.arange(hours)
    rng = np.random.default_rng(seed)
    daily = 5.0 * np.sin(2 * np.pi * t / DAY)
    weekly = WEEKLY_SHAPE[(t // DAY) % 7]
    return 50.0 + SLOPE * t + daily + weekly + rng.normal(0.0, 0.5, hours)


def noisy(hours: int, seed: int) -> np.ndarray:
    """A daily season under plenty of independent noise: intervals are what matters here."""
    t = np.arange(hours)
    rng = np.random.default_rng(seed)
    return 30.0 + 4.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0.0, 3.0, hours)


def arrays(forecast: Forecast) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([p.mean for p in forecast.points]),
        np.array([p.lo80 for p in forecast.points]),
        np.array([p.hi80 for p in forecast.points]),
    )


# --- series and horizons ------------------------------------------------------------------


def test_series_infers_step_and_hands_out_utc() -> None:
    """The step is inferred; timestamps come back aware UTC; naive input means UTC; the future
    continues one step at a time; the arrays cannot be changed behind the series' back."""
    naive = [datetime(2026, 3, 2, hour) for hour in range(4)]
    series = series_from_points("pool", "GPUs", naive, [1, 2, 3, 4])
    assert series.step_s == HOUR
    assert series.start == START and series.end == START + timedelta(hours=3)
    assert series.datetimes()[1] == START + timedelta(hours=1)
    assert series.future_datetimes(2) == (
        START + timedelta(hours=4),
        START + timedelta(hours=5),
    )
    with pytest.raises(ValueError):
        series.values[0] = 9.0
    aware = [moment.replace(tzinfo=UTC) for moment in naive]
    assert series_from_points("pool", "GPUs", aware, [1, 2, 3, 4]) == series
    numpy_stamps = np.array(naive, dtype="datetime64[s]")
    assert series_from_points("pool", "GPUs", numpy_stamps, np.arange(1, 5)) == series


BAD_POINTS = {
    "duplicate": (
        [0, 1, 1, 2],
        [1.0, 2.0, 3.0, 4.0],
        "points 2 and 3 share the timestamp 2026-03-02T01:00:00\\+00:00; aggregate",
    ),
    "unsorted": ([0, 2, 1, 3], [1.0, 2.0, 3.0, 4.0], "must increase: point 3 .* sort"),
    "irregular": ([0, 1, 2, 4, 5], [1.0] * 5, "irregular step: point 4 .* comes 2 h after"),
    "nan": (
        [0, 1, 2],
        [1.0, float("nan"), 3.0],
        "point 2 .* is nan: every value must be a finite number",
    ),
    "inf": ([0, 1, 2], [1.0, float("inf"), 3.0], "point 2 .* is inf"),
    "negative": ([0, 1, 2], [1.0, -2.0, 3.0], "point 2 .* is -2: demand cannot be negative"),
    "non-numeric": ([0, 1, 2], [1.0, "lots", 3.0], "point 2: the value 'lots' is not a number"),
    "one point": ([0], [1.0], "at least 2 points"),
    "lengths differ": ([0, 1, 2], [1.0, 2.0], "3 timestamps but 2 values"),
}


@pytest.mark.parametrize("hours, values, message", BAD_POINTS.values(), ids=BAD_POINTS.keys())
def test_bad_points_are_refused_with_what_to_fix(
    hours: list[int], values: list[object], message: str
) -> None:
    """Each defect names the first offending point and its time, and says how to fix it."""
    stamps = [START + timedelta(hours=hour) for hour in hours]
    with pytest.raises(InvalidInput, match=message):
        series_from_points("pool", "GPUs", stamps, values)  # type: ignore[arg-type]


HORIZONS = {
    "days": ("7d", HOUR, 168),
    "hours": ("36h", HOUR, 36),
    "minutes": ("90m", 1800, 3),
    "weeks": ("2w", 86_400, 14),
    "upper case": ("2D", HOUR, 48),
}


@pytest.mark.parametrize("text, step_s, steps", HORIZONS.values(), ids=HORIZONS.keys())
def test_parse_horizon(text: str, step_s: int, steps: int) -> None:
    """A horizon with a unit becomes a number of steps of the series."""
    assert parse_horizon(text, step_s) == steps


BAD_HORIZONS = {
    "not whole steps": (
        "90m",
        HOUR,
        "not a whole number of the series' 1 h steps.*e.g. 1 h or 2 h",
    ),
    "shorter than a step": ("30m", HOUR, "e.g. 1 h$"),
    "zero": ("0d", HOUR, "must be positive"),
    "no unit": ("7", HOUR, "write a whole number and a unit"),
    "unknown unit": ("7y", HOUR, "unknown unit 'y'"),
    "fraction": ("1.5d", HOUR, "write a whole number and a unit"),
}


@pytest.mark.parametrize("text, step_s, message", BAD_HORIZONS.values(), ids=BAD_HORIZONS.keys())
def test_bad_horizons_are_refused(text: str, step_s: int, message: str) -> None:
    """A horizon that is malformed, not positive or not a whole number of steps is refused."""
    with pytest.raises(InvalidInput, match=message):
        parse_horizon(text, step_s)


# --- backtest arithmetic ------------------------------------------------------------------


def test_seasons_follow_the_step() -> None:
    """Daily and weekly seasons in steps where the step divides them; MASE uses the shortest."""
    assert seasons_in_steps(HOUR) == (24, 168)
    assert seasons_in_steps(900) == (96, 672)
    assert seasons_in_steps(86_400) == (7,)
    assert seasons_in_steps(7 * 86_400) == ()
    assert (mase_season(HOUR), mase_season(86_400), mase_season(7 * 86_400)) == (24, 7, 1)


def test_interval_widths_change_every_half_day_of_lead() -> None:
    """Hourly data pools 12 leads per band width, 15-minute data 48; data coarser than half a
    day falls back to one season of leads (a week for daily data)."""
    assert (lead_block(HOUR), lead_block(900), lead_block(86_400), lead_block(7 * 86_400)) == (
        12,
        48,
        7,
        1,
    )
    with pytest.raises(InvalidInput, match="step must be positive"):
        lead_block(0)


def test_mase_by_hand() -> None:
    """In-sample seasonal-naive error of 1..6 at season 2 is 2; errors 1 and 2 give 1.5 / 2."""
    insample = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert seasonal_naive_scale(insample, 2) == 2.0
    assert mase(np.array([7.0, 8.0]), np.array([6.0, 10.0]), insample, 2) == pytest.approx(0.75)


def test_mase_scale_of_a_flat_history_stays_finite() -> None:
    """No change in sample: the scale falls back to the mean level, then to 1."""
    assert seasonal_naive_scale(np.full(10, 4.0), 2) == 4.0
    assert seasonal_naive_scale(np.zeros(10), 2) == 1.0


def test_interval_coverage_by_hand() -> None:
    """Bounds are inclusive: 1 in [0, 2] and 2 in [2, 2] count; 3 and 4 fall outside."""
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    lo = np.array([0.0, 2.0, 3.5, 0.0])
    hi = np.array([2.0, 2.0, 4.0, 3.0])
    assert interval_coverage(actual, lo, hi) == 0.5


def test_rolling_origins_end_at_the_end_and_need_enough_history() -> None:
    """Windows end with the series, step back at most one horizon; too short a series is
    refused with the number of points needed."""
    assert rolling_origins(100, 10, 3, 5) == (70, 80, 90)
    assert rolling_origins(30, 10, 3, 5) == (10, 15, 20)  # squeezed to one season apart
    assert minimum_history(10, 3, 5) == 30
    assert windows_that_fit(30, 10, 5) == 3 and windows_that_fit(19, 10, 5) == 0
    with pytest.raises(InvalidInput, match=r"29 points, but .* needs at least 30"):
        rolling_origins(29, 10, 3, 5)


def test_conformal_band_by_hand() -> None:
    """19 residuals -9..9: the widened 10%/90% quantiles are ranks 2 and 18, i.e. -8 and 8;
    leads past the backtested ones reuse the last block; the band always holds the mean."""
    residuals = np.arange(-9.0, 10.0).reshape(1, 19)
    band = conformal_band(residuals, horizon=25, block=19)
    assert np.all(band.lo == -8.0) and np.all(band.hi == 8.0)
    skewed = conformal_band(np.array([[1.0, 2.0, 3.0, 4.0]]), horizon=4, block=4)
    assert np.all(skewed.lo == 0.0) and np.all(skewed.hi == 4.0)


def test_cross_coverage_scores_each_window_on_the_others() -> None:
    """Two windows with the same residuals cover each other fully; a window whose errors are
    far larger than the other's is not covered by the band calibrated on it."""
    actual = np.array([[10.0, 10.0], [10.0, 10.0]])
    assert cross_coverage(actual, actual - np.array([[1.0, -1.0], [1.0, -1.0]]), 2) == 1.0
    wild = actual - np.array([[0.1, -0.1], [5.0, -5.0]])
    assert cross_coverage(actual, wild, 2) == 0.5


# --- models -------------------------------------------------------------------------------


def test_candidates_depend_on_step_and_history() -> None:
    """All five single models for hourly data; MSTL's weekly season only with two weeks of
    history; weekly data has no season for MSTL."""
    assert list(candidate_models(HOUR, 2 * WEEK)) == list(MODEL_NAMES)
    assert "MSTL" in candidate_models(HOUR, 2 * DAY)
    assert "MSTL" not in candidate_models(7 * 86_400, 100)
    assert "MSTL" in candidate_models(86_400, 14)


def test_naive_repeats_the_last_value() -> None:
    """Naive forecasts the last observed value at every lead, whatever came before."""
    naive = candidate_models(HOUR, 2 * DAY)["Naive"]
    np.testing.assert_array_equal(naive(np.array([5.0, 1.0, 3.0]), 4), np.full(4, 3.0))


def test_median_forecast_is_the_per_step_median() -> None:
    """Each step takes the middle value of the forecasts there (the mean of the middle two for
    an even count), so one wild forecast cannot drag it; lengths must agree."""
    forecasts = [
        np.array([1.0, 10.0, 0.0]),
        np.array([2.0, 20.0, 0.0]),
        np.array([900.0, 0.0, 3.0]),
    ]
    np.testing.assert_array_equal(median_forecast(forecasts), [2.0, 10.0, 0.0])
    np.testing.assert_array_equal(median_forecast(forecasts[:2]), [1.5, 15.0, 0.0])
    with pytest.raises(InvalidInput, match="one length"):
        median_forecast([np.zeros(2), np.zeros(3)])
    with pytest.raises(InvalidInput, match="at least one"):
        median_forecast([])


CHOICES = {
    "median when no model is 10% better": ({"SeasonalNaive": 1.0, "AutoETS": 0.91}, 1.0, MEDIAN),
    "a model exactly 10% better": ({"SeasonalNaive": 1.2, "AutoETS": 0.9}, 1.0, "AutoETS"),
    "the best of several clearly better": (
        {"SeasonalNaive": 0.5, "AutoETS": 0.4, "MSTL": 0.6},
        1.0,
        "AutoETS",
    ),
    "median better than every model": ({"SeasonalNaive": 1.1, "Naive": 1.2}, 1.0, MEDIAN),
    "no median: the best model": ({"SeasonalNaive": 1.0, "AutoETS": 0.99}, None, "AutoETS"),
    "a tie goes to the earlier model": ({"SeasonalNaive": 0.5, "Naive": 0.5}, 1.0, "SeasonalNaive"),
}


@pytest.mark.parametrize("singles, median, chosen", CHOICES.values(), ids=CHOICES.keys())
def test_choose_model_prefers_the_median_unless_a_model_is_clearly_better(
    singles: dict[str, float], median: float | None, chosen: str
) -> None:
    """A single model replaces the Median only when its backtest MASE is at most 0.9 times the
    Median's; without a Median the lowest MASE wins, ties to the simpler (earlier) model."""
    scores = {**singles, **({} if median is None else {MEDIAN: median})}
    assert choose_model(scores) == chosen


def test_choose_model_needs_a_single_model() -> None:
    """The Median alone is no choice: it is made of single models."""
    with pytest.raises(InvalidInput, match="at least one model"):
        choose_model({MEDIAN: 1.0})


def test_seasonality_test() -> None:
    """A clear daily sine is seasonal; white noise and a constant are not."""
    rng = np.random.default_rng(1)
    t = np.arange(10 * DAY)
    assert has_significant_season(np.sin(2 * np.pi * t / DAY) + rng.normal(0, 0.3, t.size), DAY)
    assert not has_significant_season(rng.normal(0, 1, t.size), DAY)
    assert not has_significant_season(np.full(t.size, 3.0), DAY)


# --- the chooser, end to end --------------------------------------------------------------


def test_forecast_recovers_trend_and_weekly_shape() -> None:
    """Five weeks of trend + daily + weekly season: the chosen model (not the baseline)
    carries the trend on (about SLOPE per hour) and reproduces the weekly shape."""
    values = structured(5 * WEEK)
    forecast = forecast_series(hourly(values), WEEK, backtest_windows=3)
    mean, lo, hi = arrays(forecast)
    assert forecast.model not in ("SeasonalNaive", "Naive")
    assert set(forecast.backtest) == {*MODEL_NAMES, MEDIAN}
    chosen = forecast.backtest[forecast.model]
    assert chosen.mase < forecast.backtest["SeasonalNaive"].mase
    assert chosen.mase < 1.0
    # Trend: the forecast week's mean exceeds the last observed week's by about a week of slope.
    rise = mean.mean() - values[-WEEK:].mean()
    assert rise == pytest.approx(SLOPE * WEEK, rel=0.2)
    # Weekly shape: daily means of the forecast, detrended, match the pattern (Monday first;
    # the series starts on a Monday and is a whole number of weeks long).
    days = mean.reshape(7, DAY).mean(axis=1) - SLOPE * DAY * np.arange(7)
    shape = days - days.mean()
    expected = WEEKLY_SHAPE - WEEKLY_SHAPE.mean()
    assert np.max(np.abs(shape - expected)) < 1.0
    assert np.all(lo <= mean) and np.all(mean <= hi)
    assert [p.timestamp for p in forecast.points[:2]] == [
        START + timedelta(hours=5 * WEEK),
        START + timedelta(hours=5 * WEEK + 1),
    ]


def test_conformal_intervals_cover_about_80_percent() -> None:
    """On noisy series the calibrated 80% band holds 70-90% of the next two days (pooled over
    four series), and so does the backtest's own leave-one-window-out estimate."""
    inside = 0
    total = 0
    for seed in range(4):
        values = noisy(20 * DAY + 2 * DAY, seed)
        history, future = values[: 20 * DAY], values[20 * DAY :]
        forecast = forecast_series(hourly(history), 2 * DAY, models=["AutoETS"], backtest_windows=8)
        _, lo, hi = arrays(forecast)
        inside += int(np.sum((future >= lo) & (future <= hi)))
        total += future.size
        assert set(forecast.backtest) == {"AutoETS", "SeasonalNaive"}  # the baseline stays
        assert 0.7 <= forecast.backtest[forecast.model].coverage80 <= 0.9
    assert 0.7 <= inside / total <= 0.9


def test_median_is_the_default_on_a_random_walk() -> None:
    """On a random walk no model is reliably 10% better than the median of all of them, so the
    Median is chosen: its forecast is the per-step median of the single models refitted on
    the whole history, and its backtest record sits beside theirs."""
    walk = np.abs(40.0 + np.cumsum(np.random.default_rng(5).normal(0.0, 1.0, 10 * DAY)))
    series = hourly(walk)
    forecast = forecast_series(series, DAY, backtest_windows=4)
    assert forecast.model == MEDIAN
    assert set(forecast.backtest) == {*MODEL_NAMES, MEDIAN}
    shortest = rolling_origins(len(walk), DAY, 4, DAY)[0]  # what each candidate is built for
    singles = [np.maximum(m(walk, DAY), 0.0) for m in candidate_models(HOUR, shortest).values()]
    np.testing.assert_allclose(arrays(forecast)[0], median_forecast(singles))


def test_intervals_are_ordered_and_never_negative() -> None:
    """Whichever forecast is chosen, every point has 0 <= lo80 <= mean <= hi80, also on a
    series that sits mostly at zero with bursts (where residuals are lopsided)."""
    rng = np.random.default_rng(11)
    bursts = np.where(rng.random(12 * DAY) < 0.1, rng.exponential(20.0, 12 * DAY), 0.0)
    for values in (bursts, noisy(12 * DAY, 4), structured(12 * DAY)):
        mean, lo, hi = arrays(forecast_series(hourly(values), 2 * DAY, backtest_windows=3))
        assert np.all(lo >= 0.0) and np.all(lo <= mean) and np.all(mean <= hi)


def test_known_future_is_added_to_mean_and_bounds() -> None:
    """Extra demand from awards shifts mean, low and high by exactly that amount per step."""
    series = hourly(noisy(6 * DAY, 7))
    extra = [float(step % 3) for step in range(DAY)]
    plain = forecast_series(series, DAY, models=["SeasonalNaive"], backtest_windows=2)
    more = forecast_series(
        series, DAY, known_future=extra, models=["SeasonalNaive"], backtest_windows=2
    )
    for before, after, added in zip(arrays(plain), arrays(more), [extra] * 3, strict=True):
        np.testing.assert_allclose(after - before, added)


def test_forecast_is_deterministic_and_clipped_at_zero() -> None:
    """The same input gives the same forecast; a falling series is never forecast below zero."""
    falling = hourly(np.maximum(40.0 - 0.1 * np.arange(15 * DAY), 0.0) + noisy(15 * DAY, 3) * 0.01)
    first = forecast_series(falling, 3 * DAY, backtest_windows=2)
    second = forecast_series(falling, 3 * DAY, backtest_windows=2)
    assert first.to_json() == second.to_json()
    mean, lo, hi = arrays(first)
    assert np.all(lo >= 0.0) and np.all(lo <= mean) and np.all(mean <= hi)
    assert Forecast.from_json(first.to_json()) == first


FORECAST_ERRORS = {
    "too little history": (
        {"horizon": WEEK},
        "too little history: 120 points, but forecasting 168 steps with 2 backtest windows"
        " needs at least 360",
    ),
    "horizon not positive": ({"horizon": 0}, "at least 1 step"),
    "too few windows": ({"backtest_windows": 1}, "backtest_windows must be at least 2"),
    "unknown model": (
        {"models": ["Prophet"]},
        "unknown model\\(s\\) 'Prophet'; known models: SeasonalNaive, Naive, AutoETS, AutoARIMA,"
        " MSTL, Median",
    ),
    "known future too short": (
        {"known_future": [1.0]},
        "known_future has 1 values but the horizon is 24 steps",
    ),
    "known future negative": (
        {"known_future": [0.0] * 23 + [-1.0]},
        "known_future step 24 is -1: extra demand must be a finite number >= 0",
    ),
}


@pytest.mark.parametrize("arguments, message", FORECAST_ERRORS.values(), ids=FORECAST_ERRORS.keys())
def test_forecast_refuses_bad_requests(arguments: dict[str, object], message: str) -> None:
    """Each bad request is refused before any model runs, saying what to change."""
    series = hourly(noisy(5 * DAY, 0))
    horizon = arguments.pop("horizon", DAY)
    with pytest.raises(InvalidInput, match=message):
        forecast_series(series, horizon, **arguments)  # type: ignore[arg-type]


def test_forecast_figure_shows_history_mean_and_band(tmp_path) -> None:
    """Three traces (history, band, mean); history defaults to at least a week; it writes."""
    series = hourly(noisy(6 * DAY, 2))
    forecast = forecast_series(series, DAY, models=["SeasonalNaive"], backtest_windows=2)
    figure = forecast_figure(series, forecast)
    history, band, mean = figure.data
    assert len(history.x) == len(series)  # six days < a week: all of it
    assert len(band.x) == 2 * DAY and len(mean.y) == DAY
    assert "SeasonalNaive" in figure.layout.title.text
    assert len(forecast_figure(series, forecast, history_steps=10).data[0].x) == 10
    write_figure(figure, tmp_path / "forecast.html")
    assert (tmp_path / "forecast.html").stat().st_size > 0
    with pytest.raises(InvalidInput, match="history_steps must be at least 1"):
        forecast_figure(series, forecast, history_steps=0)
    daily = series_from_points(
        "pool", "GPUs", [START + timedelta(days=day) for day in range(3)], [1.0, 2.0, 3.0]
    )
    with pytest.raises(InvalidInput, match="forecast steps every 1 h but the series every 1 d"):
        forecast_figure(daily, forecast)
