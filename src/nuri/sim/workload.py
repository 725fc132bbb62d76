"""Turning a trace in the common schema into the simulator's jobs, groups and award shares."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nuri.domain.cluster_spec import ClusterSpec
from nuri.domain.errors import InvalidInput
from nuri.sim.simulator import SimJob


@dataclass(frozen=True)
class Workload:
    """Jobs ready to simulate; ``groups`` maps each group name to its project id (1-based)."""

    jobs: tuple[SimJob, ...]
    groups: Mapping[str, int]
    shares: Mapping[int, float]
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Jobs left out, by reason (e.g. larger than any pool they accept)."""

    def group_shares(self) -> dict[str, float]:
        names = {project_id: name for name, project_id in self.groups.items()}
        return {names[project_id]: share for project_id, share in self.shares.items()}


def load_awards(path: Path) -> dict[str, float]:
    """Read ``group,share`` lines (shares need not sum to 1; they are normalised)."""
    try:
        frame = pd.read_csv(path, dtype={"group": str})
    except FileNotFoundError:
        raise InvalidInput(f"no awards file at {path}") from None
    if list(frame.columns[:2]) != ["group", "share"]:
        raise InvalidInput(f"{path} must have the columns group,share")
    if (frame["share"] < 0).any() or frame["group"].duplicated().any():
        raise InvalidInput(f"{path}: shares must be non-negative and groups listed once")
    return {
        str(group): float(share)
        for group, share in zip(frame["group"], frame["share"], strict=True)
    }


def build_workload(
    trace: pd.DataFrame, cluster: ClusterSpec, *, awards: Mapping[str, float] | None = None
) -> Workload:
    """Map trace rows to jobs on ``cluster``.

    ``gpu_type`` empty means any pool; a pool's name pins the job to it; otherwise it is an
    accelerator class (``'A|B'`` for either). Jobs that cannot fit any pool they accept, or
    whose accelerator the cluster lacks, are dropped and counted. ``time_limit_s`` must be
    present (see :func:`nuri.traces.time_limits.with_time_limits`). Awards default to equal
    shares per group; they are normalised over the groups of the trace.
    """
    if "time_limit_s" not in trace.columns or trace["time_limit_s"].isna().any():
        raise InvalidInput("the trace needs time_limit_s for every job; derive them first")
    names = sorted(str(group) for group in trace["group"].unique())
    groups = {name: index + 1 for index, name in enumerate(names)}
    pool_by_name = {pool.name: pool for pool in cluster.pools}
    accelerators = {pool.accelerator for pool in cluster.pools}
    largest_by_accelerator: dict[str, int] = {}
    for pool in cluster.pools:
        largest_by_accelerator[pool.accelerator] = max(
            largest_by_accelerator.get(pool.accelerator, 0), pool.devices
        )
    largest = max(pool.devices for pool in cluster.pools)
    has_class = "job_class" in trace.columns
    jobs: list[SimJob] = []
    dropped: dict[str, int] = {}
    columns = [
        trace[c].to_numpy()
        for c in (
            "job_id",
            "group",
            "submit_time_s",
            "duration_s",
            "num_gpus",
            "gpu_type",
            "time_limit_s",
        )
    ]
    classes = trace["job_class"].to_numpy() if has_class else None
    for row, (trace_id, group, submit, duration, gpus, gpu_type, limit) in enumerate(
        zip(*columns, strict=True)
    ):
        gpu_type = "" if not isinstance(gpu_type, str) else gpu_type.strip()
        pool_id: int | None = None
        accelerator: str | None = None
        capacity = largest
        if gpu_type in pool_by_name:
            pool_id = pool_by_name[gpu_type].pool_id
            capacity = pool_by_name[gpu_type].devices
        elif gpu_type:
            wanted = [part.strip().upper() for part in gpu_type.split("|") if part.strip()]
            present = [part for part in wanted if part in accelerators]
            if not present:
                dropped["accelerator not in cluster"] = (
                    dropped.get("accelerator not in cluster", 0) + 1
                )
                continue
            accelerator = "|".join(present)
            capacity = max(largest_by_accelerator[part] for part in present)
        if int(gpus) > capacity:
            dropped["larger than any pool it accepts"] = (
                dropped.get("larger than any pool it accepts", 0) + 1
            )
            continue
        jobs.append(
            SimJob(
                job_id=len(jobs) + 1,
                trace_id=str(trace_id),
                group=str(group),
                project_id=groups[str(group)],
                submit_s=float(submit),
                work_s=float(duration),
                devices=int(gpus),
                time_limit_s=math.ceil(float(limit)),
                pool_id=pool_id,
                accelerator=accelerator,
                job_class=str(classes[row]) if classes is not None else "",
            )
        )
    raw = (
        {name: 1.0 for name in names}
        if awards is None
        else {name: float(awards.get(name, 0.0)) for name in names}
    )
    total = sum(raw.values())
    if total <= 0:
        raise InvalidInput("the awards give no group of this trace a positive share")
    shares = {groups[name]: value / total for name, value in raw.items()}
    return Workload(jobs=tuple(jobs), groups=groups, shares=shares, dropped=dropped)
