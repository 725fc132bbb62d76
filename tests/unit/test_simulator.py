"""The simulator under every registered policy: determinism, work accounting, feasibility,
causality, reservations, and metrics on hand-computed runs.

The random workloads are small (up to a dozen jobs on one or two pools of H100-equivalent
speed, so a job's run time equals its work); every job's time limit leaves room for its work
plus restarts, so every job must finish. A policy whose module is not written yet is skipped.
"""

import math
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec, ReservationSpec
from nuri.domain.commons import Tier
from nuri.policy.las import Las
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import ClusterSnapshot, Decision, GroupUsage, Policy
from nuri.sim.metrics import Segment, check_schedule, compute_metrics
from nuri.sim.oracle import oracle_context
from nuri.sim.simulator import RUN_TIMES_REFRESH, GroupUsages, SimJob, SimResult, Simulator
from tests.unit.test_policy_invariants import build as build_registered

RESTART_S = 30.0


def spec(
    *pools: tuple[str, str, int, int],
    reserve: tuple[int, tuple[tuple[float, int], ...]] | None = None,
) -> ClusterSpec:
    """A cluster of ``(name, accelerator, nodes, devices per node)`` pools, all of speed 1
    (H100-equivalent 1.0); ``reserve = (nodes, demand steps)`` holds the first nodes of the
    first pool for a service."""
    built = tuple(
        PoolSpec(index + 1, "hub", name, accelerator, nodes, per_node, 1000, 0)
        for index, (name, accelerator, nodes, per_node) in enumerate(pools)
    )
    reservations: tuple[ReservationSpec, ...] = ()
    if reserve is not None:
        reservations = (ReservationSpec(1, "svc", built[0].name, reserve[0], reserve[1]),)
    return ClusterSpec(pools=built, reservations=reservations)


def job(
    job_id: int,
    submit: float,
    work: float,
    devices: int = 1,
    *,
    accelerator: str | None = None,
    group: str = "a",
    limit: int | None = None,
) -> SimJob:
    """A job of group ``group`` whose limit leaves room for its work and restarts."""
    return SimJob(
        job_id=job_id,
        trace_id=f"j{job_id}",
        group=group,
        project_id=1 if group == "a" else 2,
        submit_s=submit,
        work_s=work,
        devices=devices,
        time_limit_s=limit if limit is not None else math.ceil(2 * work + 1000),
        accelerator=accelerator,
    )


def make(name: str, jobs: list[SimJob]) -> Policy:
    """The registered policy ``name`` as the simulator would build it (skipped if missing)."""
    if POLICIES[name].oracle:
        build_registered(name)  # skips if not written yet
        return policy_named(name, oracle_context(jobs, restart_cost_s=RESTART_S))
    return build_registered(name)


def simulate(cluster: ClusterSpec, policy: Policy, jobs: list[SimJob]) -> SimResult:
    return Simulator(cluster, policy, shares={1: 0.5, 2: 0.5}, restart_cost_s=RESTART_S).run(jobs)


