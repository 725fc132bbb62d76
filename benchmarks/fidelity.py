"""Simulator fidelity: the same compressed trace through real Slurm and through the simulator.

The first jobs (by arrival) of the Gavel Philly-derived trace, compressed to seconds: arrivals
spread over ``--span`` seconds in their original order and spacing (scaled), run times mapped
log-linearly onto 3-25 s, GPU counts capped at a node (4). Three projects with equal fair-share
shares, one 2-node x 4-GPU H100 partition, a 1-minute time limit for every job (Slurm keeps
limits in whole minutes).

1. Real Slurm in ``native`` mode (``nuri slurm-dev up`` on its own ports and database): each job
   is submitted with ``sbatch`` at its arrival time and runs ``sleep``; Slurm's multifactor
   priority (with nuri's weights, see ``nuri.slurm.config``) and backfill decide.
2. The simulator with nuri's ``slurm-multifactor`` policy on the same cluster spec, given the
   arrivals Slurm recorded and the run times Slurm measured.

Printed: a table per job class and, as the last line,
``kendall_tau=X wait_mae_s=Y mean_wait_s=Z`` (Kendall's tau-b between the two start orders, the
mean absolute difference of waits, and Slurm's mean wait). Needs root (it starts Slurm).

    .venv/bin/python benchmarks/fidelity.py [--jobs 60] [--span 60]
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nuri.domain.cluster_spec import load_cluster_spec
from nuri.policy.registry import policy_named
from nuri.sim.simulator import SimJob, Simulator
from nuri.slurm.accounts import SlurmAccount, apply_accounts
from nuri.slurm.commands import AccountingRecord, SlurmTools
from nuri.slurm.config import CPUS_PER_DEVICE
from nuri.traces.gavel import load_gavel_philly

TRACE = Path(__file__).resolve().parents[2] / "shared" / "traces" / "gavel-philly-derived"
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "traces" / "gavel-philly"
PROJECTS = ("proj-a", "proj-b", "proj-c")
SPEC = """\
hubs:
  - name: ksc
    pools:
      - {name: h100, accelerator: H100, nodes: 2, devices_per_node: 4, h100_equivalent: 1.0}
