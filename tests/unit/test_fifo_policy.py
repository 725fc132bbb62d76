"""The FIFO policy, best-fit placement, the decision checker and the policy registry."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nuri.domain.commons import Tier
from nuri.domain.errors import InvalidInput
from nuri.policy.fifo import Fifo
from nuri.policy.placement import check_decisions, free_map, place_on_one_node
from nuri.policy.registry import POLICIES, policy_named
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeState,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)


def node(name: str, devices: int = 8, busy: tuple[int, ...] = ()) -> NodeState:
    """A node with ``devices`` devices, all free except ``busy``."""
    return NodeState(
        name=name,
        devices=devices,
        free_indices=tuple(index for index in range(devices) if index not in busy),
    )


def pool(pool_id: int, *nodes: NodeState) -> PoolState:
    """A pool holding the given nodes."""
    return PoolState(
        pool_id=pool_id, name=f"pool-{pool_id}", accelerator="H100", rate_milli=1000, nodes=nodes
    )


def pending(job_id: int, pool_id: int, devices: int, submitted_at: float) -> PendingJob:
    """A pending job of project 1 asking for ``devices`` of pool ``pool_id``."""
    return PendingJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=Tier.GENERAL,
        pool_id=pool_id,
        devices=devices,
        time_limit_s=3600,
        submitted_at=submitted_at,
    )


def running(job_id: int, pool_id: int, node_name: str, indices: tuple[int, ...]) -> RunningJob:
    """A running job holding ``indices`` on ``node_name``."""
    return RunningJob(
        job_id=job_id,
        project_id=1,
        allocation_id=1,
        tier=Tier.GENERAL,
        pool_id=pool_id,
        node=node_name,
        device_indices=indices,
        time_limit_s=3600,
        started_at=0.0,
    )


def snapshot(
    pools: tuple[PoolState, ...],
    jobs: tuple[PendingJob, ...],
    run: tuple[RunningJob, ...] = (),
) -> ClusterSnapshot:
    """A snapshot at t=1000 with the given pools, pending and running jobs."""
    return ClusterSnapshot(now=1000.0, pools=pools, running=run, pending=jobs)


def decide(snap: ClusterSnapshot) -> list[Decision]:
    """Run FIFO on ``snap`` and check its output with the engine's checker."""
    decisions = list(Fifo().decide(snap))
    check_decisions(snap, decisions)
    return decisions


def test_jobs_start_in_arrival_order() -> None:
    """Pending jobs start in submission-time order, not in the order they are listed."""
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


def test_head_of_line_blocks_same_pool_only() -> None:
    """A head job that does not fit blocks later jobs in its pool, but not in other pools."""
    snap = snapshot(
        (
            pool(1, node("a", busy=(0, 1, 2, 3, 4)), node("b", busy=(0, 1, 2, 3))),
            pool(2, node("c")),
        ),
        (
            pending(1, 1, 1, 1.0),  # fits on a (3 free)
            pending(2, 1, 8, 2.0),  # needs a whole node: blocks pool 1
            pending(3, 1, 1, 3.0),  # would fit, but is behind job 2
            pending(4, 2, 2, 4.0),  # other pool: unaffected
            pending(5, 2, 8, 0.5),  # earliest job in pool 2, fits on c
        ),
    )
    decisions = decide(snap)
    assert [d.job_id for d in decisions] == [1, 5]
    assert all(isinstance(d, Start) for d in decisions)


def test_blocked_pool_does_not_block_later_pool_jobs() -> None:
    """A blocked pool listed first still lets a later pool's jobs start."""
    snap = snapshot(
        (pool(1, node("a", devices=4)), pool(2, node("b", devices=4))),
        (pending(1, 1, 8, 1.0), pending(2, 1, 1, 2.0), pending(3, 2, 4, 3.0)),
    )
    assert decide(snap) == [Start(job_id=3, node="b", device_indices=(0, 1, 2, 3))]


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
    assert decide(snap) == [Start(job_id=1, node="six-busy", device_indices=(6, 7))]


