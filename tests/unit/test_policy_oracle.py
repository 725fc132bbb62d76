"""The SRTF oracle: refused without true work, shortest remaining GPU-time first, no thrashing."""

import pytest

from nuri.domain.commons import Tier
from nuri.domain.errors import InvalidInput
from nuri.policy.cycle import plan
from nuri.policy.oracle import SrtfOracle
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import (
    ClusterSnapshot,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)
from nuri.sim.oracle import oracle_context
from nuri.sim.simulator import SimJob


def oracle(work: dict[int, float], restart_cost_s: float = 60.0) -> SrtfOracle:
    return SrtfOracle(PolicyContext(oracle_work_s=work, restart_cost_s=restart_cost_s))


def one_pool(devices: int, busy: tuple[int, ...] = ()) -> tuple[PoolState, ...]:
    free = tuple(i for i in range(devices) if i not in busy)
    return (PoolState(1, "pool-1", "H100", 1000, (NodeState("a", devices, free),)),)


def pending(job_id: int, devices: int = 1, attained: float = 0.0, submitted: float = 0.0):
    return PendingJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=Tier.GENERAL,
        pool_id=1,
        devices=devices,
        time_limit_s=86_400,
        submitted_at=submitted,
        attained_device_seconds=attained,
    )


def running(job_id: int, indices: tuple[int, ...], started: float = 0.0) -> RunningJob:
    return RunningJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=Tier.GENERAL,
        pool_id=1,
        placement=(NodeSlice("a", indices),),
        time_limit_s=86_400,
        started_at=started,
        submitted_at=started,
    )


def test_refuses_without_true_work() -> None:
    """Built without oracle_work_s (directly or by name), the oracle raises InvalidInput."""
    with pytest.raises(InvalidInput, match="oracle_work_s"):
        SrtfOracle(PolicyContext())
    with pytest.raises(InvalidInput, match="oracle_work_s"):
        SrtfOracle()
    with pytest.raises(InvalidInput, match="oracle_work_s"):
        policy_named("srtf-oracle")


def test_registry_marks_it_oracle_and_refuses_it_live() -> None:
    """The registry entry says oracle, and the live service may not build it."""
    assert POLICIES["srtf-oracle"].oracle
    with pytest.raises(InvalidInput, match="only in the simulator"):
        policy_named("srtf-oracle", PolicyContext(oracle_work_s={}), live=True)
    assert isinstance(policy_named("srtf-oracle", PolicyContext(oracle_work_s={})), SrtfOracle)


def test_picks_the_shortest_remaining_gpu_time() -> None:
    """With one free device: job 3 (1,000 s of work, 950 s done) has 50 s left, less than job 2
    (80 s) and job 1 (100 s), so it starts first whatever the submission order."""
    snapshot = ClusterSnapshot(
        now=2000.0,
        pools=one_pool(1),
        running=(),
        pending=(
            pending(1, submitted=0.0),
            pending(2, submitted=1.0),
            pending(3, attained=950.0, submitted=2.0),
        ),
    )
    decisions = plan(oracle({1: 100.0, 2: 80.0, 3: 1000.0}), snapshot)
    assert [d.job_id for d in decisions] == [3]


def test_gpu_time_counts_devices() -> None:
    """Remaining GPU-time is remaining work x devices: 4 devices x 30 s loses to 1 x 100 s."""
    policy = oracle({1: 30.0, 2: 100.0})
    assert policy.remaining_gpu_s(1, 4, 0.0) == 120.0
    assert policy.remaining_gpu_s(2, 1, 0.0) == 100.0
    assert policy.remaining_gpu_s(2, 1, 500.0) == 0.0
    assert policy.remaining_gpu_s(99, 1, 0.0) == float("inf")
    snapshot = ClusterSnapshot(
        now=0.0, pools=one_pool(4), running=(), pending=(pending(1, devices=4), pending(2))
    )
    decisions = plan(policy, snapshot)
    assert [d.job_id for d in decisions if isinstance(d, Start)] == [2]


def test_preempts_a_much_longer_running_job() -> None:
    """A 100 s job preempts a runner with 10,000 s left; the freed device goes to it."""
    snapshot = ClusterSnapshot(
        now=100.0,
        pools=one_pool(1, busy=(0,)),
        running=(running(1, (0,), started=0.0),),
        pending=(pending(2, submitted=50.0),),
    )
    decisions = plan(oracle({1: 10_100.0, 2: 100.0}), snapshot)
    assert decisions == [Preempt(1), Start(2, 1, (NodeSlice("a", (0,)),))]


def test_no_preemption_when_the_gain_is_below_the_restart_cost() -> None:
    """The runner has 150 s left and the waiting job 100 s: the 50 s gain is less than twice the
    60 s restart cost, so nothing happens."""
    snapshot = ClusterSnapshot(
        now=100.0,
        pools=one_pool(1, busy=(0,)),
        running=(running(1, (0,), started=0.0),),
        pending=(pending(2, submitted=50.0),),
    )
    assert plan(oracle({1: 250.0, 2: 100.0}), snapshot) == []


def test_no_preemption_that_would_not_let_the_job_start() -> None:
    """A 4-device job cannot start by preempting the only long runner (2 devices) while the
    other 2 devices hold a shorter job."""
    snapshot = ClusterSnapshot(
        now=10.0,
        pools=one_pool(4, busy=(0, 1, 2, 3)),
        running=(running(1, (0, 1), started=0.0), running(2, (2, 3), started=0.0)),
        pending=(pending(3, devices=4, submitted=5.0),),
    )
    assert plan(oracle({1: 1e6, 2: 20.0, 3: 50.0}), snapshot) == []
    assert SrtfOracle(PolicyContext(oracle_work_s={})).wake_at(snapshot) is None


def test_oracle_context_reads_the_workload() -> None:
    """oracle_context maps every job id of the workload to its work_s."""
    jobs = [
        SimJob(job_id=1, trace_id="a", group="g", project_id=1, submit_s=0.0, work_s=12.5,
               devices=1, time_limit_s=100),
        SimJob(job_id=2, trace_id="b", group="g", project_id=1, submit_s=1.0, work_s=7.0,
               devices=2, time_limit_s=100),
    ]  # fmt: skip
    context = oracle_context(jobs, restart_cost_s=30.0)
    assert context.oracle_work_s == {1: 12.5, 2: 7.0}
    assert context.restart_cost_s == 30.0
    assert isinstance(policy_named("srtf-oracle", context), SrtfOracle)
