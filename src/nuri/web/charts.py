"""Plotly figure specifications for the portal's charts, as plain data.

The page embeds a figure as JSON (``<script type="application/json">``) and ``charts.js`` draws
it with the plotly.js that ships inside the installed ``plotly`` package. Building the spec by
hand keeps the server free of Plotly's Python figure machinery: a figure here is a few lists.

Colours pass WCAG's 3:1 contrast for graphics against white, and the lines differ in dash as
well as colour, so the chart reads without colour vision; the page also gives the same figures
as a table.
"""

from collections.abc import Sequence
from typing import Any

from plotly.offline import get_plotlyjs_version  # type: ignore[import-untyped]

from nuri.service.reports import BurnDownPoint
from nuri.web.formatting import Language

PLOTLY_VERSION: str = get_plotlyjs_version()
"""The plotly.js bundled with the installed plotly package, served at ``/vendor/``."""
USED_COLOUR = "#1d5fa6"
REMAINING_COLOUR = "#a63c06"
AWARDED_COLOUR = "#555555"
DAY_MS = 86_400_000
DAILY_TICKS_UP_TO = 14
"""Up to this many days, one tick a day; beyond, Plotly's own spacing (weeks, months)."""


def burn_down_figure(
    points: Sequence[BurnDownPoint],
    awarded_gpu_hours: float,
    *,
    lang: Language,
    used_label: str,
    remaining_label: str,
    awarded_label: str,
    axis_label: str,
) -> dict[str, Any]:
    """Used and remaining H100e GPU-hours of one award per day, with the award as a level."""
    days = [point.day.date().isoformat() for point in points]
    hover = "%{y:,.2f}"
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": used_label,
            "x": days,
            "y": [point.used_gpu_hours for point in points],
            "line": {"color": USED_COLOUR, "width": 3},
            "hovertemplate": f"{used_label}: {hover}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": remaining_label,
            "x": days,
            "y": [point.remaining_gpu_hours for point in points],
            "line": {"color": REMAINING_COLOUR, "width": 3, "dash": "dash"},
            "hovertemplate": f"{remaining_label}: {hover}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": awarded_label,
            "x": [days[0], days[-1]] if days else [],
            "y": [awarded_gpu_hours, awarded_gpu_hours] if days else [],
            "line": {"color": AWARDED_COLOUR, "width": 2, "dash": "dot"},
            "hovertemplate": f"{awarded_label}: {hover}<extra></extra>",
        },
    ]
    layout = {
        "height": 320,
        "margin": {"l": 64, "r": 16, "t": 16, "b": 48},
        "hovermode": "x unified",
        "separators": ".,",
        "font": {"family": "system-ui, sans-serif", "size": 14, "color": "#1a1a1a"},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {
            "type": "date",
            "tickformat": "%-m월 %-d일" if lang == "ko" else "%-d %b",
            "hoverformat": "%Y-%m-%d",
            # Left to itself, Plotly puts hourly ticks (all labelled with the same day) on a
            # chart of a few days; the points are daily, so the ticks should be too.
            **({"dtick": DAY_MS} if len(days) <= DAILY_TICKS_UP_TO else {}),
        },
        "yaxis": {"title": {"text": axis_label}, "rangemode": "tozero", "tickformat": ",~r"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }
    return {"data": traces, "layout": layout}


def _layout(axis_label: str, **extra: Any) -> dict[str, Any]:
    """The portal's common chart layout, with ``axis_label`` on the y axis."""
    layout: dict[str, Any] = {
        "height": 340,
        "margin": {"l": 72, "r": 16, "t": 16, "b": 64},
        "separators": ".,",
        "font": {"family": "system-ui, sans-serif", "size": 14, "color": "#1a1a1a"},
        "legend": {"orientation": "h", "y": -0.25},
        "yaxis": {"title": {"text": axis_label}, "rangemode": "tozero", "tickformat": ",~r"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }
    layout.update(extra)
    return layout


def bars_figure(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    axis_label: str,
) -> dict[str, Any]:
    """Grouped bars: one trace per (name, values) in ``series``, over ``categories``; the traces
    differ in pattern as well as colour."""
    colours = (USED_COLOUR, REMAINING_COLOUR, AWARDED_COLOUR)
    patterns = ("", "/", ".")
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": list(categories),
            "y": list(values),
            "marker": {
                "color": colours[index % len(colours)],
                "pattern": {"shape": patterns[index % len(patterns)]},
            },
            "hovertemplate": f"{name}: %{{y:,.2f}}<extra></extra>",
        }
        for index, (name, values) in enumerate(series)
    ]
    return {"data": traces, "layout": _layout(axis_label, barmode="group")}


def heatmap_figure(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    value_label: str,
    x_label: str,
    y_label: str,
) -> dict[str, Any]:
    """A heatmap of shares in [0, 1] (shown as percentages), light to dark blue: a single-hue
    scale, so lightness alone carries the value."""
    trace = {
        "type": "heatmap",
        "x": list(columns),
        "y": list(rows),
        "z": [list(row) for row in values],
        "zmin": 0,
        "zmax": 1,
        "colorscale": [[0, "#f3f7fc"], [0.5, "#6f9fd3"], [1, "#0b2f5b"]],
        "colorbar": {"title": {"text": value_label}, "tickformat": ".0%"},
        "hovertemplate": f"%{{y}} %{{x}}: %{{z:.0%}}<extra>{value_label}</extra>",
        "xgap": 1,
        "ygap": 1,
    }
    layout = _layout(
        y_label,
        xaxis={"title": {"text": x_label}, "dtick": 1},
        yaxis={"title": {"text": y_label}, "autorange": "reversed"},
    )
    return {"data": [trace], "layout": layout}


def forecast_figure(
    history: Sequence[tuple[str, float]],
    forecast: Sequence[tuple[str, float, float, float]],
    *,
    lang: Language,
    history_label: str,
    mean_label: str,
    band_label: str,
    axis_label: str,
) -> dict[str, Any]:
    """The recent history, the forecast's mean and its 80% interval as a shaded band."""
    times = [point[0] for point in forecast]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": history_label,
            "x": [point[0] for point in history],
            "y": [point[1] for point in history],
            "line": {"color": AWARDED_COLOUR, "width": 2},
            "hovertemplate": f"{history_label}: %{{y:,.2f}}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": band_label,
            "x": [*times, *reversed(times)],
            "y": [*(p[3] for p in forecast), *reversed([p[2] for p in forecast])],
            "fill": "toself",
            "fillcolor": "rgba(29, 95, 166, 0.18)",
            "line": {"width": 0},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": mean_label,
            "x": times,
            "y": [point[1] for point in forecast],
            "line": {"color": USED_COLOUR, "width": 3, "dash": "dash"},
            "hovertemplate": f"{mean_label}: %{{y:,.2f}}<extra></extra>",
        },
    ]
    xaxis = {
        "type": "date",
        "tickformat": "%-m월 %-d일 %H시" if lang == "ko" else "%-d %b %H:%M",
        "hoverformat": "%Y-%m-%d %H:%M",
    }
    return {"data": traces, "layout": _layout(axis_label, xaxis=xaxis, hovermode="x unified")}