def test_best_fit_ties_go_to_first_listed_node() -> None:
    """Among equally full nodes the first listed is chosen."""
    snap = snapshot(
        (pool(1, node("x", busy=(0,)), node("y", busy=(7,)), node("z")),),
        (pending(1, 1, 3, 1.0),),
    )
    assert decide(snap) == [Start(job_id=1, node="x", device_indices=(1, 2, 3))]


def test_later_decisions_see_earlier_placements() -> None:
    """Within one cycle devices given to one job are not given to the next."""
    snap = snapshot(
        (pool(1, node("a", devices=4), node("b", devices=4)),),
        (pending(1, 1, 3, 1.0), pending(2, 1, 2, 2.0), pending(3, 1, 1, 3.0)),
    )
    assert decide(snap) == [
        Start(job_id=1, node="a", device_indices=(0, 1, 2)),
        Start(job_id=2, node="b", device_indices=(0, 1)),
        Start(job_id=3, node="a", device_indices=(3,)),
    ]


def test_lowest_free_indices_are_chosen() -> None:
    """A job gets the lowest-numbered free devices of its node."""
    free = (7, 5, 3, 1, 6)
    snap = snapshot(
        (pool(1, NodeState(name="a", devices=8, free_indices=free)),),
        (pending(1, 1, 3, 1.0),),
    )
    assert decide(snap) == [Start(job_id=1, node="a", device_indices=(1, 3, 5))]


def test_place_on_one_node_takes_indices_out_of_free_map() -> None:
    """Placement removes the chosen indices from the free map and returns None when full."""
    free = free_map(pool(1, node("a", devices=4, busy=(1,))))
    assert place_on_one_node(free, 2) == ("a", (0, 2))
    assert free == {"a": [3]}
    assert place_on_one_node(free, 2) is None
    assert free == {"a": [3]}


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
        (running(10, 1, "a", (2,)), running(11, 1, "b", (0, 1))),
    )
    before = copy.deepcopy(snap)
    first = decide(snap)
    second = decide(snap)
    assert first == second
    assert Fifo().decide(before) == first
    assert snap == before


@st.composite
def snapshots(draw: st.DrawFn) -> ClusterSnapshot:
    """Random pools (1-4 nodes of 1-8 devices, random busy indices) and pending jobs."""
    pools: list[PoolState] = []
    for pool_id in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        nodes = []
        for index in range(draw(st.integers(min_value=1, max_value=4))):
            devices = draw(st.integers(min_value=1, max_value=8))
            busy = draw(st.sets(st.integers(min_value=0, max_value=devices - 1)))
            free = [i for i in range(devices) if i not in busy]
            free = draw(st.permutations(free))
            nodes.append(NodeState(f"p{pool_id}-n{index}", devices, tuple(free)))
        pools.append(pool(pool_id, *nodes))
    job_count = draw(st.integers(min_value=0, max_value=12))
    jobs = tuple(
        pending(
            job_id,
            draw(st.integers(min_value=1, max_value=len(pools) + 1)),  # may name an unknown pool
            draw(st.integers(min_value=1, max_value=8)),
            draw(st.integers(min_value=0, max_value=20)),
        )
        for job_id in draw(st.permutations(range(1, job_count + 1)))
    )
    return snapshot(tuple(pools), jobs)


@settings(max_examples=200)
@given(snapshots())
def test_fifo_decisions_are_always_valid(snap: ClusterSnapshot) -> None:
    """FIFO never over-commits, never starts a job twice and keeps jobs in their pools."""
    decisions = list(Fifo().decide(snap))
    check_decisions(snap, decisions)
    assert all(isinstance(d, Start) for d in decisions)
    assert Fifo().decide(snap) == decisions