@st.composite
def workloads(draw: st.DrawFn) -> tuple[ClusterSpec, list[SimJob]]:
    """One or two pools (H100, A100) of 1-3 nodes of 1-4 devices, and 1-12 jobs that fit, some
    naming an accelerator class, in two groups."""
    pools = [("h100", "H100", draw(st.integers(1, 3)), draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        pools.append(("a100", "A100", draw(st.integers(1, 3)), draw(st.integers(1, 4))))
    cluster = spec(*pools)
    smallest = min(nodes * per_node for _, _, nodes, per_node in pools)
    jobs = []
    for job_id in range(1, draw(st.integers(1, 12)) + 1):
        accelerator = draw(st.sampled_from([None, None, "H100", "H100|A100"]))
        if accelerator == "H100|A100" and len(pools) == 1:
            accelerator = None
        capacity = pools[0][2] * pools[0][3] if accelerator == "H100" else smallest
        jobs.append(
            job(
                job_id,
                submit=float(draw(st.integers(0, 2000))),
                work=float(draw(st.integers(1, 3000))),
                devices=draw(st.integers(1, capacity)),
                accelerator=accelerator,
                group=draw(st.sampled_from(["a", "b"])),
            )
        )
    return cluster, jobs


SIM_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def useful_time(segments: list[Segment]) -> float:
    """Seconds of useful work in a job's segments: every attempt after the first first pays the
    restart cost (an attempt shorter than that did nothing)."""
    ordered = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    return sum(
        max(0.0, s.end_s - s.start_s - (RESTART_S if index else 0.0))
        for index, s in enumerate(ordered)
    )


@pytest.mark.parametrize("name", sorted(POLICIES))
@SIM_SETTINGS
@given(case=workloads())
def test_simulation_invariants(name: str, case: tuple[ClusterSpec, list[SimJob]]) -> None:
    """Under every policy: two runs give identical segments and outcomes; every job finishes,
    never starts before it arrives, and its segments hold exactly its work plus one restart cost
    per preemption; no pool is ever over-committed (check_schedule)."""
    cluster, jobs = case
    first = simulate(cluster, make(name, jobs), jobs)
    second = simulate(cluster, make(name, jobs), jobs)
    assert first.segments == second.segments
    assert first.outcomes == second.outcomes

    check_schedule(first.segments, {pool.name: pool.devices for pool in cluster.pools})
    by_job: dict[str, list[Segment]] = {}
    for segment in first.segments:
        by_job.setdefault(segment.job_id, []).append(segment)
    for sim_job, outcome in zip(jobs, first.outcomes, strict=True):
        assert outcome.job_id == sim_job.trace_id
        assert outcome.end_s is not None, f"{name}: {sim_job} never finished"
        assert outcome.first_start_s is not None and outcome.first_start_s >= sim_job.submit_s
        segments = by_job[sim_job.trace_id]
        assert all(s.start_s >= sim_job.submit_s for s in segments)
        assert all(s.devices == sim_job.devices for s in segments)
        assert len(segments) == outcome.preemptions + 1
        assert useful_time(segments) == pytest.approx(sim_job.work_s, abs=1e-6, rel=1e-9)
        assert max(s.end_s for s in segments) == pytest.approx(outcome.end_s)
    if not make(name, jobs).preemptive:
        assert first.preemptions == 0


@pytest.mark.parametrize("name", sorted(POLICIES))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    demand=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 8)),
        min_size=1,
        max_size=4,
        unique_by=lambda s: s[0],
    ),
    sizes=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(1, 4000), st.integers(1, 8)),
        min_size=1,
        max_size=10,
    ),
)
def test_reservation_demand_is_always_met(
    name: str, demand: list[tuple[int, int]], sizes: list[tuple[int, int, int]]
) -> None:
    """A service holding 2 nodes of 4 devices always gets the devices it wants (at most 8):
    borrowers are preempted when it needs them back, so its shortfall is zero; and the schedule
    stays feasible."""
    steps = tuple(sorted((float(at), devices) for at, devices in demand))
    cluster = spec(("h100", "H100", 4, 4), reserve=(2, steps))
    jobs = [
        job(i + 1, float(at), float(work), devices) for i, (at, work, devices) in enumerate(sizes)
    ]
    result = simulate(cluster, make(name, jobs), jobs)
    assert result.service_shortfall_device_s == 0.0
    check_schedule(result.segments, {"h100": 16})
    assert all(outcome.end_s is not None for outcome in result.outcomes)


def test_two_jobs_fifo_metrics_by_hand() -> None:
    """One device; A (submit 0, 100 s) then B (submit 10, 50 s) under FIFO.

    A runs [0, 100), B [100, 150): JCT 100 and 140 (avg 120, p50 120), waits 0 and 90, bounded
    slowdowns 1 and 140/50 = 2.8 (mean 1.9), makespan 150, utilization 150/150 = 1, each group
    gets half (Jain 1 with equal awards, adherence |0.667 - 0.5| on average)."""
    cluster = spec(("h100", "H100", 1, 1))
    jobs = [job(1, 0.0, 100.0, group="a"), job(2, 10.0, 50.0, group="b")]
    result = simulate(cluster, policy_named("fifo"), jobs)
    assert [(s.job_id, s.start_s, s.end_s) for s in result.segments] == [
        ("j1", 0.0, 100.0),
        ("j2", 100.0, 150.0),
    ]
    metrics = compute_metrics(result.outcomes, result.segments, total_devices=1)
    assert metrics.avg_jct_s == pytest.approx(120.0)
    assert metrics.p50_jct_s == pytest.approx(120.0)
    assert metrics.avg_wait_s == pytest.approx(45.0)
    assert metrics.mean_bounded_slowdown == pytest.approx(1.9)
    assert metrics.makespan_s == pytest.approx(150.0)
    assert metrics.utilization == pytest.approx(1.0)
    assert metrics.delivered_share == pytest.approx({"a": 100 / 150, "b": 50 / 150})
    assert metrics.allocation_adherence == pytest.approx(abs(100 / 150 - 0.5))
    assert metrics.preemptions_per_job == 0.0


