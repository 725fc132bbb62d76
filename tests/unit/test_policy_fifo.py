"""The FIFO policy, gang placement on FreeDevices, the decision checker and the policy registry.

Also home of the small snapshot builders the other policy tests import (``node``, ``pool``,
``pending``, ``running``, ``snapshot``, ``start``).
"""

import copy
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.commons import Tier
from nuri.domain.errors import InvalidInput
from nuri.policy.allocation_fair import AllocationFair
from nuri.policy.backfill import EasyBackfill
from nuri.policy.fifo import Fifo, arrival_order
from nuri.policy.multifactor import SlurmMultifactor
from nuri.policy.placement import FreeDevices, candidate_pools, check_decisions
from nuri.policy.registry import POLICIES, policy_named
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    GroupUsage,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    Preempt,
    Reservation,
    RunningJob,
    Start,
)

# --- builders (imported by the other policy tests) ---------------------------------------------


def node(
    name: str, devices: int = 8, busy: tuple[int, ...] = (), reserved_for: int | None = None
) -> NodeState:
    """A node with ``devices`` devices, all free except ``busy``."""
    return NodeState(
        name=name,
        devices=devices,
        free_indices=tuple(index for index in range(devices) if index not in busy),
        reserved_for=reserved_for,
    )


def pool(pool_id: int, *nodes: NodeState, accelerator: str = "H100") -> PoolState:
    """A pool holding the given nodes."""
    return PoolState(
        pool_id=pool_id,
        name=f"pool-{pool_id}",
        accelerator=accelerator,
        rate_milli=1000,
        nodes=nodes,
    )


def pending(
    job_id: int,
    pool_id: int | None,
    devices: int,
    submitted_at: float = 0.0,
    *,
    time_limit_s: int = 3600,
    tier: Tier = Tier.GENERAL,
    project_id: int = 1,
    accelerator: str | None = None,
    preemptible: bool = True,
) -> PendingJob:
    """A pending job asking for ``devices`` of pool ``pool_id`` (or of an accelerator class)."""
    return PendingJob(
        job_id=job_id,
        project_id=project_id,
        allocation_id=project_id,
        tier=tier,
        pool_id=pool_id,
        devices=devices,
        time_limit_s=time_limit_s,
        submitted_at=submitted_at,
        accelerator=accelerator,
        preemptible=preemptible,
    )


def running(
    job_id: int,
    pool_id: int,
    *parts: tuple[str, tuple[int, ...]],
    started_at: float = 0.0,
    time_limit_s: int = 3600,
    project_id: int = 1,
) -> RunningJob:
    """A running job holding ``(node, indices)`` parts, until ``started_at + time_limit_s``."""
    return RunningJob(
        job_id=job_id,
        project_id=project_id,
        allocation_id=project_id,
        tier=Tier.GENERAL,
        pool_id=pool_id,
        placement=tuple(NodeSlice(name, indices) for name, indices in parts),
        time_limit_s=time_limit_s,
        started_at=started_at,
        submitted_at=0.0,
    )


def snapshot(
    pools: tuple[PoolState, ...],
    jobs: tuple[PendingJob, ...],
    run: tuple[RunningJob, ...] = (),
    *,
    now: float = 1000.0,
    groups: Mapping[int, GroupUsage] | None = None,
    reservations: tuple[Reservation, ...] = (),
) -> ClusterSnapshot:
    """A snapshot at ``now`` (1000 s by default) with the given pools and jobs.

    ``pending`` is put in submission order, as the snapshot contract requires.
    """
    return ClusterSnapshot(
        now=now,
        pools=pools,
        running=run,
        pending=tuple(sorted(jobs, key=lambda job: (job.submitted_at, job.job_id))),
        groups=groups or {},
        reservations=reservations,
    )


def start(job_id: int, pool_id: int, *parts: tuple[str, tuple[int, ...]]) -> Start:
    """A Start decision from ``(node, indices)`` parts."""
    return Start(
        job_id=job_id,
        pool_id=pool_id,
        placement=tuple(NodeSlice(name, indices) for name, indices in parts),
    )


