"""Metrics of one simulated run: completion time, waiting, slowdown, utilization and fairness.

The simulator reports what happened as two flat lists, and every metric is a pure function of them::

    JobOutcome   one per job: group, submit time, devices, true run time, first start, end
    Segment      one per stretch of running (a preempted job has several): pool, devices, start, end

``compute_metrics`` turns them into a ``Metrics``; ``check_schedule`` verifies that the segments
never used more devices of a pool than it has; ``write_segments_csv`` is the only I/O here.

Definitions
-----------
All times are in seconds on the simulated clock. A job is *finished* if ``end_s`` is not None and
*started* if ``first_start_s`` is not None. Percentiles are ``numpy.percentile`` with linear
interpolation (``method="linear"``).

``jobs``
    Number of outcomes, finished or not. ``unfinished`` counts those whose ``end_s`` is None.
JCT (job completion time)
    ``end_s - submit_s`` of each finished job. ``avg_jct_s`` is the mean, ``p50_jct_s`` and
    ``p99_jct_s`` the 50th and 99th percentiles. Unfinished jobs have no JCT.
wait
    ``first_start_s - submit_s`` of each started job, including jobs that started but did not
    finish. ``avg_wait_s`` is the mean, ``p99_wait_s`` the 99th percentile. Time spent requeued
    after a preemption is not wait: it shows in the JCT.
bounded slowdown
    ``max(1, JCT / max(run_time_s, tau))`` per finished job with ``tau = slowdown_threshold_s``
    (10 s by default): Feitelson's bounded slowdown, which keeps very short jobs from dominating.
    ``mean_bounded_slowdown`` is the mean over finished jobs (1.0 is the best possible).
``makespan_s``
    The last segment end minus the first submit (the earliest ``submit_s`` of all outcomes).
``utilization``
    ``sum over segments of devices * (end_s - start_s)`` (device-seconds) divided by
    ``total_devices * makespan_s``. A fraction, in [0, 1] for a feasible schedule.
delivered share
    Of group g: the device-seconds of the segments of g's jobs divided by all device-seconds.
entitled share
    Of group g: ``awards[g]`` divided by the sum of the awards of the groups present in the
    outcomes. A group present but absent from ``awards`` is entitled to 0; awards of groups not
    present are ignored; ``awards=None`` means equal shares, 1/n for each of the n groups present.
``jain_fairness``
    Jain's index ``(sum x)^2 / (m * sum x^2)`` of ``x_g = delivered_g / entitled_g`` over the m
    groups with ``entitled_g > 0``. In [1/m, 1]: 1 when every group receives in proportion to its
    entitlement, 1/m when one group receives everything. 1.0 by convention when none of these
    groups received any device-seconds (``allocation_adherence`` still shows the miss).
``allocation_adherence``
    The mean over all n groups present of ``|delivered_g - entitled_g|``: a fraction in [0, 1]
    (0.05 means 5 percentage points off on average). Lower is better; 0 is exact adherence.
``timeouts``
    Jobs stopped at their time limit (``timed_out``); they count as finished in JCT, since they
    left the system, so compare policies on this count too.
``preemptions_per_job``
    The mean of ``preemptions`` over all outcomes.
``sim_wall_s``
    Wall-clock seconds the simulation took, as measured and passed in by the caller.

Empty sets, by convention: a mean or percentile over no values is 0.0 (no finished job gives JCT
and slowdown 0.0; no started job gives wait 0.0). No segments give makespan and utilization 0.0
(also when the makespan is 0). No device-seconds at all give delivered shares of 0,
``jain_fairness`` 1.0 and ``allocation_adherence`` 0.0: nothing was delivered, so no group was
favoured.

Cost: arrays are built once from the inputs; everything else is vectorised with numpy, so 100,000
outcomes and 150,000 segments take a fraction of a second.
"""

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of running that the simulator executed; a preempted job has several.

    ``devices`` (at least 1) of ``pool`` were held from ``start_s`` to ``end_s`` (seconds on the
    simulated clock, ``end_s >= start_s``).
    """

    job_id: str
    pool: str
    devices: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What became of one job in a simulated run.

    ``group`` is who the job is charged to for fairness (a project or allocation);
    ``run_time_s`` is the job's true run time alone on the pool it ran on, in seconds, and is
    used for slowdown only. ``first_start_s`` is None if the job never started, ``end_s`` None if
    it did not finish within the simulation. ``preemptions`` counts how often it was stopped and
    requeued.
    """

    job_id: str
    group: str
    submit_s: float
    devices: int
    run_time_s: float
    first_start_s: float | None
    end_s: float | None
    preemptions: int = 0
    timed_out: bool = False
    """The job was stopped at its time limit: it left the system (and counts as finished for
    JCT), but its work is not done; ``Metrics.timeouts`` counts these."""