@settings(max_examples=200)
@given(snapshots())
def test_fifo_starts_a_prefix_of_each_pool_queue(snap: ClusterSnapshot) -> None:
    """Per pool, FIFO starts the oldest jobs in order and stops only at one that cannot fit."""
    decisions = [d for d in Fifo().decide(snap) if isinstance(d, Start)]
    started = [d.job_id for d in decisions]
    for state in snap.pools:
        queue = sorted(
            (job for job in snap.pending if job.pool_id == state.pool_id),
            key=lambda job: (job.submitted_at, job.job_id),
        )
        queue_ids = [job.job_id for job in queue]
        mine = [job_id for job_id in started if job_id in set(queue_ids)]
        assert mine == queue_ids[: len(mine)]
        if len(mine) < len(queue):
            left = {n.name: set(n.free_indices) for n in state.nodes}
            for d in decisions:
                if d.node in left:
                    left[d.node] -= set(d.device_indices)
            assert queue[len(mine)].devices > max(len(free) for free in left.values())


# --- check_decisions -----------------------------------------------------------------------

CHECK_SNAPSHOT = snapshot(
    (pool(1, node("a", devices=4, busy=(0,))), pool(2, node("b", devices=4))),
    (pending(1, 1, 2, 1.0), pending(2, 1, 1, 2.0), pending(3, 2, 2, 3.0)),
    (running(7, 1, "a", (0,)),),
)


def test_check_decisions_accepts_valid_decisions() -> None:
    """Valid starts and a preempt of a running job pass the checker."""
    check_decisions(
        CHECK_SNAPSHOT,
        [
            Start(job_id=1, node="a", device_indices=(1, 2)),
            Start(job_id=2, node="a", device_indices=(3,)),
            Start(job_id=3, node="b", device_indices=(2, 0)),
            Preempt(job_id=7),
        ],
    )


@pytest.mark.parametrize(
    ("decisions", "cause"),
    [
        (
            [
                Start(job_id=1, node="a", device_indices=(1, 2)),
                Start(job_id=1, node="a", device_indices=(3, 2)),
            ],
            "started twice",
        ),
        ([Start(job_id=99, node="a", device_indices=(1,))], "not pending"),
        ([Start(job_id=7, node="a", device_indices=(1,))], "not pending"),
        ([Start(job_id=2, node="a", device_indices=(0,))], "busy"),
        (
            [
                Start(job_id=1, node="a", device_indices=(1, 2)),
                Start(job_id=2, node="a", device_indices=(2,)),
            ],
            "busy",
        ),
        ([Start(job_id=2, node="a", device_indices=(9,))], "busy"),
        ([Start(job_id=1, node="b", device_indices=(0, 1))], "outside its pool"),
        ([Start(job_id=1, node="nowhere", device_indices=(0, 1))], "outside its pool"),
        ([Start(job_id=1, node="a", device_indices=(1,))], "needs 2 distinct devices"),
        ([Start(job_id=1, node="a", device_indices=(1, 2, 3))], "needs 2 distinct devices"),
        ([Start(job_id=1, node="a", device_indices=(1, 1))], "needs 2 distinct devices"),
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
        "wrong-pool",
        "unknown-node",
        "too-few-devices",
        "too-many-devices",
        "repeated-index",
        "preempt-pending-job",
        "preempt-unknown-job",
        "double-preempt",
    ],
)
def test_check_decisions_refuses(decisions: list[Decision], cause: str) -> None:
    """Invalid decisions raise ValueError naming the rule they break."""
    with pytest.raises(ValueError, match=cause):
        check_decisions(CHECK_SNAPSHOT, decisions)


# --- registry ------------------------------------------------------------------------------


def test_policy_named_fifo() -> None:
    """policy_named('fifo') returns a fresh FIFO policy."""
    policy = policy_named("fifo")
    assert isinstance(policy, Fifo)
    assert policy.name == "fifo"
    assert policy_named("fifo") is not policy


@pytest.mark.parametrize("name", ["lifo", "", "FIFO", "fifo "])
def test_policy_named_unknown_lists_known_names(name: str) -> None:
    """An unknown policy name raises InvalidInput listing every known policy."""
    with pytest.raises(InvalidInput, match="known policies: ") as caught:
        policy_named(name)
    assert repr(name) in caught.value.message
    for known in POLICIES:
        assert known in caught.value.message
