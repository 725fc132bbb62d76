"""Discretised 2D-LAS (Tiresias): queue order, demotion, preemption, starvation, wake-ups.

Every case is a literal snapshot a few lines long. The policy under test has thresholds of 1 and
4 device-hours (three queues), a starvation limit of 2, a 600 s minimum run and preempts any
lower queue, unless a test says otherwise; decisions always go through :func:`nuri.policy.cycle.plan`, which checks them.
"""

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nuri.policy.las as las_module
from nuri.domain.commons import Tier
from nuri.policy.cycle import plan
from nuri.policy.gittins import MIN_SAMPLES, NO_RANKS, RankIndex
from nuri.policy.las import Las, PassView, Victim
from nuri.policy.placement import candidate_pools
from nuri.policy.registry import POLICIES, PolicyContext, policy_named
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
    RunTimeHistory,
    Start,
)
from tests.unit.test_policy_invariants import snapshots

HOUR = 3600.0


def las(**overrides: object) -> Las:
    """The LAS policy of these tests: thresholds 1 h and 4 h, starve limit 2, min run 600 s, and
    any lower queue may be preempted (preempt_gap 1)."""
    options: dict[str, object] = {
        "thresholds_gpu_hours": (1.0, 4.0),
        "starve_limit": 2.0,
        "min_run_s": 600.0,
        "preempt_gap": 1,
    }
    options.update(overrides)
    return Las(PolicyContext(restart_cost_s=60.0), **options)  # type: ignore[arg-type]


def node(name: str, devices: int = 8, busy: tuple[int, ...] = ()) -> NodeState:
    return NodeState(name, devices, tuple(i for i in range(devices) if i not in busy))


def pool(pool_id: int, *nodes: NodeState, accelerator: str = "H100") -> PoolState:
    return PoolState(pool_id, f"pool-{pool_id}", accelerator, 1000, nodes)


def pending(
    job_id: int,
    devices: int = 1,
    *,
    submitted: float = 0.0,
    attained: float = 0.0,
    pool_id: int | None = 1,
    accelerator: str | None = None,
    tier: Tier = Tier.GENERAL,
    limit: int = 86_400,
) -> PendingJob:
    return PendingJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=tier,
        pool_id=pool_id,
        devices=devices,
        time_limit_s=limit,
        submitted_at=submitted,
        accelerator=accelerator,
        attained_device_seconds=attained,
    )


def running(
    job_id: int,
    node_name: str,
    indices: tuple[int, ...],
    *,
    started: float = 0.0,
    submitted: float = 0.0,
    attained: float = 0.0,
    pool_id: int = 1,
    tier: Tier = Tier.GENERAL,
    limit: int = 86_400,
) -> RunningJob:
    return RunningJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=tier,
        pool_id=pool_id,
        placement=(NodeSlice(node_name, indices),),
        time_limit_s=limit,
        started_at=started,
        submitted_at=submitted,
        attained_device_seconds=attained,
    )


def snap(
    now: float,
    pools: tuple[PoolState, ...],
    waiting: tuple[PendingJob, ...],
    run: tuple[RunningJob, ...] = (),
) -> ClusterSnapshot:
    return ClusterSnapshot(now=now, pools=pools, running=run, pending=waiting)


def decide(policy: Las, snapshot: ClusterSnapshot) -> list[Decision]:
    return plan(policy, snapshot)


def started(decisions: list[Decision]) -> list[int]:
    return [d.job_id for d in decisions if isinstance(d, Start)]


def preempted(decisions: list[Decision]) -> list[int]:
    return [d.job_id for d in decisions if isinstance(d, Preempt)]


def test_registered_as_las_and_preemptive() -> None:
    """The registry builds LAS by name; it is preemptive and not an oracle."""
    policy = policy_named("las", PolicyContext())
    assert isinstance(policy, Las)
    assert policy.preemptive and policy.name == "las"
    assert POLICIES["las"].target == "nuri.policy.las:Las" and not POLICIES["las"].oracle


@pytest.mark.parametrize(
    ("attained", "tier", "queue"),
    [
        (0.0, Tier.GENERAL, 0),
        (HOUR - 1, Tier.GENERAL, 0),
        (HOUR, Tier.GENERAL, 1),
        (4 * HOUR - 1, Tier.GENERAL, 1),
        (4 * HOUR, Tier.GENERAL, 2),
        (1e9, Tier.GENERAL, 2),
        (2 * HOUR, Tier.HUB_MEMBER, 1),  # thresholds x2: 2 h and 8 h
        (HOUR * 1.99, Tier.HUB_MEMBER, 0),
        (15 * HOUR, Tier.STRATEGIC, 1),  # thresholds x4: 4 h and 16 h
    ],
    ids=[
        "new",
        "just-below-T0",
        "at-T0",
        "below-T1",
        "at-T1",
        "huge",
        "hub-T0",
        "hub-below",
        "strat",
    ],
)
def test_queue_of_attained_service_and_tier(attained: float, tier: Tier, queue: int) -> None:
    """A job's queue is the number of (tier-scaled) thresholds its device-seconds reached."""
    assert las().queue_of(attained, tier) == queue


def test_higher_queues_first_then_fifo_within_a_queue() -> None:
    """Queue 0 jobs start before queue 1 jobs whatever their submission; FIFO inside a queue
    among jobs with as much requested device-time left."""
    snapshot = snap(
        1000.0,
        (pool(1, node("a", devices=3)),),
        (
            pending(1, submitted=30.0),
            pending(2, submitted=10.0, attained=2 * HOUR),  # queue 1
            pending(3, submitted=20.0),
            pending(4, submitted=5.0, attained=2 * HOUR),  # queue 1, submitted earlier than 2
        ),
    )
    assert started(decide(las(), snapshot)) == [3, 1, 4]


def test_tier_orders_jobs_within_a_queue() -> None:
    """Within one queue a strategic job goes before an earlier general one."""
    snapshot = snap(
        1000.0,
        (pool(1, node("a", devices=1)),),
        (pending(1, submitted=10.0), pending(2, submitted=20.0, tier=Tier.STRATEGIC)),
    )
    assert started(decide(las(), snapshot)) == [2]


@pytest.mark.parametrize(
    ("free", "first", "second", "by_request", "by_submission"),
    [
        # queue 0: 1 x 24 h against 1 x 2 h
        (1, pending(1, submitted=10.0), pending(2, submitted=20.0, limit=7200), [2], [1]),
        # queue 0: 2 devices x 2 h (4 device-h) against 1 x 3 h (3 device-h)
        (2, pending(1, 2, submitted=10.0, limit=7200), pending(2, submitted=20.0, limit=10_800),
         [2], [1]),
        # queue 1: 10 h asked, 2 h used (8 h left) against 10.5 h asked, 3 h used (7.5 h left)
        (1, pending(1, submitted=10.0, limit=36_000, attained=2 * HOUR),
         pending(2, submitted=20.0, limit=37_800, attained=3 * HOUR), [2], [1]),
    ],
    ids=["shorter-limit", "devices-times-limit", "less-left-after-attained"],
)  # fmt: skip
def test_less_requested_device_time_left_starts_first_within_a_queue(
    free: int,
    first: PendingJob,
    second: PendingJob,
    by_request: list[int],
    by_submission: list[int],
) -> None:
    """Within one queue and tier the job with fewer requested device-seconds left (devices x
    time limit - attained) starts first, though submitted later; request_order_from=None
    restores the order by submission, and request_order_from=2 leaves queues 0 and 1 so."""
    snapshot = snap(5 * HOUR, (pool(1, node("a", devices=free)),), (first, second))
    policy = las()
    assert {policy.pending_queue(job, snapshot.now) for job in snapshot.pending} in ({0}, {1})
    assert started(decide(policy, snapshot)) == by_request
    assert started(decide(las(request_order_from=None), snapshot)) == by_submission
    assert started(decide(las(request_order_from=2), snapshot)) == by_submission


