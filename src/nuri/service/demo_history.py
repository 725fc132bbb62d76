"""The demo commons' past: four weeks of simulated history, so that reports, forecasts and
dashboards have something to show on a fresh demo.

It is simulated, and says so: every job is named ``history-<n>``, every charge goes to an
allocation noted "demo history (simulated)", and nothing else of the demo depends on it.

How it is made, with the project's own parts rather than invented rows:

1. **Demand profile** per pool, hourly, in the pool's devices: a base load, a working-day bump
   (09:00-19:00 KST, Monday to Friday), quiet nights and weekends, a gentle upward trend over
   the four weeks, and a popularity per pool (the H100s are asked for most). The profile is a
   :class:`~nuri.forecasting.forecast.Forecast` with a +-20% band.
2. **Jobs** are sampled from it by :func:`nuri.planning.demand_sampling.sample_demand` (the
   capacity planner's sampler): job shapes from the documented synthetic model, at most one
   node and one day each.
3. **Schedule**: the simulator runs them on the demo pools with the live policy, the same code
   that schedules live jobs.
4. **Record**: each simulated job becomes an ended job (COMPLETED, or TIMEOUT at its limit) and
   each run segment a ledger charge at the pool's rate and price. Jobs still waiting or running
   at the moment the demo starts are recorded as CANCELLED then, charged for what they ran.
"""

import math
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.cluster_spec import ClusterSpec
from nuri.domain.jobs import JobState
from nuri.domain.units import cost_krw, h100e_units
from nuri.forecasting.forecast import Forecast, ForecastPoint
from nuri.planning.demand_sampling import JobShapes, sample_demand, synthetic_shapes
from nuri.policy.registry import policy_named
from nuri.sim.metrics import Segment
from nuri.sim.simulator import SimJob, Simulator
from nuri.store import repository
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    JobRow,
    LedgerEntryRow,
    PoolRow,
    ProjectRow,
)

HISTORY_DAYS = 28
SEED = 2027
KST = timedelta(hours=9)
POPULARITY = {"H100": 0.55, "A100": 0.5, "RNGD": 0.4}
"""Working-hours demand as a share of each pool's devices, by accelerator (others: 0.6)."""
LONGEST_RUN_S = 86_400
"""History jobs run at most a day: week-long whole-node runs on two-node demo pools would block
a FIFO queue for days, which is a lesson, not a demo."""
NOTE = "demo history (simulated)"
PROJECTS_BY_POOL = {
    "h100-ksc": ["kiast-speech"],
    "a100-gwangju": ["hanbit-vision"],
    "rngd-gwangju": ["hanbit-vision"],
}
"""Whose history runs where. snu-nlp, the project of the README's first session, has none, so
its usage there starts from zero."""


def seed_demo_history(
    sessions: sessionmaker[Session], now: datetime, policy: str, pool_projects: dict[str, list[str]]
) -> int:
    """Record four weeks of simulated history before ``now``; returns how many jobs.

    ``pool_projects`` names, per pool, the projects whose jobs run there (in turn).
    """
    origin = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0, microsecond=0)
    with sessions.begin() as session:
        pools = list(session.scalars(select(PoolRow).order_by(PoolRow.id)))
        projects = {row.name: row for row in session.scalars(select(ProjectRow))}
        cluster = ClusterSpec(
            pools=tuple(repository.pool_spec_of(row, str(row.hub_id)) for row in pools)
        )
        jobs, owner = _sample_jobs(pools, pool_projects, projects, origin, now)
        result = Simulator(cluster, policy_named(policy, live=True)).run(jobs)
        horizon_s = (now - origin).total_seconds()
        segments: defaultdict[int, list[Segment]] = defaultdict(list)
        for segment in result.segments:
            if segment.start_s < horizon_s:
                segments[int(segment.job_id)].append(segment)
        allocations = _history_allocations(session, pools, pool_projects, projects, origin, now)
        outcomes = {outcome.job_id: outcome for outcome in result.outcomes}
        recorded: list[tuple[JobRow, SimJob, list[Segment]]] = []
        for job in jobs:
            if job.submit_s >= horizon_s:
                continue
            outcome = outcomes[job.trace_id]
            project = owner[job.job_id]
            runs = sorted(segments.get(job.job_id, []), key=lambda s: s.start_s)
            cut = outcome.end_s is None or outcome.end_s > horizon_s
            ended_s = horizon_s if cut else float(outcome.end_s or horizon_s)
            state = JobState.CANCELLED if cut else (
                JobState.TIMEOUT if outcome.timed_out else JobState.COMPLETED
            )  # fmt: skip
            row = JobRow(
                name=f"history-{job.job_id}",
                project_id=project.id,
                allocation_id=allocations[project.name].id,
                pool_id=job.pool_id,
                submitted_by=project.pi_user_id,
                command=["python", "train.py", "--demo-history"],
                devices=job.devices,
                time_limit_s=job.time_limit_s,
                hold_units=0,
                state=state.value,
                attempt=len(runs),
                attained_device_seconds=sum(
                    round(min(run.end_s, horizon_s) - run.start_s) * run.devices for run in runs
                ),
                submitted_at=origin + timedelta(seconds=job.submit_s),
                started_at=origin + timedelta(seconds=runs[-1].start_s) if runs else None,
                ended_at=origin + timedelta(seconds=ended_s),
                device_indices=[],
                exit_code=0 if state is JobState.COMPLETED else None,
                reason="cut at the start of the demo (simulated history)" if cut else None,
                preemptible=False,
            )
            recorded.append((row, job, runs))
        # One flush for all jobs (inserted in batches), then their charges: seconds, not minutes.
        session.add_all([row for row, _, _ in recorded])
        session.flush()
        by_pool = {row.id: row for row in pools}
        for row, _job, runs in recorded:
            pool = by_pool[row.pool_id or 0]
            for attempt, run in enumerate(runs, start=1):
                end_s = min(run.end_s, horizon_s)
                seconds = max(round(end_s - run.start_s), 0)
                session.add(
                    LedgerEntryRow(
                        job_id=row.id,
                        attempt=attempt,
                        allocation_id=row.allocation_id,
                        project_id=row.project_id,
                        pool_id=pool.id,
                        devices=run.devices,
                        seconds=seconds,
                        h100e_units=h100e_units(run.devices, seconds, pool.rate_milli),
                        cost_krw=cost_krw(run.devices, seconds, pool.krw_per_device_hour),
                        created_at=origin + timedelta(seconds=end_s),
                    )
                )
        session.flush()
        _award_what_was_used(session, allocations)
    return len(recorded)


