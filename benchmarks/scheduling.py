"""Scheduling benchmark: every policy on real public traces, simulator speed, decision latency
and start-time estimate accuracy.

    .venv/bin/python benchmarks/scheduling.py            # full run (several minutes)
    .venv/bin/python benchmarks/scheduling.py --quick    # a smaller, faster pass
    .venv/bin/python benchmarks/scheduling.py --jobs 7000 --devices 288 \
        --policies las --policy-option las.preempt_gap=1 --skip speed,latency,estimates,reservations
                                                          # a prefix, a fixed pool, a policy option

Traces are read from ``../shared/traces`` beside the repository (``--traces-dir``). Each trace
runs on one H100 pool sized so that the offered load (GPU-seconds asked for / (span x devices))
equals ``--load`` (or has ``--devices`` devices); time limits come from the seeded over-estimate model; a preemption costs
``--restart-cost`` seconds. Figures are compared as ratios within one run: machines are noisy.
"""

import argparse
import ast
import gc
import math
import random
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.commons import Tier
from nuri.engine.heap import freeze_start_up_objects
from nuri.policy.cycle import plan
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import (
    RUN_TIMES_KEPT,
    ClusterSnapshot,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    RunningJob,
    RunTimeHistory,
)
from nuri.sim.estimate import estimate_starts
from nuri.sim.metrics import Metrics, compute_metrics
from nuri.sim.simulator import SimResult, Simulator
from nuri.sim.workload import Workload, build_workload
from nuri.traces.alibaba import load_alibaba_openb
from nuri.traces.gavel import load_gavel_philly
from nuri.traces.synthetic import generate_trace
from nuri.traces.time_limits import with_time_limits

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=180)
progress = Console(stderr=True)


def sized_cluster(
    trace: pd.DataFrame, load: float, devices_per_node: int = 8, devices: int | None = None
) -> ClusterSpec:
    """One H100 pool just large enough that the trace's offered load equals ``load``, or of
    ``devices`` devices (rounded up to whole nodes) when given."""
    largest = int(trace["num_gpus"].max())
    if devices is None:
        work = float((trace["num_gpus"] * trace["duration_s"]).sum())
        span = float(trace["submit_time_s"].max() - trace["submit_time_s"].min())
        devices = math.ceil(work / (span * load))
    nodes = max(math.ceil(devices / devices_per_node), math.ceil(largest / devices_per_node))
    pool = PoolSpec(1, "bench", "h100", "H100", nodes, devices_per_node, 1000, 4000)
    return ClusterSpec(pools=(pool,))


def run_policy(
    cluster: ClusterSpec,
    workload: Workload,
    name: str,
    restart_cost_s: float,
    probe: set[int] | None = None,
    options: dict[str, object] | None = None,
) -> tuple[SimResult, Metrics]:
    context = PolicyContext(
        oracle_work_s={job.job_id: job.work_s for job in workload.jobs}
        if POLICIES[name].oracle
        else None,
        restart_cost_s=restart_cost_s,
    )
    result = Simulator(
        cluster,
        policy_named(name, context, options=options),
        shares=workload.shares,
        restart_cost_s=restart_cost_s,
    ).run(workload.jobs, probe=probe)
    metrics = compute_metrics(
        result.outcomes,
        result.segments,
        total_devices=cluster.devices,
        awards=workload.group_shares(),
        sim_wall_s=result.wall_s,
    )
    return result, metrics


def load_traces(directory: Path, quick: bool, jobs: int | None = None) -> dict[str, pd.DataFrame]:
    """Both real traces with time limits; ``quick``: the first 3,000 jobs only (limits drawn for
    those), ``jobs``: the first ``jobs`` jobs, with the limits drawn for the whole trace (so a
    prefix's jobs keep the limits they have in the full run)."""
    traces: dict[str, pd.DataFrame] = {}
    gavel = load_gavel_philly(directory / "gavel-philly-derived", missing="extrapolate")
    openb = load_alibaba_openb(directory / "alibaba-gpu-v2023-openb/csv/openb_pod_list_default.csv")
    openb = openb.assign(gpu_type="")  # one pool of one accelerator: type constraints dropped
    for name, frame in (("gavel-philly", gavel), ("alibaba-openb", openb)):
        if quick:
            frame = frame.sort_values("submit_time_s").head(3000)
        frame = with_time_limits(frame, seed=0)
        if jobs is not None:
            frame = frame.sort_values("submit_time_s", kind="stable").head(jobs)
        traces[name] = frame
    return traces