def test_request_order_is_validated_and_on_by_default() -> None:
    """The registered LAS orders every queue by requested device-time left; a negative first
    queue is refused."""
    assert Las(PolicyContext()).request_order_from == 0
    with pytest.raises(ValueError, match="request_order_from"):
        Las(PolicyContext(), request_order_from=-1)


def test_demotion_exposes_a_running_job_to_preemption() -> None:
    """A running job is preempted for a queue-0 job only once it has crossed the threshold."""
    full = (pool(1, node("a", devices=1, busy=(0,))),)
    waiting = (pending(2, submitted=500.0),)
    before = snap(HOUR - 1, full, waiting, (running(1, "a", (0,), started=0.0),))
    after = snap(HOUR, full, waiting, (running(1, "a", (0,), started=0.0),))
    assert decide(las(), before) == []
    decisions = decide(las(), after)
    assert preempted(decisions) == [1] and started(decisions) == [2]
    assert decisions[1] == Start(2, 1, (NodeSlice("a", (0,)),))


def test_preempts_lowest_queue_first_and_only_what_is_needed() -> None:
    """A queue-0 job needing 4 devices preempts one 4-device runner, the one with most
    requested device-time left."""
    snapshot = snap(
        10 * HOUR,
        (pool(1, node("a", busy=tuple(range(8)))),),
        (pending(9, devices=4, submitted=9 * HOUR),),
        (
            # 4 device-h before, 8 more since 8 h: 12 device-h, queue 2.
            running(1, "a", (0, 1, 2, 3), started=8 * HOUR, attained=4 * HOUR, submitted=7 * HOUR),
            # 4 device-h since 9 h: queue 2 as well, but submitted later.
            running(2, "a", (4, 5, 6, 7), started=9 * HOUR, submitted=9 * HOUR),
        ),
    )
    policy = las()
    assert policy.running_queue(snapshot.running[0], snapshot.now) == 2
    assert policy.running_queue(snapshot.running[1], snapshot.now) == 2
    decisions = decide(policy, snapshot)
    # Both are in queue 2 with the same 24 h limit: job 2 has used less of its 96 device-h
    # (4 against 12), so it has more left and is the less valuable one.
    assert preempted(decisions) == [2] and started(decisions) == [9]


def test_prefers_the_lower_queue_victim() -> None:
    """Between a queue-1 and a queue-2 runner, the queue-2 one is preempted."""
    snapshot = snap(
        10 * HOUR,
        (pool(1, node("a", devices=2, busy=(0, 1))),),
        (pending(9, submitted=9 * HOUR),),
        (
            # 3 h before its start at 8 h, 2 h since: 5 device-h, queue 2.
            running(1, "a", (0,), started=8 * HOUR, attained=3 * HOUR, submitted=0.0),
            # 2 device-h since 8 h: queue 1 (and submitted later).
            running(2, "a", (1,), started=8 * HOUR, submitted=8 * HOUR),
        ),
    )
    decisions = decide(las(), snapshot)
    assert preempted(decisions) == [1] and started(decisions) == [9]


def test_preempts_the_victim_with_most_requested_device_time_left() -> None:
    """Two runners of one queue and tier: the one with most requested device-seconds left is
    preempted (here the earlier submission: 48 h asked, 9 h used), not the later submission
    (12 h asked, 9 h used); with request_order_from=None the later submission is, as before."""
    snapshot = snap(
        10 * HOUR,
        (pool(1, node("a", devices=2, busy=(0, 1))),),
        (pending(9, submitted=9 * HOUR),),
        (
            running(1, "a", (0,), started=HOUR, submitted=0.0, limit=48 * 3600),
            running(2, "a", (1,), started=HOUR, submitted=HOUR / 2, limit=12 * 3600),
        ),
    )
    policy = las()
    assert [policy.running_queue(job, snapshot.now) for job in snapshot.running] == [2, 2]
    decisions = decide(policy, snapshot)
    assert preempted(decisions) == [1] and started(decisions) == [9]
    decisions = decide(las(request_order_from=None), snapshot)
    assert preempted(decisions) == [2] and started(decisions) == [9]


def test_no_preemption_when_it_would_not_let_the_job_start() -> None:
    """Only 4 devices are held by lower-queue jobs; an 8-device job cannot start, so no one is
    preempted (the other runner is in queue 0, as is the waiting job)."""
    snapshot = snap(
        2 * HOUR,
        (pool(1, node("a", busy=tuple(range(8)))),),
        (pending(9, devices=8, submitted=HOUR),),
        (
            running(1, "a", (0, 1, 2, 3), started=0.0),  # 8 device-h: queue 2
            running(2, "a", (4, 5, 6, 7), started=2 * HOUR - 300, attained=0.0),  # queue 0
        ),
    )
    assert decide(las(), snapshot) == []


def bottom_las(**overrides: object) -> Las:
    """:func:`las` with two queues (threshold 1 h) and no starvation promotion: queue 1 is the
    bottom queue, where by default jobs preempt by judged time left."""
    options: dict[str, object] = {"thresholds_gpu_hours": (1.0,), "starve_limit": None}
    options.update(overrides)
    return las(**options)


def test_jobs_of_one_queue_preempt_each_other_only_where_they_are_judged() -> None:
    """A queue-1 pending job and a queue-1 runner judged to have far more left (by the limits,
    no history: 22 h against 0.5 h, 44 times). Where queue 1 is the bottom queue the runner is
    preempted; where it is a middle queue it is not, unless rank_preempt_from reaches it; and
    with queues only it never is, however long the job waited."""
    snapshot = snap(
        3 * HOUR,
        (pool(1, node("a", devices=1, busy=(0,))),),
        (pending(9, submitted=0.0, attained=1.5 * HOUR, limit=int(2 * HOUR)),),
        (running(1, "a", (0,), started=HOUR, submitted=HOUR),),  # 2 h: queue 1
    )
    assert preempted(decide(bottom_las(), snapshot)) == [1]
    assert decide(las(starve_limit=None), snapshot) == []  # queue 1 of three
    assert preempted(decide(las(starve_limit=None, rank_preempt_from=1), snapshot)) == [1]
    assert decide(bottom_las(rank_preempt_factor=None), snapshot) == []
    assert decide(las(starve_limit=None, rank_preempt_from=2), snapshot) == []


def test_minimum_run_protects_a_recent_start() -> None:
    """A demoted job restarted less than ``min_run_s`` ago is not preempted; after, it is."""
    pools = (pool(1, node("a", devices=1, busy=(0,))),)
    waiting = (pending(9, submitted=5 * HOUR),)
    runner = running(1, "a", (0,), started=5 * HOUR, attained=2 * HOUR)  # queue 1
    policy = las()
    assert decide(policy, snap(5 * HOUR + 599, pools, waiting, (runner,))) == []
    assert policy.wake_at(snap(5 * HOUR + 599, pools, waiting, (runner,))) == 5 * HOUR + 600
    decisions = decide(policy, snap(5 * HOUR + 600, pools, waiting, (runner,)))
    assert preempted(decisions) == [1] and started(decisions) == [9]