@dataclass(frozen=True, slots=True)
class Metrics:
    """The figures of one run; see the module docstring for each definition.

    The first twelve fields are the published metrics, which ``to_json`` returns in order. The
    remaining fields are extras for reports and are not part of ``to_json``. Times are seconds,
    ``utilization``, the shares and ``allocation_adherence`` are fractions.
    """

    jobs: int
    avg_jct_s: float
    p50_jct_s: float
    p99_jct_s: float
    avg_wait_s: float
    p99_wait_s: float
    mean_bounded_slowdown: float
    utilization: float
    jain_fairness: float
    allocation_adherence: float
    makespan_s: float
    sim_wall_s: float
    unfinished: int = 0
    preemptions_per_job: float = 0.0
    timeouts: int = 0
    delivered_share: dict[str, float] = field(default_factory=dict)
    entitled_share: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, float | int]:
        """The twelve published metrics, in their documented order (``jobs`` is an int)."""
        return {
            "jobs": self.jobs,
            "avg_jct_s": self.avg_jct_s,
            "p50_jct_s": self.p50_jct_s,
            "p99_jct_s": self.p99_jct_s,
            "avg_wait_s": self.avg_wait_s,
            "p99_wait_s": self.p99_wait_s,
            "mean_bounded_slowdown": self.mean_bounded_slowdown,
            "utilization": self.utilization,
            "jain_fairness": self.jain_fairness,
            "allocation_adherence": self.allocation_adherence,
            "makespan_s": self.makespan_s,
            "sim_wall_s": self.sim_wall_s,
        }


def compute_metrics(
    outcomes: Sequence[JobOutcome],
    segments: Sequence[Segment],
    *,
    total_devices: int,
    awards: Mapping[str, float] | None = None,
    sim_wall_s: float = 0.0,
    slowdown_threshold_s: float = 10.0,
) -> Metrics:
    """The metrics of one run, as defined in the module docstring.

    ``total_devices`` is the cluster's device count (all pools) used for utilization;
    ``awards`` maps a group to its award in any one unit (GPU-hours, say), only ratios matter;
    ``slowdown_threshold_s`` is the bounded-slowdown threshold tau in seconds.

    Raises ValueError, naming the offending job, if a segment's job has no outcome, a segment
    ends before it starts, starts before its job was submitted, holds fewer than 1 device or has
    a non-finite time; if job ids repeat or an outcome's times are out of order; or if
    ``total_devices`` < 1, ``slowdown_threshold_s`` <= 0, an award is negative or the awards give
    the groups present nothing at all.
    """
    if total_devices < 1:
        raise ValueError(f"total_devices must be at least 1, got {total_devices}")
    if not slowdown_threshold_s > 0:
        raise ValueError(f"slowdown_threshold_s must be positive, got {slowdown_threshold_s}")
    jobs = _outcome_arrays(outcomes)
    seg_start, seg_end, seg_devices = _segment_arrays(segments)
    seg_job = _segment_jobs(segments, jobs.index)
    late = np.flatnonzero(seg_start < jobs.submit[seg_job])
    if late.size:
        bad = segments[int(late[0])]
        raise ValueError(
            f"segment of job {bad.job_id!r} starts at {bad.start_s} s, before the job was "
            f"submitted at {jobs.submit[jobs.index[bad.job_id]]} s"
        )

    # 1. Completion, wait and slowdown of single jobs.
    finished = ~np.isnan(jobs.end)
    started = ~np.isnan(jobs.first_start)
    jct = jobs.end[finished] - jobs.submit[finished]
    wait = jobs.first_start[started] - jobs.submit[started]
    slowdown = np.maximum(
        1.0, jct / np.maximum(jobs.run_time[finished], float(slowdown_threshold_s))
    )

    # 2. Device-seconds, the makespan window and utilization.
    device_seconds = seg_devices.astype(np.float64) * (seg_end - seg_start)
    total_device_seconds = float(device_seconds.sum())
    makespan = float(seg_end.max() - jobs.submit.min()) if seg_end.size else 0.0
    utilization = total_device_seconds / (total_devices * makespan) if makespan > 0 else 0.0

    # 3. Shares per group, Jain's index and adherence.
    n_groups = len(jobs.groups)
    per_group = np.bincount(jobs.group[seg_job], weights=device_seconds, minlength=n_groups).astype(
        np.float64
    )
    delivered = per_group / total_device_seconds if total_device_seconds > 0 else np.zeros(n_groups)
    entitled = _entitled_shares(jobs.groups, awards)
    if total_device_seconds > 0:
        jain = _jain_index(delivered, entitled)
        adherence = float(np.abs(delivered - entitled).mean()) if n_groups else 0.0
    else:
        jain, adherence = 1.0, 0.0

    return Metrics(
        jobs=len(outcomes),
        avg_jct_s=_mean(jct),
        p50_jct_s=_percentile(jct, 50.0),
        p99_jct_s=_percentile(jct, 99.0),
        avg_wait_s=_mean(wait),
        p99_wait_s=_percentile(wait, 99.0),
        mean_bounded_slowdown=_mean(slowdown),
        utilization=utilization,
        jain_fairness=jain,
        allocation_adherence=adherence,
        makespan_s=makespan,
        sim_wall_s=float(sim_wall_s),
        unfinished=int((~finished).sum()),
        timeouts=sum(1 for outcome in outcomes if outcome.timed_out),
        preemptions_per_job=_mean(jobs.preemptions.astype(np.float64)),
        delivered_share={g: float(x) for g, x in zip(jobs.groups, delivered, strict=True)},
        entitled_share={g: float(x) for g, x in zip(jobs.groups, entitled, strict=True)},
    )


