"""Sampled workloads from a demand forecast: what the planner simulates candidate pools on.

Why: a forecast says how many device-hours a pool will be asked for per step, with an 80%
band; the simulator needs jobs. This module turns the one into the other, so that the planner
can test candidate pool sizes against the waiting time people would actually see, and not only
against a queueing formula.

The model, for one pool and one sample path
-------------------------------------------
1. **Demand per step.** Each forecast step's demand is drawn from a split normal fitted to its
   80% band: with ``z ~ N(0, 1)``, demand = ``mean + z x s_hi`` if ``z > 0`` else
   ``mean + z x s_lo``, where ``s_hi = (hi80 - mean) / 1.2816`` and ``s_lo = (mean - lo80) /
   1.2816`` (1.2816 is the standard normal's 90% quantile). So ``lo80`` and ``hi80`` are
   exactly the draw's 10% and 90% quantiles and ``mean`` its median; draws are clipped at zero.
   Forecast errors persist, so ``z`` follows an AR(1) path across steps with lag-one
   correlation ``error_correlation`` (0.9 by default: an hour above forecast is likely followed
   by another; 0 makes the steps independent, which would let errors cancel out over a week and
   under-state the risk).
2. **Arrivals.** Two models (:class:`ArrivalModel`); arrival times are uniform within each
   step in both, as those of a Poisson process given its count.

   - ``demand-following`` (the default): jobs are added to a step until the devices they hold
     in it, counting each job as running from its arrival for its run time (capped at its time
     limit), reach the step's drawn demand; a job's later hours count in later steps, so a
     week-long job submitted now lowers the arrivals needed in the coming days. The job that
     would cross the demand is kept with probability (demand still missing) / (its part in the
     step), which keeps each step's expected load on the drawn demand. The offered load per
     step then *equals* the drawn demand, up to one job.
   - ``poisson``: a non-homogeneous Poisson process whose rate makes the *expected* offered work
     of a step equal its drawn demand: ``count ~ Poisson(demand_device_seconds / E[devices x
     duration])``.

   Why the default is not Poisson: the forecast's band already carries the demand's variability
   (it is fitted to a history that includes big jobs coming and going). With Poisson counts and
   heavy-tailed job shapes the realised load adds variability of its own: on the synthetic model
   with about 230 devices of demand, a week's submitted work ranged from 185 to 291 devices
   around a drawn ~230 (a coefficient of variation near 15%, about three times the forecast's
   own uncertainty about the weekly level), so plans measured against it were dominated by
   dice, not by the forecast.
3. **Job shapes.** Each arrival draws (devices, run time, time limit, group) uniformly from a
   :class:`JobShapes` table: rows of a real trace in the common schema (``--jobs-like``), or by
   default 20,000 jobs of :func:`nuri.traces.synthetic.generate_trace`'s documented model.
   Time limits the trace lacks come from :func:`nuri.traces.time_limits.with_time_limits`, as
   in ``nuri sim``. Run times are on the pool's own devices (the forecast is in the pool's
   device-hours).
4. **Warm-up.** A queue that starts empty waits less than one in steady state, so the first day
   of the forecast (at most its whole horizon) is replayed before it; jobs submitted during the
   warm-up run but are not measured. Every job runs to its end, after the horizon if need be.

Determinism: one :class:`numpy.random.Generator` passed in draws everything, in a fixed order.
"""

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from nuri.domain.cluster_spec import PoolSpec
from nuri.domain.errors import InvalidInput
from nuri.forecasting.forecast import Forecast
from nuri.sim.simulator import SimJob
from nuri.traces.synthetic import generate_trace
from nuri.traces.time_limits import with_time_limits

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Z_90: Final = 1.2815515655446004
"""The standard normal's 90% quantile: lo80 and hi80 sit this many sigmas from the median."""
DEFAULT_ERROR_CORRELATION: Final = 0.9


class ArrivalModel(StrEnum):
    """How sampled jobs arrive (see the module docstring)."""

    DEMAND_FOLLOWING = "demand-following"
    POISSON = "poisson"


DEFAULT_WARMUP_S: Final = 86_400.0
SYNTHETIC_SHAPE_JOBS: Final = 20_000


