"""``nuri forecast``: forecast a demand series, from a CSV file or from the commons' own records.

A file (``timestamp,value`` CSV) is forecast here, on this machine; a series name (``all``,
``pool:<pool>``, ...) is forecast by the server, which also adds the demand that later awards
and calls already promise. Either way the model is chosen by rolling-origin backtests and the
80% intervals are calibrated on the backtests' errors.
"""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from nuri.cli.client import ApiClient, CliError, client_for
from nuri.cli.render import errors, print_json, print_table
from nuri.forecasting.forecast import Forecast
from nuri.forecasting.series import Series, series_from_points

SERIES_HELP = (
    "A timestamp,value CSV file, or a series of this commons: all, pool:<pool>, hub:<hub>,"
    " community:<kind>, field:<field>."
)


def forecast(
    ctx: typer.Context,
    series: Annotated[str, typer.Option("--series", help=SERIES_HELP)],
    horizon: Annotated[str, typer.Option(help="How far ahead: e.g. 7d, 36h, 2w.")] = "7d",
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Only these candidates (repeatable): SeasonalNaive, Naive, AutoETS, AutoARIMA,"
            " MSTL, Median (the median of the others).",
            show_default=False,
        ),
    ] = None,
    step: Annotated[str, typer.Option(help="For a series of this commons: 1h or 1d.")] = "1h",
    days: Annotated[int, typer.Option(help="For a series of this commons: days of history.")] = 30,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Write a chart of history and forecast (.png or .html).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Forecast demand with calibrated 80% intervals; print each model's backtest MASE and
    interval coverage, and the chosen model's forecast."""
    if plot is not None and plot.suffix.lower() not in (".png", ".html"):
        raise CliError(f"--plot {plot}: name a .png or .html file")
    path = Path(series)
    status = Console(stderr=True)
    history: Series | None
    if path.suffix.lower() == ".csv" or path.exists():
        from nuri.forecasting.chooser import forecast_series
        from nuri.forecasting.series import parse_horizon
        from nuri.forecasting.series_file import read_series_csv

        if not path.is_file():
            raise CliError(f"no series file at {path}")
        history = read_series_csv(path)
        steps = parse_horizon(horizon, history.step_s)
        with status.status(f"backtesting models on {len(history.values)} points of {path.name}"):
            result = forecast_series(history, steps, models=models or None)
    else:
        if models:
            raise CliError("--model applies to a series file; the server chooses for its series")
        client = client_for(ctx, timeout_s=300.0)
        with status.status(f"forecasting {series} on the server"):
            result = Forecast.from_json(
                client.get("/forecasts", series=series, horizon=horizon, step=step, days=days)
            )
            history = _history(client, series, step, days) if plot is not None else None
    if plot is not None and history is not None:
        _write_plot(history, result, plot)
    if as_json:
        print_json(result.to_json())
        return
    _print(result)
    if plot is not None:
        errors.print(f"wrote {plot}")


def _history(client: ApiClient, series: str, step: str, days: int) -> Series:
    found = client.get("/demand", series=series, step=step, days=days)
    return series_from_points(
        found["series"],
        found["unit"],
        [datetime.fromisoformat(p["timestamp"]) for p in found["points"]],
        [float(p["demanded"]) for p in found["points"]],
    )


def _write_plot(history: Series, result: Forecast, path: Path) -> None:
    from nuri.forecasting.plots import forecast_figure
    from nuri.sim.plots import write_figure

    write_figure(forecast_figure(history, result), path)


def _print(result: Forecast) -> None:
    print_table(
        f"Backtests of {result.series or 'the series'} (chosen: {result.model})",
        ["Model", "MASE", "80% interval coverage", ""],
        [
            [
                name,
                f"{score.mase:.3f}",
                f"{score.coverage80:.0%}",
                "chosen" if name == result.model else "",
            ]
            for name, score in sorted(result.backtest.items(), key=lambda item: item[1].mase)
        ],
    )
    unit = f" ({result.unit} per step)" if result.unit else ""
    print_table(
        f"Forecast by {result.model}{unit}",
        ["Step", "Mean", "80% low", "80% high"],
        [
            [
                point.timestamp.strftime("%Y-%m-%d %H:%M"),
                f"{point.mean:,.2f}",
                f"{point.lo80:,.2f}",
                f"{point.hi80:,.2f}",
            ]
            for point in result.points
        ],
    )