def policy_table(
    traces: dict[str, pd.DataFrame],
    policies: list[str],
    load: float,
    restart_cost_s: float,
    shape: tuple[int, int | None] = (8, None),
    options: dict[str, dict[str, object]] | None = None,
) -> dict[str, dict[str, tuple[SimResult, Metrics]]]:
    """Every policy on every trace; ``shape`` is (devices per node, fixed devices or None to
    size the pool by ``load``); ``options`` maps a policy name to its constructor options."""
    results: dict[str, dict[str, tuple[SimResult, Metrics]]] = {}
    devices_per_node, devices = shape
    for trace_name, frame in traces.items():
        cluster = sized_cluster(frame, load, devices_per_node, devices)
        workload = build_workload(frame, cluster)
        results[trace_name] = {}
        pool = cluster.pools[0]
        sizing = f"offered load {load}" if devices is None else "fixed size"
        table = Table(
            title=f"{trace_name}: {len(workload.jobs):,} jobs, {cluster.devices} H100"
            f" ({pool.nodes} nodes x {pool.devices_per_node}), {sizing},"
            f" restart cost {restart_cost_s:.0f} s",
            title_justify="left",
        )
        for column in (
            "policy",
            "avg JCT h",
            "p50 JCT h",
            "p99 JCT h",
            "avg wait h",
            "mean BSLD",
            "util",
            "Jain",
            "adherence",
            "preempt/job",
            "wall s",
        ):
            table.add_column(column, justify="right" if column != "policy" else "left")
        for name in policies:
            chosen = (options or {}).get(name)
            result, m = run_policy(cluster, workload, name, restart_cost_s, options=chosen)
            results[trace_name][name] = (result, m)
            progress.print(
                f"{trace_name} {name}: avg JCT {m.avg_jct_s / 3600:.1f} h, {m.sim_wall_s:.0f} s",
                highlight=False,
            )
            table.add_row(
                name + "".join(f" {key}={value!r}" for key, value in (chosen or {}).items()),
                f"{m.avg_jct_s / 3600:.2f}",
                f"{m.p50_jct_s / 3600:.2f}",
                f"{m.p99_jct_s / 3600:.1f}",
                f"{m.avg_wait_s / 3600:.2f}",
                f"{m.mean_bounded_slowdown:.1f}",
                f"{m.utilization:.3f}",
                f"{m.jain_fairness:.3f}",
                f"{m.allocation_adherence:.3f}",
                f"{result.preemptions / max(1, len(workload.jobs)):.2f}",
                f"{m.sim_wall_s:.1f}",
            )
        console.print(table)
    return results


def targets(results: dict[str, dict[str, tuple[SimResult, Metrics]]]) -> None:
    """The issue's targets: best duration-blind policy against the oracle and slurm-multifactor."""
    table = Table(title="Targets: best policy that does not know durations", title_justify="left")
    for column in (
        "trace",
        "best",
        "JCT / oracle (<=1.10)",
        "multifactor JCT / best (>=1.5)",
        "multifactor BSLD / best (>=10)",
        "p99 / multifactor p99 (<=1.2)",
        "Jain - multifactor (>=0)",
        "|adh - multifactor| (<=0.05)",
        "preempt/job (<=2)",
    ):
        table.add_column(column, justify="right")
    for trace_name, runs in results.items():
        blind = {name: run for name, run in runs.items() if not POLICIES[name].oracle}
        if "srtf-oracle" not in runs or "slurm-multifactor" not in runs or not blind:
            continue
        best = min(blind, key=lambda name: blind[name][1].avg_jct_s)
        result, m = blind[best]
        oracle = runs["srtf-oracle"][1]
        mf = runs["slurm-multifactor"][1]
        jobs = m.jobs
        table.add_row(
            trace_name,
            best,
            f"{m.avg_jct_s / oracle.avg_jct_s:.3f}",
            f"{mf.avg_jct_s / m.avg_jct_s:.2f}",
            f"{mf.mean_bounded_slowdown / m.mean_bounded_slowdown:.1f}",
            f"{m.p99_jct_s / mf.p99_jct_s:.2f}",
            f"{m.jain_fairness - mf.jain_fairness:+.3f}",
            f"{abs(m.allocation_adherence - mf.allocation_adherence):.3f}",
            f"{result.preemptions / max(1, jobs):.2f}",
        )
    console.print(table)