def decide(snap: ClusterSnapshot) -> list[Decision]:
    """Run FIFO on ``snap`` and check its output with the engine's checker."""
    decisions = list(Fifo().decide(snap))
    check_decisions(snap, decisions)
    return decisions


# --- order ------------------------------------------------------------------------------------


def test_jobs_start_in_arrival_order() -> None:
    """Pending jobs start in submission-time order."""
    snap = snapshot(
        (pool(1, node("a"), node("b")),),
        (pending(3, 1, 2, 30.0), pending(1, 1, 2, 10.0), pending(2, 1, 2, 20.0)),
    )
    assert [d.job_id for d in decide(snap)] == [1, 2, 3]


def test_equal_arrival_times_break_ties_by_job_id() -> None:
    """Jobs submitted at the same moment start in job-id order."""
    snap = snapshot(
        (pool(1, node("a")),),
        (pending(9, 1, 1, 5.0), pending(4, 1, 1, 5.0), pending(6, 1, 1, 5.0)),
    )
    assert [d.job_id for d in decide(snap)] == [4, 6, 9]


def test_higher_tier_goes_before_earlier_submission() -> None:
    """Tier comes first: a strategic job submitted later takes the last device."""
    snap = snapshot(
        (pool(1, node("a", devices=1)),),
        (pending(1, 1, 1, 1.0), pending(2, 1, 1, 9.0, tier=Tier.STRATEGIC)),
    )
    assert decide(snap) == [start(2, 1, ("a", (0,)))]


# --- head-of-line blocking -----------------------------------------------------------------------


def test_head_of_line_blocks_same_pool_only() -> None:
    """A head job that does not fit blocks later jobs in its pool, but not in other pools."""
    snap = snapshot(
        (
            pool(1, node("a", busy=(0, 1, 2, 3, 4)), node("b", busy=(0, 1, 2, 3))),
            pool(2, node("c")),
        ),
        (
            pending(1, 1, 1, 1.0),  # fits on a (3 free)
            pending(2, 1, 8, 2.0),  # 6 free left in pool 1: blocks it
            pending(3, 1, 1, 3.0),  # would fit, but is behind job 2
            pending(4, 2, 2, 4.0),  # pool 2 is full after job 5
            pending(5, 2, 8, 0.5),  # earliest job of all, fills c
        ),
    )
    assert decide(snap) == [start(5, 2, ("c", tuple(range(8)))), start(1, 1, ("a", (5,)))]


def test_blocked_pool_does_not_block_later_pool_jobs() -> None:
    """A blocked pool listed first still lets a later pool's jobs start."""
    snap = snapshot(
        (pool(1, node("a", devices=4)), pool(2, node("b", devices=4))),
        (pending(1, 1, 8, 1.0), pending(2, 1, 1, 2.0), pending(3, 2, 4, 3.0)),
    )
    assert decide(snap) == [start(3, 2, ("b", (0, 1, 2, 3)))]


def test_accelerator_class_job_goes_to_pool_with_most_free_devices() -> None:
    """A job naming an accelerator class starts on its candidate pool with the most free devices."""
    snap = snapshot(
        (
            pool(1, node("a", busy=(0, 1, 2, 3, 4, 5))),
            pool(2, node("b", busy=(0,))),
            pool(3, node("c"), accelerator="A100"),
        ),
        (pending(1, None, 2, accelerator="H100"),),
    )
    assert decide(snap) == [start(1, 2, ("b", (1, 2)))]


def test_blocked_accelerator_class_job_blocks_all_its_pools() -> None:
    """FIFO: a class job that fits nowhere blocks every pool of its class, not other classes."""
    snap = snapshot(
        (
            pool(1, node("a", devices=4)),
            pool(2, node("b", devices=4)),
            pool(3, node("c", devices=4), accelerator="A100"),
        ),
        (
            pending(1, None, 6, 1.0, accelerator="H100"),
            pending(2, 1, 1, 2.0),
            pending(3, 2, 1, 3.0),
            pending(4, 3, 1, 4.0),
        ),
    )
    assert decide(snap) == [start(4, 3, ("c", (0,)))]