def test_starvation_promotes_to_the_top_queue() -> None:
    """A job that ran 2 h and then waited 2 x 2 h is back in queue 0 and preempts a queue-1 job.

    It was submitted at 0, ran 2 h (7,200 device-s on one device: queue 1), so with starve limit
    2 it is promoted once its time not running reaches 4 h, i.e. at t = 6 h.
    """
    policy = las()
    hungry = pending(9, submitted=0.0, attained=2 * HOUR)
    pools = (pool(1, node("a", devices=1, busy=(0,))),)
    runner = running(1, "a", (0,), started=4 * HOUR, submitted=3 * HOUR)  # 2 h at 6 h: queue 1
    assert policy.pending_queue(hungry, 6 * HOUR - 1) == 1
    assert policy.pending_queue(hungry, 6 * HOUR) == 0
    assert policy.wake_at(snap(5 * HOUR, pools, (hungry,), (runner,))) == 6 * HOUR
    assert decide(policy, snap(6 * HOUR - 1, pools, (hungry,), (runner,))) == []
    decisions = decide(policy, snap(6 * HOUR, pools, (hungry,), (runner,)))
    assert preempted(decisions) == [1] and started(decisions) == [9]


def test_promotion_wake_up_time() -> None:
    """wake_at names the moment a waiting job will be promoted: submit + ran + 2 x ran."""
    policy = las()
    hungry = pending(9, submitted=100.0, attained=2 * HOUR)
    pools = (pool(1, node("a", devices=1, busy=(0,))),)
    runner = running(1, "a", (0,), started=3 * HOUR, attained=10 * HOUR)  # queue 2, no crossing
    # Protection of the runner ended at 3 h + 600 s; the next moment is the promotion at 6 h.
    assert policy.wake_at(snap(5 * HOUR, pools, (hungry,), (runner,))) == 100.0 + 6 * HOUR


def test_a_promoted_start_resets_service() -> None:
    """A running job that started as a promotion is ranked by this attempt only (queue 0 at
    first), so it is not preempted again right away; a normal restart keeps its history."""
    policy = las()
    # Submitted 0, 2 h attained, restarted at 6 h (waited 4 h >= 2 x 2 h: promoted).
    promoted = running(1, "a", (0,), started=6 * HOUR, attained=2 * HOUR)
    # Restarted at 3 h after waiting only 1 h: not promoted.
    plain = running(2, "a", (1,), started=3 * HOUR, attained=2 * HOUR)
    now = 6 * HOUR + 1200
    assert policy.running_service(promoted, now) == (0.0, 1200.0)
    assert policy.running_queue(promoted, now) == 0
    assert policy.running_queue(plain, now) == 2
    snapshot = snap(
        now,
        (pool(1, node("a", devices=2, busy=(0, 1))),),
        (pending(9, submitted=now - 10),),
        (promoted, plain),
    )
    decisions = decide(policy, snapshot)
    assert preempted(decisions) == [2] and started(decisions) == [9]


def test_wake_at_threshold_crossing() -> None:
    """A 2-device runner with 1,800 device-s at its start (t = 1,000) reaches the 1 h threshold
    at 1,000 + (3,600 - 1,800) / 2 = 1,900 s."""
    policy = las()
    runner = running(1, "a", (0, 1), started=1000.0, attained=1800.0)
    pools = (pool(1, node("a", devices=2, busy=(0, 1))),)
    assert policy.wake_at(snap(1500.0, pools, (pending(9, submitted=1400.0),), (runner,))) == 1900.0


def test_wake_at_none_without_pending_jobs() -> None:
    """Nothing can change for the better when nobody waits."""
    runner = running(1, "a", (0,), started=0.0)
    assert (
        las().wake_at(snap(10.0, (pool(1, node("a", devices=1, busy=(0,))),), (), (runner,)))
        is None
    )


def test_wake_at_ignores_crossings_that_change_nothing() -> None:
    """When every waiting job is in queue 2, a runner moving from queue 0 to 1 is not a reason
    to wake up; None when nothing else is coming."""
    policy = las(starve_limit=None)
    runner = running(1, "a", (0,), started=0.0)
    waiting = (pending(9, submitted=0.0, attained=5 * HOUR),)
    pools = (pool(1, node("a", devices=1, busy=(0,))),)
    assert policy.wake_at(snap(10.0, pools, waiting, (runner,))) is None


def test_accelerator_class_chooses_the_pool_needing_fewest_preemptions() -> None:
    """A job naming an accelerator class preempts in the candidate pool where the fewest
    devices must be freed (with ``victim_choice="fewest"``), never in a pool of another class."""
    pools = (
        pool(1, node("a", devices=4, busy=(0, 1, 2, 3)), accelerator="H100"),
        pool(2, node("b", devices=4, busy=(0, 1, 2)), accelerator="H100"),
        pool(3, node("c", devices=4, busy=(0, 1, 2, 3)), accelerator="ATOM"),
    )
    run = (
        running(1, "a", (0, 1, 2, 3), pool_id=1, attained=10 * HOUR),
        running(2, "b", (0, 1, 2), pool_id=2, attained=10 * HOUR),
        running(3, "c", (0, 1, 2, 3), pool_id=3, attained=10 * HOUR),
    )
    job = pending(9, devices=2, pool_id=None, accelerator="H100", submitted=HOUR)
    decisions = decide(las(victim_choice="fewest"), snap(2 * HOUR, pools, (job,), run))
    assert preempted(decisions) == [2]
    assert isinstance(decisions[1], Start) and decisions[1].pool_id == 2


def test_multi_node_gang_after_preemption() -> None:
    """A 12-device job preempts the two lowest-queue jobs spread over two nodes and starts as
    one gang over both."""
    pools = (pool(1, node("a", busy=tuple(range(8))), node("b", busy=tuple(range(4)))),)
    run = (
        running(1, "a", tuple(range(8)), attained=50 * HOUR, submitted=1.0),
        running(2, "b", (0, 1, 2, 3), attained=20 * HOUR, submitted=2.0),
    )
    decisions = decide(las(), snap(HOUR, pools, (pending(9, devices=12, submitted=10.0),), run))
    assert sorted(preempted(decisions)) == [1]
    start = decisions[-1]
    assert isinstance(start, Start) and start.devices == 12


def test_rejects_bad_thresholds() -> None:
    """Thresholds must be positive and increasing; the starvation limit positive."""
    with pytest.raises(ValueError, match="thresholds"):
        Las(thresholds_gpu_hours=(4.0, 1.0))
    with pytest.raises(ValueError, match="starve_limit"):
        Las(starve_limit=0.0)


def test_decide_does_not_mutate_and_is_repeatable() -> None:
    """Two calls on the same snapshot give the same decisions (pure function)."""
    pools = (pool(1, node("a", devices=2, busy=(0,))),)
    snapshot = snap(
        2 * HOUR,
        pools,
        (pending(9, submitted=HOUR), pending(8, submitted=HOUR, devices=2)),
        (running(1, "a", (0,), attained=10 * HOUR),),
    )
    policy = las()
    assert decide(policy, snapshot) == decide(policy, snapshot)