def check_schedule(segments: Sequence[Segment], capacity: Mapping[str, int]) -> None:
    """Verify that no pool ever has more devices in use than ``capacity[pool]``.

    Sweeps the start and end events of all segments in time order per pool; at equal times ends
    come before starts, so a segment may start at the very moment another ends on the same
    devices (a tight schedule is feasible). Zero-length segments hold nothing.

    Raises ValueError naming the pool, the time, the devices in use and the job whose start
    over-commits it; also for a segment on a pool missing from ``capacity`` and for the segment
    faults ``compute_metrics`` rejects (end before start, fewer than 1 device, non-finite times).
    """
    start, end, devices = _segment_arrays(segments)
    if not segments:
        return
    pools = sorted(capacity)
    pool_index = {name: i for i, name in enumerate(pools)}
    seg_pool = np.fromiter(
        (pool_index.get(s.pool, -1) for s in segments), dtype=np.int64, count=len(segments)
    )
    unknown = np.flatnonzero(seg_pool < 0)
    if unknown.size:
        bad = segments[int(unknown[0])]
        raise ValueError(
            f"segment of job {bad.job_id!r} runs on pool {bad.pool!r}, which has no capacity "
            f"given (known pools: {', '.join(pools)})"
        )
    cap = np.array([capacity[name] for name in pools], dtype=np.int64)
    count = len(segments)
    times = np.concatenate([start, end])
    delta = np.concatenate([devices, -devices])
    pool = np.concatenate([seg_pool, seg_pool])
    which = np.concatenate([np.arange(count), np.arange(count)])
    # Sort by pool, then time, then delta ascending (ends, being negative, before starts).
    order = np.lexsort((delta, times, pool))
    # Each pool's deltas sum to zero, so a running sum over the pool-sorted events restarts at
    # zero at each pool's first event and is that pool's devices in use after each event.
    in_use = np.cumsum(delta[order])
    over = np.flatnonzero(in_use > cap[pool[order]])
    if over.size:
        k = int(over[0])
        bad = segments[int(which[order[k]])]
        raise ValueError(
            f"pool {bad.pool!r} is over-committed at t={bad.start_s} s: {int(in_use[k])} devices "
            f"in use, capacity {capacity[bad.pool]}, when a segment of job {bad.job_id!r} starts"
        )


def write_segments_csv(segments: Sequence[Segment], path: Path) -> None:
    """Write the segments to ``path`` as CSV with header ``job_id,pool,devices,start_s,end_s``.

    One row per segment in the given order; times are written in full precision (Python's
    shortest round-tripping float repr). Overwrites ``path``; its directory must exist.
    """
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["job_id", "pool", "devices", "start_s", "end_s"])
        writer.writerows((s.job_id, s.pool, s.devices, s.start_s, s.end_s) for s in segments)


@dataclass(frozen=True, slots=True)
class _Outcomes:
    """The outcomes as columns. NaN stands for None in ``first_start`` and ``end``."""

    index: dict[str, int]
    groups: list[str]
    group: IntArray
    submit: FloatArray
    run_time: FloatArray
    first_start: FloatArray
    end: FloatArray
    preemptions: IntArray