def _profile(pool: PoolRow, origin: datetime, hours: int) -> Forecast:
    devices = pool.nodes * pool.devices_per_node
    peak = POPULARITY.get(pool.accelerator, 0.6) * devices
    points = []
    for hour in range(hours):
        moment = origin + timedelta(hours=hour)
        local = moment + KST
        weekday = local.weekday() < 5
        if weekday and 9 <= local.hour < 19:
            level = 1.0
        elif weekday and (7 <= local.hour < 9 or 19 <= local.hour < 23):
            level = 0.6
        else:
            level = 0.35
        trend = 0.85 + 0.3 * hour / hours
        mean = peak * level * trend
        points.append(ForecastPoint(moment, mean, 0.8 * mean, 1.2 * mean))
    return Forecast(
        series=f"pool:{pool.name}",
        unit="device-hours",
        step_s=3600,
        model="demo profile",
        backtest={},
        points=tuple(points),
    )


def _sample_jobs(
    pools: list[PoolRow],
    pool_projects: dict[str, list[str]],
    projects: dict[str, ProjectRow],
    origin: datetime,
    now: datetime,
) -> tuple[list[SimJob], dict[int, ProjectRow]]:
    hours = math.ceil((now - origin).total_seconds() / 3600)
    synthetic = synthetic_shapes(seed=SEED, jobs=5000)
    # Capped before sampling, so the sampler's arrivals follow the runs that will happen.
    shapes = JobShapes(
        devices=synthetic.devices,
        duration_s=np.minimum(synthetic.duration_s, LONGEST_RUN_S),
        time_limit_s=np.minimum(synthetic.time_limit_s, LONGEST_RUN_S),
        group=synthetic.group,
        group_names=synthetic.group_names,
        source=f"{synthetic.source}, runs of at most a day",
    )
    rng = np.random.default_rng(SEED)
    jobs: list[SimJob] = []
    owner: dict[int, ProjectRow] = {}
    for pool in pools:
        names = pool_projects.get(pool.name, [])
        if not names:
            continue
        sample = sample_demand(
            _profile(pool, origin, hours),
            shapes.at_most(pool.devices_per_node),
            rng,
            pool_id=pool.id,
            warmup_s=0,
        )
        for job in sample.jobs:
            job_id = len(jobs) + 1
            project = projects[names[job_id % len(names)]]
            limit = min(job.time_limit_s, pool.max_time_limit_s)
            jobs.append(
                replace(
                    job,
                    job_id=job_id,
                    trace_id=str(job_id),
                    group=project.name,
                    project_id=project.id,
                    work_s=min(job.work_s, float(limit)),
                    time_limit_s=limit,
                    preemptible=False,
                )
            )
            owner[job_id] = project
    jobs.sort(key=lambda job: (job.submit_s, job.job_id))
    return jobs, owner


def _history_allocations(
    session: Session,
    pools: list[PoolRow],
    pool_projects: dict[str, list[str]],
    projects: dict[str, ProjectRow],
    origin: datetime,
    now: datetime,
) -> dict[str, AllocationRow]:
    allocations: dict[str, AllocationRow] = {}
    for pool in pools:
        for name in pool_projects.get(pool.name, []):
            if name not in allocations:
                allocation = AllocationRow(
                    project_id=projects[name].id,
                    awarded_units=0,
                    starts_at=origin - timedelta(days=1),
                    ends_at=now,
                    tier="general",
                    note=NOTE,
                )
                session.add(allocation)
                session.flush()
                allocations[name] = allocation
            session.add(AllocationPoolRow(allocation_id=allocations[name].id, pool_id=pool.id))
    return allocations


def _award_what_was_used(session: Session, allocations: dict[str, AllocationRow]) -> None:
    """Each history award is exactly what its project used: spent to the last unit."""
    for allocation in allocations.values():
        used = session.scalar(
            select(func.coalesce(func.sum(LedgerEntryRow.h100e_units), 0)).where(
                LedgerEntryRow.allocation_id == allocation.id
            )
        )
        allocation.awarded_units = int(used or 0)