@dataclass(frozen=True, eq=False)
class JobShapes:
    """The table sampled jobs are drawn from, one row per shape (all arrays of equal length).

    ``devices`` >= 1, ``duration_s`` > 0 (on the pool's devices), ``time_limit_s`` >=
    ``duration_s``; ``group`` indexes ``group_names``. ``source`` says where the rows came from.
    """

    devices: IntArray
    duration_s: FloatArray
    time_limit_s: FloatArray
    group: IntArray
    group_names: tuple[str, ...]
    source: str

    def __post_init__(self) -> None:
        if len(self.devices) == 0:
            raise InvalidInput("job shapes need at least one job")

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def mean_device_seconds(self) -> float:
        """``E[devices x duration]``: the offered load one arrival brings, device-seconds."""
        return float(np.mean(self.devices * self.duration_s))

    @property
    def mean_duration_s(self) -> float:
        return float(np.mean(self.duration_s))

    @property
    def duration_weighted_devices(self) -> float:
        """``E[devices x duration] / E[duration]``: the job size Erlang C servers are made of."""
        return self.mean_device_seconds / self.mean_duration_s

    @property
    def max_devices(self) -> int:
        return int(self.devices.max())

    def at_most(self, devices: int) -> "JobShapes":
        """The shapes of at most ``devices`` devices (all of them if none is larger).

        Raises InvalidInput if no shape is that small.
        """
        keep = self.devices <= devices
        if keep.all():
            return self
        if not keep.any():
            raise InvalidInput(
                f"every job shape of {self.source} needs more than {devices} devices"
            )
        return JobShapes(
            devices=self.devices[keep],
            duration_s=self.duration_s[keep],
            time_limit_s=self.time_limit_s[keep],
            group=self.group[keep],
            group_names=self.group_names,
            source=f"{self.source}, jobs of at most {devices} devices",
        )


def shapes_from_trace(trace: pd.DataFrame, *, seed: int, source: str = "trace") -> JobShapes:
    """Job shapes from a trace in the common schema (``gpu_type`` and timing are ignored).

    Missing time limits are derived with ``seed`` (:func:`with_time_limits`).
    """
    limited = with_time_limits(trace, seed=seed)
    if limited.empty:
        raise InvalidInput(f"{source} has no jobs to take sizes and run times from")
    names = sorted({str(group) for group in limited["group"]})
    index = {name: position for position, name in enumerate(names)}
    return JobShapes(
        devices=limited["num_gpus"].to_numpy(dtype=np.int64),
        duration_s=limited["duration_s"].to_numpy(dtype=np.float64),
        time_limit_s=limited["time_limit_s"].to_numpy(dtype=np.float64),
        group=np.array([index[str(g)] for g in limited["group"]], dtype=np.int64),
        group_names=tuple(names),
        source=source,
    )


def synthetic_shapes(*, seed: int = 0, jobs: int = SYNTHETIC_SHAPE_JOBS) -> JobShapes:
    """Job shapes from :func:`nuri.traces.synthetic.generate_trace`'s default model."""
    return shapes_from_trace(
        generate_trace(jobs, seed=seed), seed=seed, source=f"synthetic model ({jobs:,} jobs)"
    )


@dataclass(frozen=True, eq=False)
class DemandSample:
    """One sampled workload for one pool: jobs pinned to ``pool_id``, and its measuring window.

    Jobs submitted in ``[measured_from_s, horizon_end_s)`` are measured; earlier ones are the
    warm-up. ``step_devices`` is the drawn demand per forecast step (devices on average).
    ``peak_concurrent_devices`` is the most devices the jobs would hold at once if none ever
    waited: a pool that large makes every job start on arrival.
    """

    jobs: tuple[SimJob, ...]
    measured_from_s: float
    horizon_end_s: float
    step_devices: FloatArray
    peak_concurrent_devices: int
    group_count: int

    def measured(self) -> list[SimJob]:
        return [job for job in self.jobs if job.submit_s >= self.measured_from_s]


def step_count(forecast: Forecast, warmup_s: float = DEFAULT_WARMUP_S) -> int:
    """Steps a sample spans: the replayed warm-up and the forecast."""
    return min(len(forecast.points), math.ceil(warmup_s / forecast.step_s)) + len(forecast.points)


def check_forecast(forecast: Forecast, pool: str) -> None:
    """Refuse a forecast a plan cannot use, saying what to fix."""
    if not forecast.points:
        raise InvalidInput(f"the forecast for pool {pool} is empty; forecast at least one step")
    if forecast.step_s <= 0:
        raise InvalidInput(f"the forecast for pool {pool} has step_s {forecast.step_s}; need > 0")
    for point in forecast.points:
        values = (point.mean, point.lo80, point.hi80)
        if not all(math.isfinite(value) for value in values):
            raise InvalidInput(
                f"the forecast for pool {pool} has a non-finite value at {point.timestamp}"
            )
        if not point.lo80 <= point.mean <= point.hi80:
            raise InvalidInput(
                f"the forecast for pool {pool} at {point.timestamp} needs lo80 <= mean <= hi80,"
                f" got {point.lo80}, {point.mean}, {point.hi80}"
            )