def test_two_jobs_las_preemption_by_hand() -> None:
    """One device, LAS with one threshold of 20 device-seconds, no minimum run, any lower queue
    preemptible (preempt_gap 1), restart 30 s.

    A (submit 0, 100 s) runs from 0; B (submit 10, 50 s) arrives in queue 0 like A, so nothing
    happens until A reaches 20 device-s at t = 20 (the policy's wake-up): A drops to queue 1 and
    B preempts it. B runs [20, 70) (it crosses 20 device-s at 40, but A is in queue 1 too, so no
    preemption). A restarts at 70, pays 30 s, then has 80 s left: [70, 180).

    JCT: A 180, B 60 (avg 120); bounded slowdown A 1.8, B 1.2 (mean 1.5); A was preempted once
    (0.5 preemptions per job); utilization 180/180 = 1 (the restart counts as held devices)."""
    cluster = spec(("h100", "H100", 1, 1))
    jobs = [job(1, 0.0, 100.0), job(2, 10.0, 50.0)]
    policy = Las(
        PolicyContext(restart_cost_s=RESTART_S),
        thresholds_gpu_hours=(20.0 / 3600.0,),
        starve_limit=None,
        min_run_s=0.0,
        preempt_gap=1,
    )
    result = simulate(cluster, policy, jobs)
    assert [(s.job_id, s.start_s, s.end_s) for s in result.segments] == [
        ("j1", 0.0, 20.0),
        ("j2", 20.0, 70.0),
        ("j1", 70.0, 180.0),
    ]
    metrics = compute_metrics(result.outcomes, result.segments, total_devices=1)
    assert metrics.avg_jct_s == pytest.approx(120.0)
    assert metrics.mean_bounded_slowdown == pytest.approx(1.5)
    assert metrics.preemptions_per_job == pytest.approx(0.5)
    assert metrics.utilization == pytest.approx(1.0)
    assert result.preemptions == 1


def test_oracle_runs_the_short_job_first_by_hand() -> None:
    """SRTF oracle, one device: A (0, 1,000 s) runs; B (10, 50 s) preempts it at once (gain
    950 s > 2 x 30 s); A restarts at 60 with 30 s overhead and 990 s left, ending at 1,080."""
    cluster = spec(("h100", "H100", 1, 1))
    jobs = [job(1, 0.0, 1000.0), job(2, 10.0, 50.0)]
    result = simulate(
        cluster, policy_named("srtf-oracle", oracle_context(jobs, restart_cost_s=RESTART_S)), jobs
    )
    assert [(s.job_id, s.start_s, s.end_s) for s in result.segments] == [
        ("j1", 0.0, 10.0),
        ("j2", 10.0, 60.0),
        ("j1", 60.0, 1080.0),
    ]


def test_tiers_pass_through_to_policies() -> None:
    """A strategic job submitted with a general one at the same time starts first under LAS."""
    cluster = spec(("h100", "H100", 1, 1))
    jobs = [job(1, 0.0, 10.0), replace(job(2, 0.0, 10.0), tier=Tier.STRATEGIC)]
    result = simulate(cluster, Las(PolicyContext(restart_cost_s=RESTART_S)), jobs)
    assert [s.job_id for s in result.segments] == ["j2", "j1"]


class _Recording:
    """FIFO that keeps every snapshot it is asked to decide on."""

    name = "recording"
    preemptive = False

    def __init__(self) -> None:
        self.inner = policy_named("fifo", PolicyContext())
        self.snapshots: list[ClusterSnapshot] = []

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        self.snapshots.append(snapshot)
        return self.inner.decide(snapshot)

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:
        return self.inner.wake_at(snapshot)