def simulator_speed(
    jobs: int, policies: list[str], options: dict[str, dict[str, object]] | None = None
) -> None:
    frame = with_time_limits(generate_trace(jobs, seed=1), seed=0)
    cluster = sized_cluster(frame, 0.9)
    workload = build_workload(frame, cluster)
    table = Table(
        title=f"Simulator speed: synthetic trace, {len(workload.jobs):,} jobs, {cluster.devices} devices, load 0.9",
        title_justify="left",
    )
    for column in ("policy", "wall s", "jobs/s", "passes", "decisions"):
        table.add_column(column, justify="right")
    for name in policies:
        result, _ = run_policy(cluster, workload, name, 60.0, options=(options or {}).get(name))
        table.add_row(
            name,
            f"{result.wall_s:.1f}",
            f"{len(workload.jobs) / result.wall_s:,.0f}",
            f"{result.passes:,}",
            f"{result.decisions:,}",
        )
    console.print(table)


def big_snapshot(devices: int = 10_000, pending: int = 10_000, seed: int = 7) -> ClusterSnapshot:
    """10,000 devices (1,250 nodes x 8), about 80 % busy, 10,000 queued jobs, and the run times
    of the last 128 finished jobs of each time limit (uniform up to the limit)."""
    rng = random.Random(seed)
    nodes_count = devices // 8
    free: dict[str, list[int]] = {f"big-n{i:04d}": list(range(8)) for i in range(nodes_count)}
    running = []
    job_id = 1
    for name in free:
        while len(free[name]) > 0 and rng.random() < 0.8:
            size = min(len(free[name]), rng.choice([1, 2, 4, 8]))
            taken = tuple(free[name][:size])
            free[name] = free[name][size:]
            running.append(
                RunningJob(
                    job_id,
                    rng.randrange(1, 21),
                    1,
                    Tier.GENERAL,
                    1,
                    (NodeSlice(name, taken),),
                    86_400,
                    0.0,
                    0.0,
                )
            )
            job_id += 1
    nodes = tuple(NodeState(name, 8, tuple(indices)) for name, indices in free.items())
    queue = tuple(
        PendingJob(
            job_id + i,
            rng.randrange(1, 21),
            1,
            rng.choice(list(Tier)),
            1,
            rng.choice([1, 1, 2, 4, 8, 16]),
            rng.choice([3600, 14_400, 86_400]),
            float(rng.randrange(0, 86_400)),
            attained_device_seconds=float(rng.choice([0, 0, 3600])),
        )
        for i in range(pending)
    )
    # A full run-time history for each limit the queue asks for, so LAS ranks every job by it
    # (and builds its rank tables inside the timed decision, as a fresh policy must).
    history = RunTimeHistory().with_finished(
        (limit, rng.uniform(60.0, limit))
        for limit in (3600, 14_400, 86_400)
        for _ in range(RUN_TIMES_KEPT)
    )
    return ClusterSnapshot(
        now=86_400.0,
        pools=(PoolState(1, "big", "H100", 1000, nodes),),
        running=tuple(running),
        pending=queue,
        history=history,
    )