"""
PORT_BASE = 8817
CLUSTER = "nurifid"


def compressed_jobs(count: int, span_s: float) -> list[tuple[float, float, int, str]]:
    """``(arrival_s, run_s, gpus, project)`` of the first ``count`` jobs, compressed."""
    directory = TRACE if TRACE.exists() else SAMPLE
    trace = load_gavel_philly(directory, missing="extrapolate").sort_values("submit_time_s")
    trace = trace.head(count)
    submit = trace["submit_time_s"].to_numpy(dtype=float)
    submit = submit - submit[0]
    arrivals = submit / max(submit[-1], 1.0) * span_s
    durations = np.log(np.maximum(trace["duration_s"].to_numpy(dtype=float), 1.0))
    low, high = durations.min(), durations.max()
    runs = 3.0 + 22.0 * (durations - low) / max(high - low, 1e-9)
    gpus = np.minimum(trace["num_gpus"].to_numpy(dtype=int), 4)
    groups = sorted(trace["group"].unique())
    project = {group: PROJECTS[index % len(PROJECTS)] for index, group in enumerate(groups)}
    return [
        (float(a), round(float(r), 1), int(g), project[group])
        for a, r, g, group in zip(arrivals, runs, gpus, trace["group"], strict=True)
    ]


def run_on_slurm(
    jobs: list[tuple[float, float, int, str]], state: Path
) -> tuple[list[AccountingRecord], float]:
    spec = state / "cluster.yaml"
    spec.write_text(SPEC)
    nuri = [str(Path(sys.executable).parent / "nuri"), "slurm-dev"]
    args = ["--spec", str(spec), "--state-dir", str(state / "slurm")]
    args += ["--port-base", str(PORT_BASE), "--cluster-name", CLUSTER]
    begun = time.monotonic()
    up = subprocess.run([*nuri, "up", *args], capture_output=True, text=True, check=False)
    start_s = time.monotonic() - begun
    if up.returncode != 0:
        raise SystemExit(f"nuri slurm-dev up failed: {up.stderr}")
    tools = SlurmTools(state / "slurm" / "slurm.conf")
    try:
        apply_accounts(
            tools,
            [SlurmAccount(p, 1, f"nuri-{p}", 10**9, 0) for p in PROJECTS],
        )
        tag = f"fid{int(time.time())}"
        ids: list[int] = []
        t0 = time.monotonic()
        for index, (arrival, run_s, gpus, project) in enumerate(jobs):
            delay = t0 + arrival - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            slurm_id = tools.sbatch(
                [
                    f"--job-name={tag}-{index}",
                    f"--account={project}",
                    "--partition=h100",
                    f"--gres=gpu:h100:{gpus}",
                    f"--cpus-per-task={CPUS_PER_DEVICE * gpus}",  # as the Slurm backend asks
                    "--time=1",
                    "--output=/dev/null",
                ],
                f"#!/bin/sh\nsleep {run_s}\n",
            )
            ids.append(slurm_id)
        deadline = time.monotonic() + 900
        while True:
            records = tools.sacct(job_ids=ids)
            if len(records) == len(ids) and all(r.end is not None for r in records):
                break
            if time.monotonic() > deadline:
                raise SystemExit("Slurm did not finish the jobs within 15 minutes")
            time.sleep(2)
        order = {slurm_id: index for index, slurm_id in enumerate(ids)}
        return sorted(records, key=lambda r: order[r.slurm_id]), start_s
    finally:
        subprocess.run([*nuri, "down", *args], capture_output=True, check=False)


def simulate(
    jobs: list[tuple[float, float, int, str]], records: list[AccountingRecord], state: Path
) -> list[float]:
    spec = state / "cluster.yaml"
    cluster = load_cluster_spec(spec)
    base = min(r.submit for r in records if r.submit is not None)
    project_id = {p: index + 1 for index, p in enumerate(PROJECTS)}
    sim_jobs = [
        SimJob(
            job_id=index,
            trace_id=str(record.slurm_id),
            group=project,
            project_id=project_id[project],
            submit_s=(record.submit - base).total_seconds() if record.submit else 0.0,
            work_s=float(max(record.elapsed_s, 1)),
            devices=gpus,
            time_limit_s=60,
            pool_id=1,
        )
        for index, ((_, _, gpus, project), record) in enumerate(zip(jobs, records, strict=True))
    ]
    simulator = Simulator(
        cluster, policy_named("slurm-multifactor"), shares={i: 1.0 for i in project_id.values()}
    )
    result = simulator.run(sim_jobs)
    return [result.first_start[index] for index in range(len(sim_jobs))]


def kendall_tau_b(x: list[float], y: list[float]) -> float:
    """Kendall's tau-b (ties counted as in scipy.stats.kendalltau)."""
    a, b = np.asarray(x), np.asarray(y)
    dx = np.sign(a[:, None] - a[None, :])
    dy = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), 1)
    concordance = (dx * dy)[upper].sum()
    tied_x = (dx[upper] == 0).sum()
    tied_y = (dy[upper] == 0).sum()
    pairs = len(upper[0])
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return float(concordance / denominator) if denominator else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--span", type=float, default=60.0, help="arrival window, seconds")
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the fidelity benchmark starts Slurm and needs root")
    jobs = compressed_jobs(options.jobs, options.span)
    with tempfile.TemporaryDirectory(prefix="nuri-fidelity-") as directory:
        state = Path(directory)
        records, start_s = run_on_slurm(jobs, state)
        simulated = simulate(jobs, records, state)
    base = min(r.submit for r in records if r.submit is not None)
    real_start = [((r.start or base) - base).total_seconds() for r in records]
    real_wait = [((r.start or base) - (r.submit or base)).total_seconds() for r in records]
    sim_submit = [((r.submit or base) - base).total_seconds() for r in records]
    sim_wait = [s - t for s, t in zip(simulated, sim_submit, strict=True)]
    tau = kendall_tau_b(real_start, simulated)
    mae = float(np.mean(np.abs(np.asarray(real_wait) - np.asarray(sim_wait))))
    mean_wait = float(np.mean(real_wait))
    table = Table(title=f"Slurm vs simulator, {len(records)} jobs", title_justify="left")
    for column in ("GPUs", "jobs", "Slurm mean wait s", "sim mean wait s", "MAE s"):
        table.add_column(column, justify="right")
    for gpus in sorted({g for _, _, g, _ in jobs}):
        rows = [i for i, job in enumerate(jobs) if job[2] == gpus]
        real = np.asarray([real_wait[i] for i in rows])
        sim = np.asarray([sim_wait[i] for i in rows])
        table.add_row(
            str(gpus),
            str(len(rows)),
            f"{real.mean():.1f}",
            f"{sim.mean():.1f}",
            f"{np.abs(real - sim).mean():.1f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print(f"Slurm start (nuri slurm-dev up to all nodes idle): {start_s:.1f} s")
    sys.stdout.write(f"kendall_tau={tau:.3f} wait_mae_s={mae:.2f} mean_wait_s={mean_wait:.2f}\n")


if __name__ == "__main__":
    main()