def test_a_job_that_fits_one_node_preempts_on_one_node() -> None:
    """A 4-device job on nodes of 4 needs its devices on one node. By default it preempts the
    least valuable job, the 4-device one on ``b`` (72 requested device-hours left against 26),
    and starts there; with ``victim_choice="fewest"``, preempting the 2-device job next to 2
    free devices on ``a`` (2 devices preempted) wins instead."""
    pools = (pool(1, node("a", devices=4, busy=(0, 1)), node("b", devices=4, busy=(0, 1, 2, 3))),)
    run = (
        running(1, "a", (0, 1), attained=20 * HOUR, submitted=1.0),
        running(2, "b", (0, 1, 2, 3), attained=20 * HOUR, submitted=2.0),
    )
    snapshot = snap(HOUR, pools, (pending(9, devices=4, submitted=10.0),), run)
    decisions = decide(las(), snapshot)
    assert preempted(decisions) == [2]
    assert decisions[-1] == Start(9, 1, (NodeSlice("b", (0, 1, 2, 3)),))
    decisions = decide(las(victim_choice="fewest"), snapshot)
    assert preempted(decisions) == [1]
    assert decisions[-1] == Start(9, 1, (NodeSlice("a", (0, 1, 2, 3)),))


def test_no_preemption_when_the_freed_devices_would_be_on_different_nodes() -> None:
    """2 free devices on node a and a 2-device victim on node b add up to 4, but a 4-device job
    on nodes of 4 never spans nodes, so nobody is preempted."""
    pools = (pool(1, node("a", devices=4, busy=(0, 1)), node("b", devices=4, busy=(0, 1, 2, 3))),)
    run = (
        running(1, "a", (0, 1), started=HOUR - 60, submitted=HOUR - 60),  # queue 0
        running(2, "b", (0, 1), attained=20 * HOUR, submitted=2.0),  # queue 2
        running(3, "b", (2, 3), started=HOUR - 60, submitted=HOUR - 60),  # queue 0
    )
    assert decide(las(), snap(HOUR, pools, (pending(9, devices=4, submitted=10.0),), run)) == []


def test_a_promoted_job_is_protected_for_a_stretch_that_grows_with_its_wait() -> None:
    """A job that waited 4 h after running 2 h (starve limit 2) is protected, once restarted,
    until it has run 2 x 4 h / 2 = 4 h in all, i.e. 2 h into this attempt; a plain restart is
    protected for min_run_s only."""
    policy = las()
    promoted = running(1, "a", (0,), started=6 * HOUR, attained=2 * HOUR)
    plain = running(2, "a", (1,), started=3 * HOUR, attained=2 * HOUR)
    assert policy.protected_until(promoted) == 8 * HOUR
    assert policy.protected_until(plain) == 3 * HOUR + 600
    pinned = replace(plain, preemptible=False)
    assert policy.protected_until(pinned) == float("inf")


def test_defaults() -> None:
    """The tuned defaults: three queues (1 and 16 device-hours), preempt two queues down,
    starvation limit 128, 15 min minimum run for a 60 s restart cost, jobs ranked by learnt
    run times, and a job judged to have twice another's time left preemptible for it."""
    policy = Las(PolicyContext(restart_cost_s=60.0))
    assert policy.thresholds_s == (1 * HOUR, 16 * HOUR)
    assert las_module.EIGHT_QUEUE_THRESHOLDS_GPU_HOURS == (0.25, 1, 4, 16, 64, 256, 1024)
    assert policy.preempt_gap == 2 and policy.starve_limit == 128.0
    assert policy.learn_run_times and policy.rank_preempt_factor == 2.0
    assert policy.min_run_s == 900.0
    assert Las(PolicyContext(restart_cost_s=300.0)).min_run_s == 3000.0


def test_default_bottom_queue_goes_by_request_whatever_the_service() -> None:
    """With the default thresholds every job past 16 device-hours shares the bottom queue, so
    the job with less requested device-time left starts first though it has run ten times as
    long (200 device-hours run, 10 left, against 20 run and 100 left); the earlier eight
    queues put the job with less service first. A running bottom-queue job judged to have at
    least twice the pending one's device-time left is preempted for it (880 device-hours left
    against 10); with queues only (rank_preempt_factor None) it is not, however little the
    pending one has left."""
    policy = Las(PolicyContext(restart_cost_s=60.0))
    little_left = pending(1, submitted=10.0, attained=200 * HOUR, limit=int(210 * HOUR))
    much_left = pending(2, submitted=20.0, attained=20 * HOUR, limit=int(120 * HOUR))
    snapshot = snap(300 * HOUR, (pool(1, node("a", devices=1)),), (little_left, much_left))
    assert {policy.pending_queue(job, snapshot.now) for job in snapshot.pending} == {2}
    assert started(decide(policy, snapshot)) == [1]
    eight = Las(
        PolicyContext(restart_cost_s=60.0),
        thresholds_gpu_hours=las_module.EIGHT_QUEUE_THRESHOLDS_GPU_HOURS,
    )
    assert started(decide(eight, snapshot)) == [2]
    busy = snap(
        300 * HOUR,
        (pool(1, node("a", devices=1, busy=(0,))),),
        (little_left,),
        (running(3, "a", (0,), started=290 * HOUR, attained=20 * HOUR, limit=int(900 * HOUR)),),
    )
    assert preempted(decide(policy, busy)) == [3] and started(decide(policy, busy)) == [1]
    assert decide(Las(PolicyContext(restart_cost_s=60.0), rank_preempt_factor=None), busy) == []


def test_preempt_gap_needs_two_queues_between() -> None:
    """With preempt_gap 2 a queue-0 job does not preempt a queue-1 runner, but does preempt a
    queue-2 one; wake_at then looks for the runner reaching queue 2."""
    policy = las(preempt_gap=2)
    pools = (pool(1, node("a", devices=1, busy=(0,))),)
    waiting = (pending(9, submitted=HOUR),)
    runner = running(1, "a", (0,), started=0.0)  # 1 device-h per hour: queue 1 from 1 h
    assert decide(policy, snap(2 * HOUR, pools, waiting, (runner,))) == []
    assert policy.wake_at(snap(2 * HOUR, pools, waiting, (runner,))) == 4 * HOUR
    decisions = decide(policy, snap(4 * HOUR, pools, waiting, (runner,)))
    assert preempted(decisions) == [1] and started(decisions) == [9]


def test_promoted_jobs_rank_after_fresh_ones_in_queue_0() -> None:
    """A promoted job (queue 0 by starvation) goes after a new queue-0 job submitted later, as
    Tiresias appends promoted jobs to queue 0; with promoted_last off it goes first."""
    pools = (pool(1, node("a", devices=1)),)
    hungry = pending(1, submitted=0.0, attained=2 * HOUR)  # promoted from 6 h
    fresh = pending(2, submitted=7 * HOUR)
    snapshot = snap(8 * HOUR, pools, (hungry, fresh))
    assert las().pending_queue(hungry, 8 * HOUR) == 0
    assert started(decide(las(), snapshot)) == [2]
    assert started(decide(las(promoted_last=False), snapshot)) == [1]


def two_device_victims(count: int) -> tuple[tuple[PoolState, ...], tuple[RunningJob, ...]]:
    """``count`` full two-device nodes, each running a job deep in the lowest queue."""
    nodes = tuple(node(f"n{i}", devices=2, busy=(0, 1)) for i in range(count))
    run = tuple(
        running(100 + i, f"n{i}", (0, 1), started=0.0, attained=10 * HOUR) for i in range(count)
    )
    return (pool(1, *nodes),), run


