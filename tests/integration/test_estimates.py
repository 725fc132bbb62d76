"""Start-time estimates: the live queue simulated forward with the live policy."""

from datetime import timedelta

from nuri.domain.commons import Tier
from nuri.policy.fifo import Fifo
from nuri.policy.snapshot import (
    ClusterSnapshot,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    RunningJob,
)
from nuri.sim.estimate import estimate_starts
from tests.conftest import START, World


def submit(world: World, gpus: int, time_limit_s: int) -> int:
    return world.commons.jobs.submit(
        world.member,
        project="nlp",
        pool="h100",
        gpus=gpus,
        time_limit_s=time_limit_s,
        command=["x"],
    ).id


def test_a_queued_job_is_expected_when_running_jobs_reach_their_time_limits(world: World) -> None:
    """Two full nodes busy until +600 s and +900 s: the next 4-device job starts at +600 s."""
    first = submit(world, 4, 600)
    submit(world, 4, 900)
    world.engine().cycle()
    world.clock.advance(100)
    third = submit(world, 4, 300)
    fourth = submit(world, 4, 300)
    shown = world.commons.jobs.show(world.member, third)
    assert shown.state == "PENDING"
    assert shown.estimated_start == START + timedelta(seconds=600)
    # the fourth waits for the second node (+900 s) or the third job's end (+600 + 300 s)
    assert world.commons.jobs.show(world.member, fourth).estimated_start == START + timedelta(
        seconds=900
    )
    assert world.commons.jobs.show(world.member, first).estimated_start is None  # running


def test_estimates_never_lie_in_the_past(world: World) -> None:
    """A job that could start now is estimated to start now, not at its submission time."""
    world.clock.advance(50)
    job = submit(world, 1, 60)
    assert world.commons.jobs.show(world.member, job).estimated_start == START + timedelta(
        seconds=50
    )


def test_estimate_follows_fifo_order_across_a_backlog() -> None:
    """Pure: with one 2-device node busy for 100 s, three 2-device jobs of 50 s start at 100, 150, 200."""
    node = NodeState("p-n00", 2, ())
    snapshot = ClusterSnapshot(
        now=0.0,
        pools=(PoolState(1, "p", "H100", 1000, (node,)),),
        running=(
            RunningJob(9, 1, 1, Tier.GENERAL, 1, (NodeSlice("p-n00", (0, 1)),), 100, 0.0, 0.0),
        ),
        pending=tuple(
            PendingJob(job_id, 1, 1, Tier.GENERAL, 1, 2, 50, float(job_id)) for job_id in (1, 2, 3)
        ),
    )
    assert estimate_starts(snapshot, Fifo()) == {1: 100.0, 2: 150.0, 3: 200.0}


def test_a_class_job_is_estimated_only_on_pools_its_award_allows() -> None:
    """Pool 1 is free but not allowed; allowed pool 2 is busy until 100 s: the estimate is 100 s."""
    snapshot = ClusterSnapshot(
        now=0.0,
        pools=(
            PoolState(1, "a", "H100", 1000, (NodeState("a-n00", 1, (0,)),)),
            PoolState(2, "b", "H100", 1000, (NodeState("b-n00", 1, ()),)),
        ),
        running=(RunningJob(9, 1, 1, Tier.GENERAL, 2, (NodeSlice("b-n00", (0,)),), 100, 0.0, 0.0),),
        pending=(
            PendingJob(
                1,
                1,
                1,
                Tier.GENERAL,
                None,
                1,
                50,
                0.0,
                accelerator="H100",
                allowed_pool_ids=frozenset({2}),
            ),
        ),
    )
    assert estimate_starts(snapshot, Fifo()) == {1: 100.0}
