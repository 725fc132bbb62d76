"""Forecasting benchmark: the chosen model against seasonal naive on held-out weeks of real demand.

    .venv/bin/python benchmarks/forecasting.py                 # every series (a few minutes)
    .venv/bin/python benchmarks/forecasting.py --series vc6YE,philly
    .venv/bin/python benchmarks/forecasting.py --validation    # choose methods here, not above

Series (``../shared/traces`` beside the repository, ``--traces-dir``): the 16 Helios Earth
virtual clusters, the whole Earth cluster (``earth-total``) and Philly's active nodes, each as
hourly means of per-minute demand. For each, the final 7 days are held out, 7 days (168 steps)
are forecast from the rest with :func:`nuri.forecasting.chooser.forecast_series` (which chooses
its model by backtests on the training part only), and the held-out week scores it:

- MASE of the chosen model and of seasonal naive (season 24 h), both scaled by the training
  part's in-sample seasonal-naive error, and their ratio (target: <= 0.9);
- the share of held-out hours inside the 80% interval (target: 0.70-0.90);
- a hindsight bound on the ratio: the best of three forecasts that are each told one number
  about the held-out week, its level (the held-out week's median held flat; the training
  part's last day repeated, shifted by the median gap to the held-out week; the training
  part's mean daily profile of its last week added to the best level). Where even this bound is
  above 0.9, no forecast that gets the level right and the shape from recent history meets the
  ratio target on that series; the summary counts those series.

With ``--validation`` the held-out week is dropped first and the week before it plays its part
(the validation split): method changes are compared there, so the held-out week only reports
the result and never chooses it.

Then one forecast of a month (720 hours) is timed, first cold (the first in this process, so
with statsforecast's just-in-time compilation) and then warm (target: < 60 s on one core). The
thread limits below pin numba and BLAS to one core; they must be set before numpy is imported.
"""

import os

for _variable in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_variable] = "1"

import argparse  # noqa: E402  (after the thread limits, on purpose)
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from nuri.forecasting.backtest import mase, mase_season  # noqa: E402
from nuri.forecasting.chooser import DEFAULT_BACKTEST_WINDOWS, forecast_series  # noqa: E402
from nuri.forecasting.series import Series  # noqa: E402
from nuri.traces.demand_series import (  # noqa: E402
    load_helios_earth_demand,
    load_philly_node_demand,
)

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_STEPS = 7 * 24
MONTH_STEPS = 30 * 24
RATIO_TARGET = 0.9
COVERAGE_TARGET = (0.70, 0.90)
console = Console(width=160)
progress = Console(stderr=True)


@dataclass(frozen=True)
class Result:
    series: str
    mean_demand: float
    model: str
    mase: float
    naive_mase: float
    coverage: float
    hindsight_ratio: float
    """MASE ratio of the best forecast told the held-out week's level (see the docstring)."""
    width: float
    """Mean width of the 80% interval, in the series' unit."""
    wall_s: float

    @property
    def ratio(self) -> float:
        if self.naive_mase > 0:
            return self.mase / self.naive_mase
        return 1.0 if self.mase == 0 else math.inf

    @property
    def meets(self) -> bool:
        low, high = COVERAGE_TARGET
        return self.ratio <= RATIO_TARGET and low <= self.coverage <= high


def load_series(directory: Path) -> dict[str, Series]:
    series = load_helios_earth_demand(directory / "helios-earth-vc-demand")
    series["philly"] = load_philly_node_demand(
        directory / "philly-node-demand" / "philly_node_sequence.csv.gz"
    )
    return series


def evaluate(series: Series, windows: int) -> Result:
    """Forecast the final week from the rest and score it against what happened."""
    train = series.head(len(series) - HOLDOUT_STEPS)
    actual = series.values[-HOLDOUT_STEPS:]
    started = time.perf_counter()
    forecast = forecast_series(train, HOLDOUT_STEPS, backtest_windows=windows)
    wall_s = time.perf_counter() - started
    mean = np.array([point.mean for point in forecast.points])
    lo = np.array([point.lo80 for point in forecast.points])
    hi = np.array([point.hi80 for point in forecast.points])
    season = mase_season(series.step_s)
    naive = np.resize(train.values[-season:], HOLDOUT_STEPS)
    return Result(
        series=series.name,
        mean_demand=float(series.values.mean()),
        model=forecast.model,
        mase=mase(actual, mean, train.values, season),
        naive_mase=mase(actual, naive, train.values, season),
        coverage=float(np.mean((actual >= lo) & (actual <= hi))),
        hindsight_ratio=hindsight_ratio(train.values, actual, season),
        width=float(np.mean(hi - lo)),
        wall_s=wall_s,
    )