def test_preemption_budget_stops_preempting_but_not_starting_on_free_devices() -> None:
    """With max_preemptions=1, the first queue-0 job preempts one two-device job and takes
    one of its devices; the budget is then spent, so the second job starts on the device left
    free and the third, which could only start by preempting, waits. Without a budget the
    third preempts another job."""
    pools, run = two_device_victims(3)
    waiting = (pending(1, submitted=1.0), pending(2, submitted=2.0), pending(3, submitted=3.0))
    snapshot = snap(20 * HOUR, pools, waiting, run)
    budgeted = decide(las(max_preemptions=1), snapshot)
    assert len(preempted(budgeted)) == 1 and started(budgeted) == [1, 2]
    unbounded = decide(las(max_preemptions=None), snapshot)
    assert len(preempted(unbounded)) == 2 and started(unbounded) == [1, 2, 3]


def test_preemption_budget_may_be_overshot_by_one_job_only() -> None:
    """A job that starts by preempting takes all the victims it needs even past the budget
    (all-or-nothing), but no job after it preempts: a four-device job needs two two-device
    victims under a budget of one. (The small job asks for as much device-time as the big one,
    so the big one, submitted first, goes first.)"""
    pools, run = two_device_victims(4)
    big = pending(1, 4, submitted=1.0)
    small = pending(2, submitted=2.0, limit=4 * 86_400)
    snapshot = snap(20 * HOUR, pools, (big, small), run)
    decisions = decide(las(max_preemptions=1), snapshot)
    assert len(preempted(decisions)) == 2 and started(decisions) == [1]


def test_default_budget_is_registered_and_validated() -> None:
    """The registered policy preempts at most 32 jobs per decision (plus one job's overshoot);
    a budget below one is refused."""
    assert Las(PolicyContext()).max_preemptions == las_module.DEFAULT_MAX_PREEMPTIONS == 32
    with pytest.raises(ValueError, match="max_preemptions"):
        Las(PolicyContext(), max_preemptions=0)


def left_of(policy: Las, job: PendingJob, queue: int, ranks: RankIndex = NO_RANKS) -> float:
    """The within-queue key from request_order_from on: the Gittins rank of the job's limit in
    ``ranks``, else requested device-seconds not yet used."""
    start = policy.request_order_from
    if start is None or queue < start:
        return 0.0
    table = ranks.tables.get(job.time_limit_s)
    if table is None:
        return job.devices * job.time_limit_s - job.attained_device_seconds
    return job.devices * table.rank_s(job.attained_device_seconds / job.devices)


def with_history(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """``snapshot`` with a run-time history for every time limit its jobs asked for: run times
    spread from 1/256 of the limit to all of it."""
    limits = {job.time_limit_s for job in snapshot.pending} | {
        job.time_limit_s for job in snapshot.running
    }
    runs = [((k + 1) / MIN_SAMPLES) ** 2 for k in range(MIN_SAMPLES)]
    history = RunTimeHistory({limit: tuple(limit * run for run in runs) for limit in limits})
    return replace(snapshot, history=history)


def below_queue(queue: int) -> Callable[[Victim], bool]:
    """Whether a victim is in a lower queue (larger number) than ``queue``."""
    return lambda victim: victim.worth > queue


def running_left(policy: Las, run: RunningJob, now: float, ranks: RankIndex) -> float:
    """A running job's judged device-time left from all the service it has attained by
    ``now`` (0 in queues before request_order_from)."""
    _, service = policy.running_service(run, now)
    attained = run.attained_at(now)
    as_pending = PendingJob(
        job_id=run.job_id,
        project_id=run.project_id,
        allocation_id=run.allocation_id,
        tier=run.tier,
        pool_id=run.pool_id,
        devices=run.devices,
        time_limit_s=run.time_limit_s,
        submitted_at=run.submitted_at,
        attained_device_seconds=attained,
    )
    return left_of(policy, as_pending, policy.queue_of(service, run.tier), ranks)


def judges(policy: Las, queue: int) -> bool:
    """Whether a pending job of ``queue`` may preempt by judged time left: with queues
    ordered by time left there (request_order_from), in rank_preempt_from or a later queue, by
    default only in the last queue."""
    start = policy.request_order_from
    last = len(policy.thresholds_s)
    first = last if policy.rank_preempt_from is None else policy.rank_preempt_from
    return (
        policy.rank_preempt_factor is not None
        and start is not None
        and queue >= max(start, first)
        and queue <= last
    )


def eligible_victims(
    policy: Las, job: PendingJob, queue: int, ranks: RankIndex, victim_left: dict[int, float]
) -> Callable[[Victim], bool]:
    """The victims a pending job in ``queue`` may preempt: those preempt_gap queues or more
    below it, and, with rank_preempt_factor, if it is in a queue that preempts by judged time
    left, those of its own queue or a lower one judged to have more than its device-time left
    and at least rank_preempt_factor times it."""
    gap = below_queue(queue + policy.preempt_gap - 1)
    factor = policy.rank_preempt_factor
    if factor is None or not judges(policy, queue):
        return gap
    mine = left_of(policy, job, queue, ranks)

    def eligible(victim: Victim) -> bool:
        if gap(victim):
            return True
        theirs = victim_left[victim.job.job_id]
        return victim.worth >= queue and theirs >= factor * mine and theirs > mine

    return eligible


def reference_decide(policy: Las, snapshot: ClusterSnapshot) -> list[Decision]:
    """LAS as its docstring states the rules, job by job: the order by sorting on
    pending_queue, _late and the requested device-time left, every pool's nodes scanned for victims in a loop, no early stop,
    and after the budget is spent every remaining job tried on free devices. (Like decide, a
    job no larger than one with the same options and queue that could neither start nor
    preempt is passed over while preempting is still allowed.)"""
    now = snapshot.now
    view = PassView(snapshot, policy.victim_choice)
    view.vector_nodes = 10**9
    ranks = policy.ranks_of(snapshot)
    view.add_victims(policy._candidates(snapshot, now, 1, ranks).ranked())
    queue_of = {job.job_id: policy.pending_queue(job, now) for job in snapshot.pending}
    victim_left = {run.job_id: running_left(policy, run, now, ranks) for run in snapshot.running}
    ordered = sorted(
        snapshot.pending,
        key=lambda job: (
            queue_of[job.job_id],
            policy._late(job, queue_of[job.job_id]),
            job.tier.rank,
            left_of(policy, job, queue_of[job.job_id], ranks),
            job.submitted_at,
            job.job_id,
        ),
    )
    decisions: list[Decision] = []
    failed: dict[object, int] = {}
    stopped_count = 0
    for job in ordered:
        queue = queue_of[job.job_id]
        pools = candidate_pools(snapshot.pools, job)
        may_preempt = policy.max_preemptions is None or stopped_count < policy.max_preemptions
        key = (
            tuple(p.pool_id for p in pools),
            tuple(job.devices > p.node_size for p in pools),
            job.preemptible,
            queue,
            job.tier.rank,
            policy._late(job, queue),
        )
        if may_preempt and job.devices >= failed.get(key, job.devices + 1):
            continue
        start = view.start_on_free(pools, job)
        if start is None and may_preempt:
            chosen = view.start_by_preempting(
                pools, job, eligible_victims(policy, job, queue, ranks, victim_left)
            )
            if chosen is None:
                failed[key] = job.devices
                continue
            start, stopped = chosen
            decisions.extend(Preempt(victim.job_id) for victim in stopped)
            stopped_count += len(stopped)
        if start is not None:
            decisions.append(start)
    return decisions


@pytest.mark.parametrize("vector_nodes", [1, 10**9], ids=["numpy-paths", "loop-paths"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_preemptions": 1},
        {"max_preemptions": None, "preempt_gap": 1},
        {"starve_limit": None, "max_wait_s": 3 * HOUR, "promoted_last": False},
        {"request_order_from": None},
        {"request_order_from": 2, "max_preemptions": None},
        {"rank_preempt_factor": None},
        {"rank_preempt_factor": 1.0, "request_order_from": 1, "max_preemptions": None},
        {"rank_preempt_from": 0},
        {"rank_preempt_from": 1, "preempt_gap": 3, "max_preemptions": None},
    ],
    ids=[
        "defaults",
        "budget-1",
        "no-budget-gap-1",
        "max-wait",
        "fifo-in-queue",
        "request-from-2",
        "queues-only",
        "rank-1-order-from-queue-1",
        "judged-from-queue-0",
        "judged-from-queue-1-gap-3",
    ],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), history=st.booleans())