def test_snapshots_learn_run_times_only_of_jobs_that_have_ended() -> None:
    """Each ended job's limit and run time reach the snapshots' history, every
    RUN_TIMES_REFRESH ends; a run time appears only after its job ended, and only its own."""
    jobs = [
        job(i, submit=float(i), work=100.0 + i, limit=3_600)
        for i in range(2 * RUN_TIMES_REFRESH + RUN_TIMES_REFRESH // 2)
    ]
    policy = _Recording()
    result = Simulator(spec(("p", "H100", 1, 1)), policy, restart_cost_s=RESTART_S).run(jobs)
    ends = {o.job_id: o.end_s for o in result.outcomes if o.end_s is not None}
    assert len(ends) == len(jobs)
    run_of = {f"j{j.job_id}": j.work_s for j in jobs}
    seen = 0
    for snapshot in policy.snapshots:
        runs = snapshot.history.run_times_s.get(3_600, ())
        assert len(runs) % RUN_TIMES_REFRESH == 0 and len(runs) >= seen
        seen = len(runs)
        ended = sorted((end, run_of[job_id]) for job_id, end in ends.items() if end <= snapshot.now)
        assert runs == tuple(run for _, run in ended[: len(runs)])
    assert seen == 2 * RUN_TIMES_REFRESH


def test_snapshot_group_usage_is_the_usage_at_its_instant() -> None:
    """The groups a snapshot carries hold each group's share, decayed usage and delivered
    device-seconds at that snapshot's instant, read back the same whenever they are first read
    (the records are built on first reading), and a snapshot read only after the run ended
    still shows its own instant."""
    cluster = spec(("h100", "H100", 1, 2))
    jobs = [job(1, 0.0, 3_600.0, group="a"), job(2, 0.0, 3_600.0, group="b"), job(3, 10.0, 50.0)]
    policy = _Recording()
    result = Simulator(cluster, policy, shares={1: 0.75, 2: 0.25}).run(jobs)
    assert result.outcomes
    later = policy.snapshots[-1]
    assert later.now == 3_600.0
    usage = dict(later.groups)
    assert set(usage) == {1, 2}
    assert usage[1].share == 0.75 and usage[2].share == 0.25
    # both groups ran one device from 0 to 3,600 s: delivered undecayed, decayed a little less
    for group in (1, 2):
        assert usage[group].project_id == group
        assert usage[group].delivered == pytest.approx(3_600.0)
        assert 0.0 < usage[group].decayed_usage < 3_600.0
    first = policy.snapshots[0]
    assert first.now == 0.0
    assert {g: (u.delivered, u.decayed_usage) for g, u in first.groups.items()} == {
        1: (0.0, 0.0),
        2: (0.0, 0.0),
    }
    assert later.groups == usage and len(later.groups) == 2


@given(
    shares=st.dictionaries(st.integers(0, 20), st.floats(0.0, 1.0), max_size=6),
    decayed=st.dictionaries(st.integers(0, 20), st.floats(0.0, 1e9), max_size=6),
    delivered=st.dictionaries(st.integers(0, 20), st.floats(0.0, 1e9), max_size=6),
)
def test_group_usages_read_as_the_dict_of_their_records(
    shares: dict[int, float], decayed: dict[int, float], delivered: dict[int, float]
) -> None:
    """The snapshot's lazily built groups answer every way of reading a mapping as the plain
    dict of records would: a group with a share or usage, its share, decayed usage and
    delivered service, 0 where it has none."""
    delivered = {group: value for group, value in delivered.items() if group in decayed}
    usages = GroupUsages(shares, dict(decayed), dict(delivered))
    expected = {
        group: GroupUsage(
            group, shares.get(group, 0.0), decayed.get(group, 0.0), delivered.get(group, 0.0)
        )
        for group in set(shares) | set(decayed)
    }
    assert dict(usages) == expected
    assert sorted(usages.keys()) == sorted(expected.keys())
    assert sorted(usages.values(), key=lambda usage: usage.project_id) == sorted(
        expected.values(), key=lambda usage: usage.project_id
    )
    assert dict(usages.items()) == expected
    assert len(usages) == len(expected)
    assert all(usages[group] == record for group, record in expected.items())
    assert usages.get(99) is None and (99 in usages) is False