def decision_latency(
    policies: list[str], repeats: int, options: dict[str, dict[str, object]] | None = None
) -> None:
    """p50 / p99 of one decision through ``plan``, in a heap kept as ``nuri serve`` keeps it:
    what was made before the snapshot is frozen out of the cyclic collector, and the snapshot is
    built afterwards, as the live engine builds one every cycle.

    Also the time of one full collection of this process's heap, frozen and not: a decision
    during which one falls due takes about that much longer, so it, not the policy, sets the p99
    whenever one lands among the samples.
    """
    freeze_start_up_objects()
    snapshot = big_snapshot()
    table = Table(
        title=f"One live scheduling decision: 10,000 devices, {len(snapshot.running):,} running, 10,000 pending",
        title_justify="left",
    )
    for column in ("policy", "p50 ms", "p99 ms", "decisions"):
        table.add_column(column, justify="right")
    for name in policies:
        context = PolicyContext(
            oracle_work_s={job.job_id: float(job.time_limit_s) for job in snapshot.pending}
            | {job.job_id: 86_400.0 for job in snapshot.running}
        )
        timings, count = [], 0
        for _ in range(repeats):
            policy = policy_named(name, context, options=(options or {}).get(name))
            start = time.perf_counter()
            count = len(plan(policy, snapshot))
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, math.ceil(0.99 * len(timings)) - 1)]
        table.add_row(name, f"{statistics.median(timings):.1f}", f"{p99:.1f}", str(count))
    console.print(table)
    frozen = full_collection_ms()
    gc.unfreeze()
    console.print(
        f"One full collection of this process: {frozen:.1f} ms with the objects made before the"
        f" snapshot frozen (as nuri serve runs), {full_collection_ms():.1f} ms with nothing frozen"
    )


def full_collection_ms(rounds: int = 5) -> float:
    """Median wall time of a full (generation-2) collection of this process's heap."""
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        gc.collect()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def estimate_accuracy(frame: pd.DataFrame, policy: str, load: float, samples: int) -> None:
    cluster = sized_cluster(frame, load)
    workload = build_workload(frame, cluster)
    rng = random.Random(3)
    probe = set(rng.sample([job.job_id for job in workload.jobs], min(samples, len(workload.jobs))))
    result, _ = run_policy(cluster, workload, policy, 60.0, probe=probe)
    errors, within = [], 0
    for job_id, snapshot in result.probes.items():
        estimate = estimate_starts(snapshot, policy_named(policy), only={job_id}).get(job_id)
        actual = result.first_start.get(job_id)
        if estimate is None or actual is None:
            continue
        errors.append(abs(estimate - actual))
        est_wait, real_wait = estimate - snapshot.now, actual - snapshot.now
        if max(est_wait, real_wait) <= 60 or 0.5 <= (est_wait + 1) / (real_wait + 1) <= 2:
            within += 1
    if not errors:
        console.print("no queued probe jobs")
        return
    table = Table(
        title=f"Start-time estimates ({policy}, {len(errors)} queued jobs sampled at submission)",
        title_justify="left",
    )
    for column in ("median |error| h", "mean |error| h", "within 2x of real wait"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{statistics.median(errors) / 3600:.2f}",
        f"{statistics.fmean(errors) / 3600:.2f}",
        f"{within / len(errors):.0%}",
    )
    console.print(table)