def test_decide_matches_the_rules_applied_job_by_job(
    vector_nodes: int, options: dict[str, object], snapshot: ClusterSnapshot, history: bool
) -> None:
    """Random snapshots, with or without a run-time history: decide's shortcuts (order and
    victim search through numpy or pruned loops, victims worked out only when needed, early
    stop, skipping jobs too large for the free devices once the budget is spent) give exactly
    the decisions of the plain rules."""
    policy = Las(PolicyContext(restart_cost_s=60.0), **options)  # type: ignore[arg-type]
    if history:
        snapshot = with_history(snapshot)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(las_module, "VECTOR_SEARCH_NODES", vector_nodes)
        patch.setattr(las_module, "VECTOR_ORDER_JOBS", 0 if vector_nodes == 1 else 10**9)
        assert list(policy.decide(snapshot)) == reference_decide(policy, snapshot)


@pytest.mark.parametrize("vector_jobs", [0, 10**9], ids=["numpy", "job-by-job"])
@settings(max_examples=200, deadline=None)
@given(
    snapshot=snapshots(),
    options=st.sampled_from(
        [
            {},
            {"starve_limit": None, "max_wait_s": 2 * HOUR},
            {"promoted_last": False},
            {"request_order_from": None},
            {"request_order_from": 1},
        ]
    ),
    now_shift=st.floats(0.0, 30 * 86_400.0),
    history=st.booleans(),
)
def test_pass_order_equals_sorting_on_the_scalar_rules(
    vector_jobs: int,
    snapshot: ClusterSnapshot,
    options: dict[str, object],
    now_shift: float,
    history: bool,
) -> None:
    """pass_order's queues and order, vectorised or job by job, are exactly pending_queue's
    queues and the sort by (queue, promoted last, tier, device-time left from
    request_order_from on, submission, id), at any time, with or without a run-time history."""
    policy = Las(PolicyContext(), **options)  # type: ignore[arg-type]
    now = snapshot.now + now_shift
    jobs = snapshot.pending
    ranks = policy.ranks_of(with_history(snapshot)) if history else NO_RANKS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(las_module, "VECTOR_ORDER_JOBS", vector_jobs)
        queues, order = policy.pass_order(jobs, now, ranks)
    assert queues == [policy.pending_queue(job, now) for job in jobs]
    expected = sorted(
        range(len(jobs)),
        key=lambda i: (
            queues[i],
            policy._late(jobs[i], queues[i]),
            jobs[i].tier.rank,
            left_of(policy, jobs[i], queues[i], ranks),
            jobs[i].submitted_at,
            jobs[i].job_id,
        ),
    )
    assert order == expected


def reference_wake_at(policy: Las, snapshot: ClusterSnapshot) -> float | None:
    """wake_at as its docstring states it, through the public per-job methods."""
    if not snapshot.pending:
        return None
    now = snapshot.now
    times: list[float] = []
    # The highest queue any pending job could take a victim from: its own where it preempts by
    # judged time left, else preempt_gap below it.
    floor = min(
        queue if judges(policy, queue) else queue + policy.preempt_gap
        for queue in (policy.pending_queue(job, now) for job in snapshot.pending)
    )
    for job in snapshot.pending:
        if policy.pending_queue(job, now) > 0:
            at = policy._promotion_time(job)
            if at is not None:
                times.append(at)
    for run in snapshot.running:
        start_service, service = policy.running_service(run, now)
        queue = policy.queue_of(service, run.tier)
        if queue < len(policy.thresholds_s) and floor <= queue + 1:
            threshold = policy.thresholds_s[queue] * policy.tier_scale[run.tier]
            times.append(run.started_at + (threshold - start_service) / run.devices)
        if queue >= max(1, floor):
            times.append(policy.protected_until(run))
    future = [at for at in times if at > now and at != float("inf")]
    return min(future) if future else None


