"""Capacity-planning benchmark: does a plan meet its p90-wait target on demand it has not seen?

    .venv/bin/python benchmarks/planning.py                     # vcMod, targets 30m, 1h, 4h
    .venv/bin/python benchmarks/planning.py --vc vc6YE --samples 16

The demand is real: the hourly mean of running + pending GPUs of one virtual cluster of
SenseTime's Helios "Earth" cluster (May 2020, per-minute rows; ``../shared/traces`` beside the
repository, or ``--traces-dir``). The *forecast* is deliberately simple and stated as such: the
last 7 days of the series, repeated as next week's mean (seasonal naive), with an 80% band of
+-``--band`` (20%) around it. It is not a statistical forecast; the benchmark measures the
planner, not a forecaster.

For each target, ``plan_capacity`` plans a one-pool H100 cluster (8 devices per node, currently
as large as the VC was) with ``--samples`` samples; then the recommended size is simulated again
on ``--fresh-seeds`` fresh sets of as many samples (different seeds), and each set's pooled p90
wait is compared with the target. A plan is *within 10%* when every fresh set's p90 is at most
1.1 x the target. Wall time is that of the plan alone, on this machine.
"""

import argparse
import math
import statistics
import time
from datetime import UTC, timedelta
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.jobs import format_duration, parse_duration
from nuri.forecasting.forecast import Forecast, ForecastPoint
from nuri.planning.capacity import PlanSettings, plan_capacity, simulate_size
from nuri.planning.demand_sampling import sample_pool, synthetic_shapes

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=180)
progress = Console(stderr=True)


def helios_forecast(path: Path, band: float) -> tuple[Forecast, int, pd.Series]:
    """Next week's forecast as last week's hourly demand +- ``band``; also the VC's GPUs."""
    frame = pd.read_csv(path, parse_dates=["time"])
    demand = frame["running_gpu_num"] + frame["pending_gpu_num"]
    hourly = demand.groupby(frame["time"].dt.floor("h")).mean()
    last_week = hourly.iloc[-7 * 24 :]
    points = tuple(
        ForecastPoint(
            timestamp=stamp.tz_localize(UTC).to_pydatetime() + timedelta(days=7),
            mean=float(value),
            lo80=float(value) * (1 - band),
            hi80=float(value) * (1 + band),
        )
        for stamp, value in zip(pd.DatetimeIndex(last_week.index), last_week, strict=True)
    )
    forecast = Forecast(
        series=path.name.split(".")[0],
        unit="device-hours",
        step_s=3600,
        model="last week repeated (seasonal naive)",
        backtest={},
        points=points,
    )
    return forecast, int(frame["total_gpu_num"].iloc[-1]), last_week


def wait(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unbounded"
    return f"{seconds / 60:,.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces-dir", type=Path, default=ROOT.parent / "shared" / "traces")
    parser.add_argument("--vc", default="vcMod", help="Helios Earth virtual cluster")
    parser.add_argument("--targets", default="30m,1h,4h")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--fresh-seeds", type=int, default=5)
    parser.add_argument("--band", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="easy-backfill")
    args = parser.parse_args()

    path = args.traces_dir / "helios-earth-vc-demand" / "Earth_vcs" / f"{args.vc}.csv.gz"
    forecast, vc_gpus, last_week = helios_forecast(path, args.band)
    per_node = 8
    pool = PoolSpec(1, "helios", "bench", "H100", math.ceil(vc_gpus / per_node), per_node, 1000, 0)
    cluster = ClusterSpec(pools=(pool,))
    shapes = synthetic_shapes(seed=args.seed)
    pool_shapes = shapes.at_most(pool.devices)
    console.print(
        f"Helios Earth {args.vc}: {vc_gpus} GPUs; last 7 days of May 2020 as next week's forecast:"
        f" mean {last_week.mean():.1f}, min {last_week.min():.1f}, max {last_week.max():.1f}"
        f" GPUs demanded (hourly means of running + pending), band +-{args.band:.0%}."
        f" Job shapes: {pool_shapes.source}. Policy {args.policy}, {args.samples} samples per"
        f" plan, {args.fresh_seeds} fresh sets of {args.samples} samples per check.",
        highlight=False,
    )

    table = Table(
        title=f"Capacity plans for {args.vc} (one H100 pool, {per_node} devices per node,"
        f" currently {pool.devices} devices)",
        title_justify="left",
    )
    for column in (
        "target p90 wait",
        "recommended devices",
        "planning p90 (bound)",
        "fresh p90 mean",
        "fresh p90 worst",
        "fresh sets meeting target",
        "within 10%",
        "Erlang C p90 at rec. (mean / hourly)",
        "Erlang C devices (mean / hourly)",
        "plan wall s",
    ):
        table.add_column(column, justify="left" if column == "target p90 wait" else "right")
    fresh_cache: dict[int, list[float]] = {}
    for text in args.targets.split(","):
        target = float(parse_duration(text))
        settings = PlanSettings(
            target_p90_wait_s=target, samples=args.samples, seed=args.seed, policy=args.policy
        )
        started = time.perf_counter()
        plan = plan_capacity(cluster, {pool.name: forecast}, settings, shapes=shapes)
        wall = time.perf_counter() - started
        result = plan.pools[0]
        nodes = result.recommended_devices // per_node
        if nodes not in fresh_cache:
            fresh_cache[nodes] = []
            for index in range(args.fresh_seeds):
                fresh_seed = args.seed + 1000 + index
                samples = sample_pool(
                    pool, forecast, pool_shapes, samples=args.samples, seed=fresh_seed
                )
                size = simulate_size(pool, nodes, samples, policy=args.policy)
                fresh_cache[nodes].append(size.p90_wait_s)
                progress.print(
                    f"{args.vc} {result.recommended_devices} devices, fresh seed {fresh_seed}:"
                    f" p90 {wait(size.p90_wait_s)}",
                    highlight=False,
                )
        fresh = fresh_cache[nodes]
        meeting = sum(1 for value in fresh if value <= target)
        within = all(value <= 1.1 * target for value in fresh)
        table.add_row(
            format_duration(int(target)),
            f"{result.recommended_devices} ({result.recommended_devices - pool.devices:+d})",
            f"{wait(result.simulated_p90_wait_s or 0.0)}"
            f" ({wait(result.simulated_p90_wait_upper_s or 0.0)})",
            wait(statistics.fmean(fresh)),
            wait(max(fresh)),
            f"{meeting}/{len(fresh)}",
            "yes" if within else "no",
            f"{wait(result.erlang_c_p90_wait_s or 0.0)} /"
            f" {wait(result.erlang_c_pointwise_p90_wait_s or 0.0)}",
            f"{result.erlang_c_devices} / {result.erlang_c_pointwise_devices}",
            f"{wall:,.1f}",
        )
        progress.print(f"{args.vc} target {text}: done in {wall:.1f} s", highlight=False)
    console.print(table)


if __name__ == "__main__":
    main()