def _outcome_arrays(outcomes: Sequence[JobOutcome]) -> _Outcomes:
    """Columns of the outcomes, validated: unique ids, finite times, submit <= start <= end."""
    count = len(outcomes)
    index = {o.job_id: i for i, o in enumerate(outcomes)}
    if len(index) != count:
        seen: set[str] = set()
        for o in outcomes:
            if o.job_id in seen:
                raise ValueError(f"job {o.job_id!r} has more than one outcome")
            seen.add(o.job_id)
    groups = sorted({o.group for o in outcomes})
    group_index = {name: i for i, name in enumerate(groups)}
    nan = float("nan")
    jobs = _Outcomes(
        index=index,
        groups=groups,
        group=np.fromiter((group_index[o.group] for o in outcomes), np.int64, count),
        submit=np.fromiter((o.submit_s for o in outcomes), np.float64, count),
        run_time=np.fromiter((o.run_time_s for o in outcomes), np.float64, count),
        first_start=np.fromiter(
            (nan if o.first_start_s is None else o.first_start_s for o in outcomes),
            np.float64,
            count,
        ),
        end=np.fromiter((nan if o.end_s is None else o.end_s for o in outcomes), np.float64, count),
        preemptions=np.fromiter((o.preemptions for o in outcomes), np.int64, count),
    )
    _reject(outcomes, ~np.isfinite(jobs.submit), "has a non-finite submit_s")
    _reject(outcomes, ~(jobs.run_time >= 0), "has a negative or non-finite run_time_s")
    _reject(outcomes, np.isinf(jobs.first_start) | np.isinf(jobs.end), "has an infinite time")
    _reject(outcomes, jobs.first_start < jobs.submit, "starts before it is submitted")
    _reject(outcomes, jobs.end < jobs.first_start, "ends before it starts")
    _reject(outcomes, ~np.isnan(jobs.end) & np.isnan(jobs.first_start), "ends but never started")
    _reject(outcomes, jobs.preemptions < 0, "has a negative preemption count")
    return jobs


def _reject(outcomes: Sequence[JobOutcome], bad: npt.NDArray[np.bool_], problem: str) -> None:
    """Raise ValueError naming the first outcome where ``bad`` holds."""
    where = np.flatnonzero(bad)
    if where.size:
        o = outcomes[int(where[0])]
        raise ValueError(f"outcome of job {o.job_id!r} {problem}: {o}")


def _segment_arrays(segments: Sequence[Segment]) -> tuple[FloatArray, FloatArray, IntArray]:
    """(start_s, end_s, devices) columns of the segments, validated."""
    count = len(segments)
    start = np.fromiter((s.start_s for s in segments), np.float64, count)
    end = np.fromiter((s.end_s for s in segments), np.float64, count)
    devices = np.fromiter((s.devices for s in segments), np.int64, count)
    for bad, problem in (
        (~(np.isfinite(start) & np.isfinite(end)), "has a non-finite time"),
        (end < start, "ends before it starts"),
        (devices < 1, "holds fewer than 1 device"),
    ):
        where = np.flatnonzero(bad)
        if where.size:
            s = segments[int(where[0])]
            raise ValueError(f"segment of job {s.job_id!r} {problem}: {s}")
    return start, end, devices


def _segment_jobs(segments: Sequence[Segment], index: Mapping[str, int]) -> IntArray:
    """The outcome row of each segment's job; ValueError for a job with no outcome."""
    rows = np.fromiter((index.get(s.job_id, -1) for s in segments), np.int64, len(segments))
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        s = segments[int(missing[0])]
        raise ValueError(f"segment of job {s.job_id!r} has no outcome for that job: {s}")
    return rows


def _entitled_shares(groups: Sequence[str], awards: Mapping[str, float] | None) -> FloatArray:
    """Entitled share of each group (in the order of ``groups``), summing to 1 if any groups."""
    if not groups:
        return np.zeros(0)
    if awards is None:
        return np.full(len(groups), 1.0 / len(groups))
    for name, award in awards.items():
        if not (math.isfinite(award) and award >= 0):
            raise ValueError(f"award of group {name!r} must be finite and >= 0, got {award}")
    raw = np.array([float(awards.get(g, 0.0)) for g in groups], dtype=np.float64)
    total = float(raw.sum())
    if total <= 0:
        raise ValueError(
            f"awards give nothing to any group present ({', '.join(groups)}); "
            "pass awards=None for equal shares"
        )
    result: FloatArray = raw / total
    return result


def _jain_index(delivered: FloatArray, entitled: FloatArray) -> float:
    """Jain's index of delivered/entitled over groups entitled to something; 1.0 if no usage."""
    entitled_groups = entitled > 0
    x = delivered[entitled_groups] / entitled[entitled_groups]
    square_sum = float((x * x).sum())
    if square_sum == 0:
        return 1.0
    return float(x.sum()) ** 2 / (x.size * square_sum)


def _mean(values: FloatArray) -> float:
    """The mean, or 0.0 for no values."""
    return float(values.mean()) if values.size else 0.0


def _percentile(values: FloatArray, q: float) -> float:
    """The q-th percentile with linear interpolation, or 0.0 for no values."""
    return float(np.percentile(values, q, method="linear")) if values.size else 0.0