# --- placement -------------------------------------------------------------------------------


def test_best_fit_chooses_fullest_node_that_fits() -> None:
    """A job goes to the node with the fewest free devices that can still hold it."""
    snap = snapshot(
        (
            pool(
                1,
                node("empty"),
                node("half", busy=(0, 1, 2, 3)),
                node("almost-full", busy=(0, 1, 2, 3, 4, 5, 6)),
                node("six-busy", busy=(0, 1, 2, 3, 4, 5)),
            ),
        ),
        (pending(1, 1, 2, 1.0),),
    )
    assert decide(snap) == [start(1, 1, ("six-busy", (6, 7)))]


def test_best_fit_ties_go_to_first_listed_node() -> None:
    """Among equally full nodes the first listed is chosen."""
    snap = snapshot(
        (pool(1, node("x", busy=(0,)), node("y", busy=(7,)), node("z")),),
        (pending(1, 1, 3, 1.0),),
    )
    assert decide(snap) == [start(1, 1, ("x", (1, 2, 3)))]


def test_gang_spans_emptiest_nodes_when_no_node_fits() -> None:
    """A job larger than any node's free devices takes the emptiest nodes first, as few as can."""
    snap = snapshot(
        (
            pool(
                1, node("a", busy=(0, 1, 2, 3, 4, 5)), node("b", busy=(0,)), node("c", busy=(0, 1))
            ),
        ),
        (pending(1, 1, 10, 1.0),),
    )
    assert decide(snap) == [start(1, 1, ("b", (1, 2, 3, 4, 5, 6, 7)), ("c", (2, 3, 4)))]


def test_later_decisions_see_earlier_placements() -> None:
    """Within one cycle devices given to one job are not given to the next."""
    snap = snapshot(
        (pool(1, node("a", devices=4), node("b", devices=4)),),
        (pending(1, 1, 3, 1.0), pending(2, 1, 2, 2.0), pending(3, 1, 1, 3.0)),
    )
    assert decide(snap) == [
        start(1, 1, ("a", (0, 1, 2))),
        start(2, 1, ("b", (0, 1))),
        start(3, 1, ("a", (3,))),
    ]


def test_lowest_free_indices_are_chosen() -> None:
    """A job gets the lowest-numbered free devices of its node."""
    free = (7, 5, 3, 1, 6)
    snap = snapshot(
        (pool(1, NodeState(name="a", devices=8, free_indices=free)),),
        (pending(1, 1, 3, 1.0),),
    )
    assert decide(snap) == [start(1, 1, ("a", (1, 3, 5)))]


def test_free_devices_place_takes_devices_and_refuses_without_taking() -> None:
    """FreeDevices.place removes what it places; a gang that does not fit takes nothing."""
    free = FreeDevices(snapshot((pool(1, node("a", devices=4, busy=(1,))),), ()))
    assert free.place(1, 2, may_borrow=False) == (NodeSlice("a", (0, 2)),)
    assert free.free(1) == 1
    assert free.place(1, 2, may_borrow=False) is None
    assert free.free(1) == 1
    free.give_back(1, (NodeSlice("a", (0, 2)),))
    assert free.free(1) == 3


def test_non_preemptible_job_never_borrows_reserved_devices() -> None:
    """Only preemptible jobs may use the lendable free devices of a reserved node."""
    snap = snapshot(
        (pool(1, node("r", devices=4, reserved_for=1)),),
        (pending(1, 1, 2, 1.0, preemptible=False), pending(2, 1, 2, 2.0)),
        reservations=(Reservation(1, 1, wanted=0, starts_at=0.0, ends_at=1e9),),
    )
    assert decide(snap) == []  # job 1 cannot start and blocks the pool
    snap = snapshot(snap.pools, (pending(2, 1, 2, 2.0),), reservations=snap.reservations)
    assert decide(snap) == [start(2, 1, ("r", (0, 1)))]


# --- edge cases ------------------------------------------------------------------------------


def test_no_pending_jobs_means_no_decisions() -> None:
    """An empty queue yields no decisions."""
    assert decide(snapshot((pool(1, node("a")),), ())) == []


