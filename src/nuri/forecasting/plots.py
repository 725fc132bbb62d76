"""A figure of a forecast: recent history, the mean forecast and its 80% band.

Pure: builds a plotly figure and writes nothing (``nuri.sim.plots.write_figure`` writes HTML or
PNG). Times are drawn in UTC, the zone every series and forecast is kept in.
"""

from datetime import UTC

import plotly.graph_objects as go  # type: ignore[import-untyped]

from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast
from nuri.forecasting.series import Series, format_duration

HISTORY_HORIZONS = 3
"""By default, history as long as three horizons is drawn: enough to see the season repeat
and the level the forecast starts from, not so much that the forecast becomes a sliver."""

_BAND_FILL = "rgba(31, 119, 180, 0.2)"
_MEAN_COLOUR = "rgb(31, 119, 180)"
_HISTORY_COLOUR = "rgb(60, 60, 60)"


def forecast_figure(
    series: Series, forecast: Forecast, history_steps: int | None = None
) -> go.Figure:
    """The last ``history_steps`` points of ``series`` (default: three forecast horizons, at
    least one week's worth), then ``forecast``'s mean as a line inside its shaded 80% band.

    The title names the series, the chosen model and its backtest MASE and coverage.

    Raises:
        InvalidInput: ``history_steps`` below 1, or a forecast with another step than the
            series'.
    """
    if history_steps is not None and history_steps < 1:
        raise InvalidInput(f"history_steps must be at least 1, got {history_steps}")
    if forecast.step_s != series.step_s:
        raise InvalidInput(
            f"the forecast steps every {format_duration(forecast.step_s)} but the series every"
            f" {format_duration(series.step_s)}; plot a forecast with the history it came from"
        )
    if history_steps is None:
        week_steps = max(1, 7 * 86_400 // series.step_s)
        history_steps = max(HISTORY_HORIZONS * len(forecast.points), week_steps)
    shown = slice(max(0, len(series) - history_steps), len(series))
    history_times = [moment.replace(tzinfo=None) for moment in series.datetimes()[shown]]
    times = [point.timestamp.astimezone(UTC).replace(tzinfo=None) for point in forecast.points]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=history_times,
            y=series.values[shown].tolist(),
            mode="lines",
            name="history",
            line={"color": _HISTORY_COLOUR, "width": 1.5},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=times + times[::-1],
            y=[point.hi80 for point in forecast.points]
            + [point.lo80 for point in reversed(forecast.points)],
            fill="toself",
            fillcolor=_BAND_FILL,
            line={"width": 0},
            hoverinfo="skip",
            name="80% interval",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=times,
            y=[point.mean for point in forecast.points],
            mode="lines",
            name=f"forecast ({forecast.model})",
            line={"color": _MEAN_COLOUR, "width": 2},
        )
    )
    score = forecast.backtest.get(forecast.model)
    detail = (
        f": backtest MASE {score.mase:.2f}, 80% interval coverage {score.coverage80:.0%}"
        if score is not None
        else ""
    )
    figure.update_layout(
        title=f"{series.name}: {forecast.model} forecast{detail}",
        template="plotly_white",
        xaxis={"title": {"text": "time (UTC)"}},
        yaxis={"title": {"text": f"demand ({series.unit})"}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure
