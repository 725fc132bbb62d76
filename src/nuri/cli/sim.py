"""``nuri sim``: replay a trace on a cluster spec under one policy, or compare several.

Runs locally (no server): the simulator calls the same policy functions the live service does.
``--json`` prints exactly the metric keys documented in ``docs/scheduling.md``.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nuri.cli.render import errors, print_json, print_table
from nuri.domain.cluster_spec import ClusterSpec, load_cluster_spec
from nuri.domain.errors import InvalidInput
from nuri.policy.registry import POLICIES, PolicyContext, policy_named

if TYPE_CHECKING:  # the simulator pulls in NumPy and pandas: load them only when simulating
    from nuri.sim.metrics import Metrics
    from nuri.sim.simulator import SimResult
    from nuri.sim.workload import Workload


def simulate(
    cluster: ClusterSpec, workload: "Workload", policy_name: str, *, restart_cost_s: float
) -> "tuple[SimResult, Metrics]":
    """Run one policy on a workload and measure it."""
    from nuri.sim.metrics import compute_metrics
    from nuri.sim.simulator import Simulator

    context = PolicyContext(
        oracle_work_s={job.job_id: job.work_s for job in workload.jobs}
        if POLICIES[policy_name].oracle
        else None,
        restart_cost_s=restart_cost_s,
    )
    policy = policy_named(policy_name, context)
    result = Simulator(cluster, policy, shares=workload.shares, restart_cost_s=restart_cost_s).run(
        workload.jobs
    )
    metrics = compute_metrics(
        result.outcomes,
        result.segments,
        total_devices=cluster.devices,
        awards=workload.group_shares(),
        sim_wall_s=result.wall_s,
    )
    return result, metrics


def sim(
    cluster: Annotated[Path, typer.Option(help="Cluster spec YAML (hubs and pools).")],
    trace: Annotated[Path, typer.Option(help="Trace in the common schema (.csv or .parquet).")],
    policy: Annotated[str, typer.Option(help="Policy to run (see --list).")] = "fifo",
    compare: Annotated[
        bool, typer.Option("--compare", help="Run several policies (see --policies).")
    ] = False,
    policies: Annotated[
        str | None, typer.Option(help="Comma-separated policies for --compare (default: all).")
    ] = None,
    awards: Annotated[
        Path | None, typer.Option(help="CSV 'group,share' of awarded shares (default: equal).")
    ] = None,
    restart_cost: Annotated[
        float, typer.Option(help="Seconds a preempted job loses to checkpoint and restart.")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed for deriving missing time limits.")] = 0,
    schedule_out: Annotated[
        Path | None,
        typer.Option(help="Write every run segment as CSV (with --compare: one file per policy)."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a JCT CDF chart (.png or .html).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Simulate a trace on a cluster and print the scheduling metrics."""
    from nuri.sim.metrics import write_segments_csv
    from nuri.sim.workload import build_workload, load_awards
    from nuri.traces.schema import read_trace
    from nuri.traces.time_limits import with_time_limits

    spec = load_cluster_spec(cluster)
    frame = with_time_limits(read_trace(trace), seed=seed)
    workload = build_workload(frame, spec, awards=load_awards(awards) if awards else None)
    if workload.dropped:
        dropped = ", ".join(f"{count} {reason}" for reason, count in workload.dropped.items())
        errors.print(f"nuri sim: left out {dropped}", markup=False)
    names = _policies(policies) if compare else [policy]
    for name in names:
        if name not in POLICIES:
            raise InvalidInput(f"unknown policy {name!r}; known policies: {', '.join(POLICIES)}")
    results: dict[str, tuple[SimResult, Metrics]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} policies"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    ) as progress:
        task = progress.add_task(f"simulating {len(workload.jobs)} jobs", total=len(names))
        for name in names:
            progress.update(task, description=f"simulating {len(workload.jobs)} jobs: {name}")
            results[name] = simulate(spec, workload, name, restart_cost_s=restart_cost)
            progress.advance(task)
    if schedule_out is not None:
        for name, (result, _) in results.items():
            target = schedule_out if not compare else schedule_out.with_suffix(f".{name}.csv")
            write_segments_csv(result.segments, target)
    if plot is not None:
        from nuri.sim.plots import jct_cdf_figure, write_figure

        jcts = {
            name: [o.end_s - o.submit_s for o in result.outcomes if o.end_s is not None]
            for name, (result, _) in results.items()
        }
        write_figure(jct_cdf_figure(jcts, f"JCT on {trace.name}"), plot)
    if as_json:
        if compare:
            print_json({name: metrics.to_json() for name, (_, metrics) in results.items()})
        else:
            print_json(results[policy][1].to_json())
        return
    _print_metrics(results, len(workload.jobs))


def _policies(text: str | None) -> list[str]:
    if text is None:
        return list(POLICIES)
    return [name.strip() for name in text.split(",") if name.strip()]


def _print_metrics(results: "dict[str, tuple[SimResult, Metrics]]", jobs: int) -> None:
    rows = []
    for name, (result, m) in results.items():
        rows.append(
            [
                name,
                f"{m.avg_jct_s / 3600:,.2f}",
                f"{m.p50_jct_s / 3600:,.2f}",
                f"{m.p99_jct_s / 3600:,.1f}",
                f"{m.avg_wait_s / 3600:,.2f}",
                f"{m.mean_bounded_slowdown:,.1f}",
                f"{m.utilization:.3f}",
                f"{m.jain_fairness:.3f}",
                f"{m.allocation_adherence:.3f}",
                f"{result.preemptions / max(1, jobs):.2f}",
                f"{m.timeouts:,}",
                f"{m.sim_wall_s:.1f}",
            ]
        )
    print_table(
        f"Simulated {jobs} jobs",
        [
            "Policy",
            "Avg JCT h",
            "p50 JCT h",
            "p99 JCT h",
            "Avg wait h",
            "Mean BSLD",
            "Util",
            "Jain",
            "Adherence",
            "Preempt/job",
            "Timeouts",
            "Wall s",
        ],
        rows,
    )