def test_job_for_unknown_pool_is_not_started() -> None:
    """A pending job whose pool is not in the snapshot is left alone."""
    assert decide(snapshot((pool(1, node("a")),), (pending(1, 99, 1, 1.0),))) == []


def test_decide_is_deterministic_and_does_not_mutate_snapshot() -> None:
    """Two calls on equal snapshots give equal decisions, and the snapshot is unchanged."""
    snap = snapshot(
        (pool(1, node("a", busy=(2,)), node("b", busy=(0, 1))), pool(2, node("c", devices=2))),
        (pending(1, 1, 3, 2.0), pending(2, 2, 2, 1.0), pending(3, 1, 5, 3.0)),
        (running(10, 1, ("a", (2,))), running(11, 1, ("b", (0, 1)))),
    )
    before = copy.deepcopy(snap)
    first = decide(snap)
    second = decide(snap)
    assert first == second
    assert Fifo().decide(before) == first
    assert snap == before


# --- properties -------------------------------------------------------------------------------


@st.composite
def snapshots(draw: st.DrawFn) -> ClusterSnapshot:
    """Random pools (1-4 nodes of 1-8 devices, random busy indices) and pinned pending jobs."""
    pools: list[PoolState] = []
    for pool_id in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        nodes = []
        for index in range(draw(st.integers(min_value=1, max_value=4))):
            devices = draw(st.integers(min_value=1, max_value=8))
            busy = draw(st.sets(st.integers(min_value=0, max_value=devices - 1)))
            free = draw(st.permutations([i for i in range(devices) if i not in busy]))
            nodes.append(NodeState(f"p{pool_id}-n{index}", devices, tuple(free)))
        pools.append(pool(pool_id, *nodes))
    job_count = draw(st.integers(min_value=0, max_value=12))
    jobs = tuple(
        pending(
            job_id,
            draw(st.integers(min_value=1, max_value=len(pools) + 1)),  # may name an unknown pool
            draw(st.integers(min_value=1, max_value=12)),
            draw(st.integers(min_value=0, max_value=20)),
            tier=draw(st.sampled_from(list(Tier))),
        )
        for job_id in draw(st.permutations(range(1, job_count + 1)))
    )
    return snapshot(tuple(pools), jobs)


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_fifo_decisions_are_always_valid(snap: ClusterSnapshot) -> None:
    """FIFO never over-commits, never starts a job twice and keeps jobs in their pools."""
    decisions = list(Fifo().decide(snap))
    check_decisions(snap, decisions)
    assert all(isinstance(d, Start) for d in decisions)
    assert Fifo().decide(snap) == decisions


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_fifo_starts_a_prefix_of_each_pool_queue(snap: ClusterSnapshot) -> None:
    """Per pool, FIFO starts its jobs in order and stops only at one that does not fit."""
    decisions = [d for d in Fifo().decide(snap) if isinstance(d, Start)]
    started = [d.job_id for d in decisions]
    for state in snap.pools:
        queue = sorted(
            (job for job in snap.pending if candidate_pools(snap.pools, job) == [state]),
            key=arrival_order,
        )
        queue_ids = [job.job_id for job in queue]
        mine = [job_id for job_id in started if job_id in set(queue_ids)]
        assert mine == queue_ids[: len(mine)]
        if len(mine) < len(queue):
            # the job FIFO stopped at cannot be placed on what the decisions left free
            free = FreeDevices(snap)
            for decision in decisions:
                free.take(decision.pool_id, decision.placement)
            blocker = queue[len(mine)]
            assert (
                free.place(state.pool_id, blocker.devices, may_borrow=blocker.preemptible) is None
            )


# --- check_decisions ---------------------------------------------------------------------------

CHECK_SNAPSHOT = snapshot(
    (
        pool(1, node("a", devices=4, busy=(0,))),
        pool(2, node("b", devices=4)),
        pool(3, node("r", devices=2, reserved_for=1)),
    ),
    (
        pending(1, 1, 2, 1.0),
        pending(2, 1, 1, 2.0),
        pending(3, 2, 2, 3.0),
        pending(4, 3, 1, 4.0, preemptible=False),
    ),
    (running(7, 1, ("a", (0,))),),
    reservations=(Reservation(1, 3, wanted=0, starts_at=0.0, ends_at=1e9),),
)