def reservation_lending(directory: Path, policies: list[str], quick: bool) -> None:
    """A public AI service reserves half of an ATOM NPU pool (demand: Alibaba's DLRM service app_20,
    scaled so its peak fills the reservation, repeated over the batch trace's span). Batch jobs
    for that pool borrow idle reserved devices and are preempted when the service needs them."""
    from nuri.domain.cluster_spec import ReservationSpec
    from nuri.traces.alibaba import load_alibaba_dlrm_services, service_demand

    services = load_alibaba_dlrm_services(
        directory / "alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv"
    )
    series = service_demand(services, 3600.0)["app_20"]
    reserved_nodes, per_node, nodes = 8, 4, 16
    capacity = reserved_nodes * per_node
    scaled = [round(value / series.max() * capacity) for value in series.to_numpy()]
    jobs = 2000 if quick else 8000
    frame = generate_trace(jobs, seed=5, mean_interarrival_s=900.0).assign(gpu_type="atom")
    frame = frame[frame["num_gpus"] <= per_node * (nodes - reserved_nodes)]
    frame = with_time_limits(frame, seed=0)
    span = float(frame["submit_time_s"].max()) + 30 * 86_400
    period = len(scaled) * 3600.0
    demand = tuple(
        (cycle * period + hour * 3600.0, devices)
        for cycle in range(int(span // period) + 1)
        for hour, devices in enumerate(scaled)
    )
    atom = PoolSpec(1, "gwangju", "atom", "ATOM", nodes, per_node, 100, 300)
    lending = ClusterSpec(
        pools=(atom,),
        reservations=(ReservationSpec(1, "public-ai", "atom", reserved_nodes, demand),),
    )
    walled = ClusterSpec(
        pools=(PoolSpec(1, "gwangju", "atom", "ATOM", nodes - reserved_nodes, per_node, 100, 300),)
    )
    table = Table(
        title=f"Reserved inference capacity: {capacity} of {nodes * per_node} ATOM devices held for a service"
        f" (demand {min(scaled)}-{max(scaled)}), {len(frame):,} batch jobs",
        title_justify="left",
    )
    for column in (
        "policy",
        "cluster",
        "batch avg JCT h",
        "batch p99 JCT h",
        "service shortfall device-h",
        "lent device-h",
        "preempt/job",
    ):
        table.add_column(column, justify="right" if column not in ("policy", "cluster") else "left")
    for name in policies:
        for label, cluster in (
            ("reserved nodes walled off", walled),
            ("idle reserved devices lent", lending),
        ):
            workload = build_workload(frame, cluster)
            result, m = run_policy(cluster, workload, name, 60.0)
            table.add_row(
                name,
                label,
                f"{m.avg_jct_s / 3600:.2f}",
                f"{m.p99_jct_s / 3600:.1f}",
                f"{result.service_shortfall_device_s / 3600:.1f}",
                f"{result.lent_device_s / 3600:,.0f}",
                f"{result.preemptions:,}",
            )
    console.print(table)


def policy_options(specs: list[str]) -> dict[str, dict[str, object]]:
    """``["las.preempt_gap=1", "las.victim_choice=fewest"]`` -> ``{"las": {...}}``; a value is
    read as a Python literal where it is one (``1``, ``None``, ``(1, 16)``), else as text."""
    options: dict[str, dict[str, object]] = {}
    for spec in specs:
        target, equals, text = spec.partition("=")
        policy, dot, key = target.partition(".")
        if not equals or not dot or not policy or not key:
            raise SystemExit(f"--policy-option {spec!r}: write POLICY.OPTION=VALUE")
        if policy not in POLICIES:
            raise SystemExit(f"--policy-option {spec!r}: unknown policy {policy!r}")
        try:
            value: object = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        options.setdefault(policy, {})[key] = value
    return options


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces-dir", type=Path, default=ROOT.parent / "shared" / "traces")
    parser.add_argument("--load", type=float, default=0.9)
    parser.add_argument("--restart-cost", type=float, default=60.0)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, help="only the first N jobs of each trace")
    parser.add_argument(
        "--devices", type=int, help="pool size in devices (default: sized by --load)"
    )
    parser.add_argument("--devices-per-node", type=int, default=8)
    parser.add_argument(
        "--policy-option",
        action="append",
        default=[],
        metavar="POLICY.OPTION=VALUE",
        help="a constructor option of one policy (repeatable), e.g. las.preempt_gap=1; applies"
        " to the policy table, the speed run and the decision latency",
    )
    parser.add_argument(
        "--speed-policies", default="fifo,easy-backfill,las", help="policies for the speed run"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated sections to skip: policies,speed,latency,estimates,reservations",
    )
    args = parser.parse_args(argv)
    policies = [name for name in args.policies.split(",") if name]
    skip = set(args.skip.split(","))
    options = policy_options(args.policy_option)
    traces = load_traces(args.traces_dir, args.quick, args.jobs)
    if "policies" not in skip:
        results = policy_table(
            traces,
            policies,
            args.load,
            args.restart_cost,
            (args.devices_per_node, args.devices),
            options,
        )
        targets(results)
    if "speed" not in skip:
        speed_policies = [p for p in args.speed_policies.split(",") if p in policies]
        simulator_speed(20_000 if args.quick else 100_000, speed_policies, options)
    if "latency" not in skip:
        decision_latency(
            [p for p in policies if not POLICIES[p].oracle], 5 if args.quick else 30, options
        )
    if "reservations" not in skip:
        reservation_lending(
            args.traces_dir,
            [p for p in ("easy-backfill", "las") if p in policies] or policies[:1],
            args.quick,
        )
    if "estimates" not in skip:
        estimate_accuracy(
            traces["gavel-philly"],
            "easy-backfill" if "easy-backfill" in policies else policies[0],
            args.load,
            50 if args.quick else 200,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