def hindsight_ratio(history: np.ndarray, actual: np.ndarray, season: int) -> float:
    """The lowest MASE ratio (against seasonal naive) of three forecasts that each know the
    level of ``actual``: a flat line at its median; the last season of ``history`` repeated
    and shifted by the median gap to ``actual``; the mean season of ``history``'s last seven
    seasons, centred, plus the level that fits ``actual`` best. Medians, because they minimise
    the absolute error that MASE sums. A bound for this benchmark, never a forecast: it reads
    the week it is scored on."""
    steps = len(actual)
    naive = np.resize(history[-season:], steps)
    profile_days = min(7, len(history) // season)
    profile = history[-profile_days * season :].reshape(profile_days, season).mean(axis=0)
    pattern = np.resize(profile - profile.mean(), steps)
    candidates = (
        np.full(steps, np.median(actual)),
        naive + np.median(actual - naive),
        pattern + np.median(actual - pattern),
    )
    naive_mase = mase(actual, naive, history, season)
    best = min(mase(actual, candidate, history, season) for candidate in candidates)
    if naive_mase > 0:
        return best / naive_mase
    return 1.0 if best == 0 else math.inf


def time_month(series: Series, windows: int) -> tuple[float, float]:
    """Seconds to forecast a week from the last month of ``series``: cold, then warm."""
    month = Series(
        series.name,
        series.unit,
        series.timestamps[-MONTH_STEPS:],
        series.values[-MONTH_STEPS:],
    )
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        forecast_series(month, HOLDOUT_STEPS, backtest_windows=windows)
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def print_results(results: list[Result], windows: int, split: str) -> None:
    table = Table(
        title=f"{split} final week, hourly: forecast 168 h from the rest ({windows} backtest"
        " windows; MASE scaled by the training part's seasonal-naive error, season 24 h)",
        title_justify="left",
    )
    for column in (
        "series",
        "mean demand",
        "chosen",
        "MASE",
        "seasonal naive MASE",
        "ratio (<=0.9)",
        "80% coverage (0.7-0.9)",
        "hindsight bound",
        "80% width",
        "both",
        "wall s",
    ):
        table.add_column(column, justify="left" if column in ("series", "chosen") else "right")
    for result in results:
        table.add_row(
            result.series,
            f"{result.mean_demand:.1f}",
            result.model,
            f"{result.mase:.3f}",
            f"{result.naive_mase:.3f}",
            f"{result.ratio:.3f}",
            f"{result.coverage:.3f}",
            f"{result.hindsight_ratio:.3f}",
            f"{result.width:.1f}",
            "yes" if result.meets else "",
            f"{result.wall_s:.1f}",
        )
    console.print(table)


def print_summary(results: list[Result], month: tuple[float, float] | None, name: str) -> None:
    low, high = COVERAGE_TARGET
    ratio_ok = sum(result.ratio <= RATIO_TARGET for result in results)
    coverage_ok = sum(low <= result.coverage <= high for result in results)
    both = sum(result.meets for result in results)
    table = Table(title="Summary", title_justify="left", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    count = len(results)
    table.add_row("series", str(count))
    table.add_row(f"MASE ratio <= {RATIO_TARGET}", f"{ratio_ok} of {count}")
    table.add_row(f"80% coverage in [{low:.2f}, {high:.2f}]", f"{coverage_ok} of {count}")
    table.add_row("both targets", f"{both} of {count}")
    out_of_reach = sum(result.hindsight_ratio > RATIO_TARGET for result in results)
    table.add_row(
        f"ratio target out of reach (hindsight bound > {RATIO_TARGET})",
        f"{out_of_reach} of {count}",
    )
    table.add_row("median MASE ratio", f"{statistics.median(r.ratio for r in results):.3f}")
    table.add_row(
        "geometric mean MASE ratio",
        f"{math.exp(statistics.fmean(math.log(max(r.ratio, 1e-9)) for r in results)):.3f}",
    )
    table.add_row("median 80% coverage", f"{statistics.median(r.coverage for r in results):.3f}")
    table.add_row("mean 80% coverage", f"{statistics.fmean(r.coverage for r in results):.3f}")
    models = sorted({r.model for r in results})
    table.add_row(
        "models chosen",
        ", ".join(f"{m} {sum(r.model == m for r in results)}" for m in models),
    )
    if month is not None:
        cold, warm = month
        table.add_row(
            f"one forecast, a month ({MONTH_STEPS} h) of {name}, 168 h ahead, one core",
            f"{cold:.1f} s cold (first in process), {warm:.1f} s warm",
        )
    console.print(table)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces-dir", type=Path, default=ROOT.parent / "shared" / "traces")
    parser.add_argument("--series", default="", help="comma-separated names (default: all)")
    parser.add_argument("--windows", type=int, default=DEFAULT_BACKTEST_WINDOWS)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument(
        "--validation",
        action="store_true",
        help="score the week before the held-out one, never seeing the held-out week",
    )
    args = parser.parse_args(argv)
    every = load_series(args.traces_dir)
    if args.validation:
        every = {name: s.head(len(s) - HOLDOUT_STEPS) for name, s in every.items()}
    names = [name for name in args.series.split(",") if name] or list(every)
    month = None
    if not args.skip_timing:
        month = time_month(every["earth-total"], args.windows)
        progress.print(f"month timing: {month[0]:.1f} s cold, {month[1]:.1f} s warm")
    results = []
    for name in names:
        result = evaluate(every[name], args.windows)
        progress.print(
            f"{name}: {result.model}, ratio {result.ratio:.3f}, coverage {result.coverage:.3f},"
            f" {result.wall_s:.1f} s",
            highlight=False,
        )
        results.append(result)
    print_results(results, args.windows, "Validation" if args.validation else "Held-out")
    print_summary(results, month, "earth-total")


if __name__ == "__main__":
    main(sys.argv[1:])