@settings(max_examples=200, deadline=None)
@given(
    snapshot=snapshots(),
    options=st.sampled_from(
        [
            {},
            {"preempt_gap": 1},
            {"starve_limit": None, "max_wait_s": HOUR},
            {"rank_preempt_factor": None},
            {"rank_preempt_factor": None, "preempt_gap": 3},
            {"rank_preempt_from": 0},
            {"rank_preempt_from": 1, "preempt_gap": 3},
            {"request_order_from": None},
        ]
    ),
    now_shift=st.floats(0.0, 5 * 86_400.0),
)
def test_wake_at_equals_the_rules_through_the_per_job_methods(
    snapshot: ClusterSnapshot, options: dict[str, object], now_shift: float
) -> None:
    """wake_at, with its per-job work inlined, answers as the per-job methods say it should."""
    policy = Las(PolicyContext(restart_cost_s=60.0), **options)  # type: ignore[arg-type]
    later = replace(snapshot, now=snapshot.now + now_shift)
    assert policy.wake_at(later) == reference_wake_at(policy, later)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=snapshots(),
    shifts=st.lists(st.floats(0.0, 3 * 86_400.0), min_size=1, max_size=4),
    history=st.booleans(),
    kept=st.sampled_from([1, 3, las_module.ATTEMPTS_KEPT]),
)
def test_one_policy_over_many_snapshots_decides_as_a_fresh_one(
    snapshot: ClusterSnapshot, shifts: list[float], history: bool, kept: int
) -> None:
    """The per-attempt facts a policy keeps between decisions change nothing: one policy that
    sees the same running jobs at later times, and then a running job whose attempt changed
    (another start, more service before it), decides and wakes exactly as a new policy does,
    however few attempts it may keep."""
    if history:
        snapshot = with_history(snapshot)
    kept_policy = Las(PolicyContext(restart_cost_s=60.0))
    later = [replace(snapshot, now=snapshot.now + shift) for shift in sorted(shifts)]
    if snapshot.running:
        first, *rest = snapshot.running
        restarted = replace(
            first,
            started_at=first.started_at + 1_800.0,
            attained_device_seconds=first.attained_device_seconds + 3_600.0,
        )
        last = later[-1]
        later.append(replace(last, running=(restarted, *rest), now=last.now + 1_800.0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(las_module, "ATTEMPTS_KEPT", kept)
        for moment in later:
            fresh = Las(PolicyContext(restart_cost_s=60.0))
            assert list(kept_policy.decide(moment)) == list(fresh.decide(moment))
            assert kept_policy.wake_at(moment) == fresh.wake_at(moment)
    assert len(kept_policy._attempts) <= max(kept, 1)


def moments_at_the_edges(policy: Las, snapshot: ClusterSnapshot) -> list[float]:
    """Every running job's queue crossings and protection end (as the per-job methods give
    them), with moments just before and after each, from the snapshot's time on."""
    edges: list[float] = []
    for run in snapshot.running:
        start_service, _ = policy.running_service(run, snapshot.now)
        for threshold in policy.thresholds_s:
            scaled = threshold * policy.tier_scale[run.tier]
            edges.append(run.started_at + (scaled - start_service) / run.devices)
            # where its service reaches the bound less rounding slack that decides its queue
            bound = scaled - 1e-9 * max(1.0, scaled)
            edges.append(run.started_at + (bound - start_service) / run.devices)
        edges.append(policy.protected_until(run))
    moments = {snapshot.now}
    for edge in edges:
        if edge == float("inf"):
            continue
        moments.update((math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)))
        for nudge in (0.0, 1e-9, 1e-7, 1e-6, 1e-3):
            moments.update((edge - nudge * max(1.0, abs(edge)), edge + nudge * max(1.0, abs(edge))))
    return sorted(moment for moment in moments if moment >= snapshot.now)


def waiting_in_each_queue(
    policy: Las, snapshot: ClusterSnapshot, now: float
) -> list[ClusterSnapshot]:
    """``snapshot`` at ``now``, and with its first pending job alone, put in each queue in turn
    by its attained service (submitted at ``now``, so not starving): each gives wake_at
    another queue victims may come from."""
    at_now = replace(snapshot, now=now)
    if not snapshot.pending:
        return [at_now]
    first = snapshot.pending[0]
    scale = policy.tier_scale[first.tier]
    services = [0.0] + [threshold * scale * 1.001 for threshold in policy.thresholds_s]
    return [at_now] + [
        replace(
            at_now,
            pending=(replace(first, attained_device_seconds=service, submitted_at=now),),
        )
        for service in services
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=snapshots(),
    kept=st.sampled_from([1, 3, 1_000]),
    options=st.sampled_from(
        [
            {},
            {"preempt_gap": 1},
            {"preempt_gap": 1, "thresholds_gpu_hours": (1.0, 4.0, 16.0)},
            {"rank_preempt_from": 0, "preempt_gap": 3},
            {"rank_preempt_factor": None},
        ]
    ),
)
def test_one_policy_woken_again_and_again_answers_as_a_fresh_one(
    snapshot: ClusterSnapshot, kept: int, options: dict[str, object]
) -> None:
    """The part of each running job in wake_at that a policy keeps between calls changes
    nothing: asked at every crossing and protection end of its running jobs, and just before
    and after each, forward in time and then back, one policy wakes exactly as a new one does,
    also when the pending jobs (and so the queues they could take victims from) change from
    one call to the next."""
    kept_policy = Las(PolicyContext(restart_cost_s=60.0), **options)  # type: ignore[arg-type]
    moments = moments_at_the_edges(kept_policy, snapshot)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(las_module, "ATTEMPTS_KEPT", kept)
        for index, moment in enumerate(moments + moments[::-1]):
            variants = waiting_in_each_queue(kept_policy, snapshot, moment)
            later = variants[index % len(variants)]
            fresh = Las(PolicyContext(restart_cost_s=60.0), **options)  # type: ignore[arg-type]
            assert kept_policy.wake_at(later) == fresh.wake_at(later)
    assert len(kept_policy._wakes) <= max(kept, 1)


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.integers(1, 3), st.sampled_from([0.0, 1.0, 2.0, 3.5, 7.0, 1e6])),
        max_size=8,
    ),
    queue=st.integers(0, 3),
    gap=st.integers(1, 3),
    left=st.one_of(st.none(), st.sampled_from([0.0, 1.0, 1.75, 3.5, 1e6])),
    factor=st.sampled_from([1.0, 2.0, 4.0]),
)
def test_could_preempt_answers_as_the_victim_tests_over_every_candidate(
    entries: list[tuple[int, float]], queue: int, gap: int, left: float | None, factor: float
) -> None:
    """Candidates.could_preempt, from two aggregates, is true exactly when some candidate
    passes the victim test decide would then apply (by queue alone without a judged time left,
    by queue or judged time left with one)."""
    jobs = [
        running(index + 1, "a", (0,), started=0.0, submitted=0.0) for index in range(len(entries))
    ]
    candidates = las_module.Candidates(
        [
            (job, job_queue, job_left)
            for job, (job_queue, job_left) in zip(jobs, entries, strict=True)
        ],
        3,
    )
    lefts = {job.job_id: job_left for job, (_, job_left) in zip(jobs, entries, strict=True)}
    below = queue + gap - 1
    test = (
        las_module._below(below)
        if left is None
        else las_module._below_or_judged_longer(below, queue, left, factor, lefts)
    )
    victims = [
        Victim(job, float(job_queue), job.placement, 1, 1, index)
        for index, (job, (job_queue, _)) in enumerate(zip(jobs, entries, strict=True))
    ]
    answer = (
        candidates.could_preempt(below)
        if left is None
        else candidates.could_preempt(below, queue=queue, left=left, factor=factor)
    )
    assert answer == any(map(test, victims))


def node_choice_snapshot() -> ClusterSnapshot:
    """Two full 8-device nodes, everything in the bottom queue and out of its protection: node
    ``a`` holds one 8-device job with 8 device-hours of its request left, node ``b`` eight
    1-device jobs with 94 each; an 8-device job arrives."""
    now = 20 * HOUR
    began = now - HOUR
    one_big = running(
        1, "a", tuple(range(8)), started=began, submitted=began, attained=32 * HOUR, limit=6 * 3600
    )
    small = tuple(
        running(
            10 + index,
            "b",
            (index,),
            started=began,
            submitted=began,
            attained=5 * HOUR,
            limit=100 * 3600,
        )
        for index in range(8)
    )
    pools = (pool(1, node("a", busy=tuple(range(8))), node("b", busy=tuple(range(8)))),)
    return snap(now, pools, (pending(9, devices=8, submitted=now - 10),), (one_big, *small))


def test_least_valuable_victims_win_over_fewest_victims() -> None:
    """By default a job preempts where the most valuable job it stops ranks lowest: the eight
    jobs with most requested device-time left, although that stops eight jobs instead of one."""
    decisions = decide(las(), node_choice_snapshot())
    assert sorted(preempted(decisions)) == list(range(10, 18))
    start = decisions[-1]
    assert isinstance(start, Start) and start.placement[0].node == "b"


def test_fewest_victims_choice_stops_the_single_job() -> None:
    """``victim_choice="fewest"`` (the choice before 2026-12-06) stops the one job on ``a``."""
    decisions = decide(las(victim_choice="fewest"), node_choice_snapshot())
    assert preempted(decisions) == [1]
    start = decisions[-1]
    assert isinstance(start, Start) and start.placement[0].node == "a"