def mean_demand_devices(forecast: Forecast) -> FloatArray:
    """The forecast's mean per step as devices demanded on average (clipped at zero)."""
    scale = 3600.0 / forecast.step_s
    return np.array([max(0.0, point.mean) * scale for point in forecast.points])


def sample_demand(
    forecast: Forecast,
    shapes: JobShapes,
    rng: np.random.Generator,
    *,
    pool_id: int = 1,
    warmup_s: float = DEFAULT_WARMUP_S,
    error_correlation: float = DEFAULT_ERROR_CORRELATION,
    arrivals: ArrivalModel = ArrivalModel.DEMAND_FOLLOWING,
    error_noise: FloatArray | None = None,
) -> DemandSample:
    """One sample path of jobs for a pool, drawn as the module docstring describes.

    ``error_noise`` (standard normals, one per step of warm-up and forecast) replaces the draws
    behind the forecast errors, e.g. to pair a sample with its mirror image (antithetic
    variates); ``rng`` then draws only the arrivals and shapes.

    ``forecast`` values are device-hours per step on the pool; jobs are pinned to ``pool_id``.
    Times start at 0 with the warm-up; the forecast's first step starts at
    ``measured_from_s``.
    """
    if not 0 <= error_correlation < 1:
        raise InvalidInput(f"error_correlation must be in [0, 1), got {error_correlation}")
    if warmup_s < 0:
        raise InvalidInput(f"warmup_s must be zero or more, got {warmup_s}")
    points = forecast.points
    step_s = float(forecast.step_s)
    warmup_steps = min(len(points), math.ceil(warmup_s / step_s))
    steps = [*points[:warmup_steps], *points]
    count = len(steps)

    # 1. An AR(1) path of standard normals, then the split normal per step.
    noise = rng.standard_normal(count) if error_noise is None else np.asarray(error_noise)
    if noise.shape != (count,):
        raise InvalidInput(f"error_noise needs {count} values (warm-up and forecast steps)")
    z = np.empty(count)
    z[0] = noise[0]
    innovation = math.sqrt(1 - error_correlation**2)
    for k in range(1, count):
        z[k] = error_correlation * z[k - 1] + innovation * noise[k]
    mean = np.array([p.mean for p in steps])
    s_lo = np.array([(p.mean - p.lo80) / Z_90 for p in steps])
    s_hi = np.array([(p.hi80 - p.mean) / Z_90 for p in steps])
    device_hours = np.maximum(0.0, mean + z * np.where(z > 0, s_hi, s_lo))

    # 2. Arrivals per step, uniform within it; 3. shapes, uniformly from the table.
    if arrivals is ArrivalModel.POISSON:
        expected = device_hours * 3600.0 / shapes.mean_device_seconds
        counts = rng.poisson(expected)
        starts = np.repeat(np.arange(count, dtype=np.float64) * step_s, counts)
        submit = np.sort(starts + rng.uniform(0.0, step_s, size=int(counts.sum())))
        rows = rng.integers(0, len(shapes), size=len(submit))
    else:
        submit, rows = _demand_following(device_hours * 3600.0, step_s, shapes, rng)
    devices = shapes.devices[rows]
    duration = shapes.duration_s[rows]
    limits = shapes.time_limit_s[rows]
    groups = shapes.group[rows]
    jobs = tuple(
        SimJob(
            job_id=position + 1,
            trace_id=str(position + 1),
            group=shapes.group_names[int(group)],
            project_id=int(group) + 1,
            submit_s=float(at),
            work_s=float(run),
            devices=int(size),
            time_limit_s=math.ceil(float(limit)),
            pool_id=pool_id,
        )
        for position, (at, run, size, limit, group) in enumerate(
            zip(submit, duration, devices, limits, groups, strict=True)
        )
    )
    return DemandSample(
        jobs=jobs,
        measured_from_s=warmup_steps * step_s,
        horizon_end_s=count * step_s,
        step_devices=device_hours[warmup_steps:] * 3600.0 / step_s,
        peak_concurrent_devices=_peak_concurrent(submit, np.minimum(duration, limits), devices),
        group_count=len(shapes.group_names),
    )