def test_check_decisions_accepts_valid_decisions() -> None:
    """Valid starts, a start on devices a preemption frees, and a preempt pass the checker."""
    check_decisions(
        CHECK_SNAPSHOT,
        [
            start(1, 1, ("a", (1, 2))),
            start(2, 1, ("a", (0,))),  # freed by the preemption of job 7
            start(3, 2, ("b", (2, 0))),
            Preempt(job_id=7),
        ],
    )


@pytest.mark.parametrize(
    ("decisions", "cause"),
    [
        ([start(1, 1, ("a", (1, 2))), start(1, 1, ("a", (3, 2)))], "started twice"),
        ([start(99, 1, ("a", (1,)))], "not pending"),
        ([start(7, 1, ("a", (1,)))], "not pending"),
        ([start(2, 1, ("a", (0,)))], "busy"),
        ([start(1, 1, ("a", (1, 2))), start(2, 1, ("a", (2,)))], "busy"),
        ([start(2, 1, ("a", (9,)))], "busy"),
        ([start(1, 2, ("b", (0, 1)))], "does not accept"),
        ([start(1, 1, ("b", (0, 1)))], "outside its pool"),
        ([start(1, 1, ("nowhere", (0, 1)))], "outside its pool"),
        ([start(1, 1, ("a", (1,)))], "needs 2 distinct devices"),
        ([start(1, 1, ("a", (1, 2, 3)))], "needs 2 distinct devices"),
        ([start(1, 1, ("a", (1, 1)))], "needs 2 distinct devices"),
        ([start(1, 1, ("a", (1,)), ("a", (2,)))], "needs 2 distinct devices"),
        ([start(4, 3, ("r", (0,)))], "non-preemptible"),
        ([Preempt(job_id=1)], "not running"),
        ([Preempt(job_id=42)], "not running"),
        ([Preempt(job_id=7), Preempt(job_id=7)], "preempted twice"),
    ],
    ids=[
        "double-start",
        "unknown-job",
        "start-running-job",
        "busy-device",
        "device-taken-earlier-in-cycle",
        "device-not-on-node",
        "pool-not-accepted",
        "node-of-another-pool",
        "unknown-node",
        "too-few-devices",
        "too-many-devices",
        "repeated-index",
        "node-listed-twice",
        "non-preemptible-on-reserved-node",
        "preempt-pending-job",
        "preempt-unknown-job",
        "double-preempt",
    ],
)
def test_check_decisions_refuses(decisions: list[Decision], cause: str) -> None:
    """Invalid decisions raise ValueError naming the rule they break."""
    with pytest.raises(ValueError, match=cause):
        check_decisions(CHECK_SNAPSHOT, decisions)


# --- registry --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("fifo", Fifo),
        ("easy-backfill", EasyBackfill),
        ("slurm-multifactor", SlurmMultifactor),
        ("allocation-fair", AllocationFair),
    ],
    ids=["fifo", "easy-backfill", "slurm-multifactor", "allocation-fair"],
)
def test_policy_named_builds_a_fresh_policy(name: str, cls: type) -> None:
    """policy_named returns a fresh, non-preemptive policy of the registered class and name."""
    policy = policy_named(name)
    assert isinstance(policy, cls)
    assert policy.name == name
    assert policy.preemptive is False
    assert policy.wake_at(snapshot((pool(1, node("a")),), ())) is None
    assert policy_named(name, live=True) is not policy


@pytest.mark.parametrize("name", ["lifo", "", "FIFO", "fifo "])
def test_policy_named_unknown_lists_known_names(name: str) -> None:
    """An unknown policy name raises InvalidInput listing every known policy."""
    with pytest.raises(InvalidInput, match="known policies: ") as caught:
        policy_named(name)
    assert repr(name) in caught.value.message
    for known in POLICIES:
        assert known in caught.value.message