def test_least_valuable_takes_the_node_its_order_frees_first() -> None:
    """Victims are walked least valuable first (requested device-time left 988, 888, 388, 88);
    the job starts on the first node they free enough devices of (``a``, at the third), and
    only the victims there are stopped. Counting victims alone ties the nodes at two each, and
    ``b`` is listed first."""
    now = 20 * HOUR
    began = now - HOUR
    run = (
        running(
            1, "a", (0, 1), started=began, submitted=began, attained=10 * HOUR, limit=500 * 3600
        ),
        running(
            2, "b", (0, 1), started=began, submitted=began, attained=10 * HOUR, limit=450 * 3600
        ),
        running(
            3, "a", (2, 3), started=began, submitted=began, attained=10 * HOUR, limit=200 * 3600
        ),
        running(
            4, "b", (2, 3), started=began, submitted=began, attained=10 * HOUR, limit=50 * 3600
        ),
    )
    pools = (pool(1, node("b", 4, busy=(0, 1, 2, 3)), node("a", 4, busy=(0, 1, 2, 3))),)
    snapshot = snap(now, pools, (pending(9, devices=4, submitted=now),), run)
    decisions = decide(las(), snapshot)
    assert sorted(preempted(decisions)) == [1, 3]
    assert decisions[-1] == Start(9, 1, (NodeSlice("a", (0, 1, 2, 3)),))
    assert sorted(preempted(decide(las(victim_choice="fewest"), snapshot))) == [2, 4]


def test_rejects_an_unknown_victim_choice() -> None:
    with pytest.raises(ValueError, match="victim_choice"):
        Las(victim_choice="random")  # type: ignore[arg-type]


def test_finished_jobs_run_times_order_a_queue_over_requested_time() -> None:
    """Two new one-device jobs, one free device. By requested time the 4-hour job goes first;
    but every finished job that asked for 24 hours ran 10 minutes and every one that asked for
    4 hours ran all 4, so with that history the 24-hour job goes first. learn_run_times=False
    keeps the order by requested time."""
    pools = (pool(1, node("a", 1)),)
    waiting = (pending(1, limit=86_400), pending(2, limit=14_400))
    history = RunTimeHistory({86_400: (600.0,) * MIN_SAMPLES, 14_400: (14_400.0,) * MIN_SAMPLES})
    plain = snap(0.0, pools, waiting)
    learnt = replace(plain, history=history)
    assert started(decide(las(), plain)) == [2]
    assert started(decide(las(), learnt)) == [1]
    assert started(decide(las(learn_run_times=False), learnt)) == [2]


def test_the_victim_judged_to_have_most_left_is_preempted_first() -> None:
    """Two bottom-queue jobs have run 10 hours each. By requested time the first has more left
    (it asked for a second more) and is preempted for a new job; but finished jobs of its limit
    ran 11 hours and those of the second's ran all 20, so with that history the second is."""
    pools = (pool(1, node("a", 1, busy=(0,)), node("b", 1, busy=(0,))),)
    longer, shorter = 20 * 3_600 + 1, 20 * 3_600
    run = (running(1, "a", (0,), limit=longer), running(2, "b", (0,), limit=shorter))
    history = RunTimeHistory(
        {longer: (11 * HOUR,) * MIN_SAMPLES, shorter: (20 * HOUR,) * MIN_SAMPLES}
    )
    plain = snap(10 * HOUR, pools, (pending(3),), run)
    assert preempted(decide(las(), plain)) == [1]
    assert preempted(decide(las(), replace(plain, history=history))) == [2]


def one_queue_1_runner(
    pending_limit_h: float, runner_limit_h: float, started: float
) -> ClusterSnapshot:
    """At 3 h a 1-device node runs a queue-1 job (2 h run) and a queue-1 job (1.5 h run)
    waits; each asked for the given limits, which finished jobs that asked for them used in
    full (so a job's rank is its requested time left)."""
    limits = (int(pending_limit_h * HOUR), int(runner_limit_h * HOUR))
    return runs_in_full(
        snap(
            3 * HOUR,
            (pool(1, node("a", devices=1, busy=(0,))),),
            (pending(9, attained=1.5 * HOUR, limit=limits[0]),),
            (running(1, "a", (0,), started=started, submitted=HOUR, limit=limits[1]),),
        )
    )


def runs_in_full(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """``snapshot`` with a run-time history in which finished jobs of every limit its jobs
    asked for ran for all of it: each job's rank is then its requested device-time left."""
    limits = {job.time_limit_s for job in snapshot.pending} | {
        job.time_limit_s for job in snapshot.running
    }
    history = RunTimeHistory({limit: (float(limit),) * MIN_SAMPLES for limit in limits})
    return replace(snapshot, history=history)


@pytest.mark.parametrize(
    ("runner_limit_h", "expected"),
    [(4.0, [1]), (3.9, []), (2.5, [])],
    ids=["twice-as-much-left", "just-under-twice", "less-left"],
)
def test_a_job_preempts_one_of_its_queue_judged_to_have_twice_its_time_left(
    runner_limit_h: float, expected: list[int]
) -> None:
    """The pending job has 1 device-hour left of its 2.5 h limit; the runner, 2 h into its
    limit, has 2 h left of 4 h (twice as much: preempted), 1.9 h of 3.9 h, or 0.5 h of 2.5 h."""
    snapshot = one_queue_1_runner(2.5, runner_limit_h, started=HOUR)
    assert preempted(decide(bottom_las(), snapshot)) == expected


def test_preempting_by_judged_time_left_respects_the_minimum_run() -> None:
    """A bottom-queue runner with much more left (2 h run before, restarted 5 minutes ago; min_run_s
    10 minutes) is not preempted yet; its protection's end is when the policy wakes to try
    again, and then it is preempted."""
    policy = bottom_las()
    snapshot = snap(
        3 * HOUR,
        (pool(1, node("a", devices=1, busy=(0,))),),
        (pending(9, attained=1.5 * HOUR, limit=int(2.5 * HOUR)),),
        (
            running(
                1, "a", (0,), started=3 * HOUR - 300.0, attained=2 * HOUR, limit=int(100 * HOUR)
            ),
        ),
    )
    snapshot = runs_in_full(snapshot)
    assert decide(policy, snapshot) == []
    assert policy.wake_at(snapshot) == 3 * HOUR + 300.0
    assert preempted(decide(policy, replace(snapshot, now=3 * HOUR + 300.0))) == [1]


def test_preempting_by_judged_time_left_goes_by_learnt_run_times() -> None:
    """By their limits the runner has less left (2 h of 4 h) than the pending job (4 h of
    5.5 h). But jobs of the runner's limit ran all 4 h and those of the pending one's 1.6 h,
    so the pending job, 1.5 h in, is judged to have 0.1 h left against the runner's 2 h, and
    the runner is preempted. Without learnt run times, or with queues only, it is not."""
    history = RunTimeHistory(
        {int(4 * HOUR): (4 * HOUR,) * MIN_SAMPLES, int(5.5 * HOUR): (1.6 * HOUR,) * MIN_SAMPLES}
    )
    snapshot = replace(one_queue_1_runner(5.5, 4.0, started=HOUR), history=history)
    assert preempted(decide(bottom_las(), snapshot)) == [1]
    assert decide(bottom_las(learn_run_times=False), snapshot) == []
    assert decide(bottom_las(rank_preempt_factor=None), snapshot) == []


def test_rank_preempt_factor_is_validated_and_needs_an_order_by_time_left() -> None:
    with pytest.raises(ValueError, match="rank_preempt_factor"):
        las(rank_preempt_factor=0.5)
    with pytest.raises(ValueError, match="rank_preempt_from"):
        las(rank_preempt_from=-1)
    snapshot = one_queue_1_runner(2.5, 100.0, started=HOUR)
    assert preempted(decide(bottom_las(), snapshot)) == [1]
    assert decide(bottom_las(request_order_from=None), snapshot) == []
    assert decide(bottom_las(request_order_from=2), snapshot) == []  # past the last queue