def pool_seed(seed: int, pool_name: str, sample: int) -> list[int]:
    """The entropy of one sample of one pool: independent of the other pools in the cluster."""
    return [seed, zlib.crc32(pool_name.encode()), sample]


def sample_pool(
    pool: PoolSpec,
    forecast: Forecast,
    shapes: JobShapes,
    *,
    samples: int,
    seed: int,
    warmup_s: float = DEFAULT_WARMUP_S,
    error_correlation: float = DEFAULT_ERROR_CORRELATION,
    arrivals: ArrivalModel = ArrivalModel.DEMAND_FOLLOWING,
    antithetic: bool = True,
) -> tuple[DemandSample, ...]:
    """``samples`` workloads for ``pool`` from its forecast (jobs pinned to pool id 1).

    Sample ``i`` is seeded by :func:`pool_seed`, so a pool's samples do not depend on the other
    pools of a cluster.

    With ``antithetic``, samples come in pairs whose forecast errors mirror each other (``z``
    and ``-z``): a week above forecast is always matched by one below, which steadies the pooled
    p90 without changing what a single sample looks like. Arrivals and shapes stay independent.
    """
    check_forecast(forecast, pool.name)
    steps = step_count(forecast, warmup_s)
    result = []
    for index in range(samples):
        noise = None
        if antithetic:
            pair = np.random.default_rng([*pool_seed(seed, pool.name, index // 2), 2])
            noise = pair.standard_normal(steps) * (1.0 if index % 2 == 0 else -1.0)
        result.append(
            sample_demand(
                forecast,
                shapes,
                np.random.default_rng(pool_seed(seed, pool.name, index)),
                warmup_s=warmup_s,
                error_correlation=error_correlation,
                arrivals=arrivals,
                error_noise=noise,
            )
        )
    return tuple(result)


def _demand_following(
    step_device_seconds: FloatArray, step_s: float, shapes: JobShapes, rng: np.random.Generator
) -> tuple[FloatArray, IntArray]:
    """Arrival times and shape rows whose held devices follow the demand step by step."""
    count = len(step_device_seconds)
    committed = np.zeros(count)
    edges = np.arange(count + 1, dtype=np.float64) * step_s
    run_s = np.minimum(shapes.duration_s, shapes.time_limit_s)
    submits: list[float] = []
    rows: list[int] = []
    for k in range(count):
        start = float(edges[k])
        times: list[float] = []
        while committed[k] < step_device_seconds[k]:
            row = int(rng.integers(0, len(shapes)))
            at = start + float(rng.uniform(0.0, step_s))
            end = at + float(run_s[row])
            size = float(shapes.devices[row])
            inside = size * (min(end, start + step_s) - at)
            missing = step_device_seconds[k] - committed[k]
            if inside > missing and rng.uniform() * inside > missing:
                break  # keep the crossing job with probability missing / inside
            last = min(count, math.ceil(end / step_s))
            overlap = np.minimum(end, edges[k + 1 : last + 1]) - np.maximum(at, edges[k:last])
            committed[k:last] += size * np.maximum(overlap, 0.0)
            times.append(at)
            rows.append(row)
        submits.extend(times)
    order = np.argsort(np.asarray(submits), kind="stable")
    return (
        np.asarray(submits, dtype=np.float64)[order],
        np.asarray(rows, dtype=np.int64)[order],
    )


def _peak_concurrent(submit: FloatArray, run_s: FloatArray, devices: IntArray) -> int:
    """Most devices held at once if every job started on arrival (ends before starts at ties)."""
    if len(submit) == 0:
        return 0
    times = np.concatenate([submit, submit + run_s])
    delta = np.concatenate([devices, -devices])
    order = np.lexsort((delta, times))
    return int(np.cumsum(delta[order]).max())


def pooled_quantile(values: "Sequence[float] | FloatArray", q: float) -> float:
    """The q-quantile of ``values`` by linear interpolation (numpy's default method).

    ``inf`` stands for a job that never started; the result is ``inf`` when the quantile falls
    among them. 0.0 for no values.
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    if ordered.size == 0:
        return 0.0
    position = q * (ordered.size - 1)
    low, high = math.floor(position), math.ceil(position)
    if not math.isfinite(ordered[high]):
        return math.inf
    return float(ordered[low] + (position - low) * (ordered[high] - ordered[low]))
