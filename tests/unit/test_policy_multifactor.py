"""Slurm's multifactor priority: each factor as Slurm defines it, their weighted sum, the order
it gives (with nuri's starvation guard), and EASY backfilling in that order."""

import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings

from nuri.domain.commons import Tier
from nuri.policy import multifactor
from nuri.policy.backfill import plan_backfill
from nuri.policy.multifactor import (
    PRIORITY_MAX_AGE_S,
    QOS_FACTOR,
    WEIGHT_AGE,
    WEIGHT_FAIRSHARE,
    WEIGHT_JOB_SIZE,
    WEIGHT_QOS,
    PriorityFactors,
    SlurmMultifactor,
    age_factor,
    fairshare_factors,
    job_size_factor,
    priorities,
)
from nuri.policy.placement import check_decisions
from nuri.policy.snapshot import ClusterSnapshot, GroupUsage, Start
from tests.unit.test_policy_backfill import rich_snapshots
from tests.unit.test_policy_fifo import node, pending, pool, running, snapshot

DAY = 86_400.0


def groups(*entries: tuple[float, float]) -> dict[int, GroupUsage]:
    """Projects 1, 2, ... with the given ``(share, decayed usage)``."""
    return {
        index: GroupUsage(index, share=share, decayed_usage=decayed)
        for index, (share, decayed) in enumerate(entries, start=1)
    }


# --- fair-share factor -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used_by_2", "expected_2"),
    [
        (0.0, 1.0),
        (1.0, 2 ** (-1 / 3 / 0.5)),
        (2.0, 2 ** (-2 / 4 / 0.5)),
        (6.0, 2 ** (-6 / 8 / 0.5)),
    ],
    ids=["unused", "quarter-of-usage", "third-of-usage", "most-usage"],
)
def test_fairshare_factor_is_two_to_minus_usage_over_share(
    used_by_2: float, expected_2: float
) -> None:
    """F = 2**(-U/S) with U the project's share of all decayed usage and S its normalised share."""
    factors = fairshare_factors(groups((1.0, 2.0), (1.0, used_by_2)))
    assert factors[2] == pytest.approx(expected_2)
    assert factors[1] == pytest.approx(2 ** (-2 / (2 + used_by_2) / 0.5))


def test_fairshare_factor_falls_as_decayed_usage_rises() -> None:
    """More decayed usage, same shares and others' usage: a strictly lower fair-share factor."""
    values = [
        fairshare_factors(groups((0.5, 1000.0), (0.5, used)))[2]
        for used in (0.0, 10.0, 100.0, 1000.0, 10_000.0)
    ]
    assert values[0] == 1.0
    assert all(a > b for a, b in pairwise(values))
    assert values[-1] > 0.25  # U/S can reach 2 at most with two equal shares: F >= 1/4


def test_fairshare_factor_at_share_pace_is_one_half() -> None:
    """A project whose usage share equals its award share gets exactly 0.5 (Slurm's 'fair')."""
    factors = fairshare_factors(groups((0.25, 100.0), (0.75, 300.0)))
    assert factors == {1: 0.5, 2: 0.5}


def test_fairshare_factor_without_usage_or_shares() -> None:
    """Nobody used anything: 1 for all with a share; no share at all: 0."""
    assert fairshare_factors(groups((0.5, 0.0), (0.5, 0.0), (0.0, 0.0))) == {1: 1.0, 2: 1.0, 3: 0.0}
    assert fairshare_factors({}) == {}


# --- age, size, QOS ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited_s", "expected"),
    [(0.0, 0.0), (3.5 * DAY, 0.5), (7 * DAY, 1.0), (30 * DAY, 1.0), (-10.0, 0.0)],
    ids=["just-submitted", "half-max-age", "max-age", "saturated", "future"],
)
def test_age_factor_grows_linearly_and_saturates_at_seven_days(
    waited_s: float, expected: float
) -> None:
    """age = min(1, wait / PriorityMaxAge) with PriorityMaxAge = 7 days (Slurm's default)."""
    assert PRIORITY_MAX_AGE_S == 7 * DAY
    assert age_factor(pending(1, 1, 1, 100.0), 100.0 + waited_s) == pytest.approx(expected)


def test_job_size_factor_favours_larger_jobs() -> None:
    """PriorityFavorSmall=NO: (nodes/cluster nodes + devices/cluster devices) / 2, rising with
    size, 1 for a job asking for the whole cluster."""
    pools = (pool(1, node("a"), node("b"), node("c"), node("d")),)  # 4 nodes, 32 devices
    factors = [job_size_factor(pending(1, 1, devices), pools) for devices in (1, 4, 8, 9, 32)]
    assert factors == [
        pytest.approx((1 / 4 + 1 / 32) / 2),
        pytest.approx((1 / 4 + 4 / 32) / 2),
        pytest.approx((1 / 4 + 8 / 32) / 2),
        pytest.approx((2 / 4 + 9 / 32) / 2),
        1.0,
    ]
    assert job_size_factor(pending(1, 99, 1), pools) == 0.0  # accepts no pool


def test_qos_factor_orders_tiers() -> None:
    """Strategic above hub member above general, normalised to [0, 1]."""
    assert QOS_FACTOR[Tier.STRATEGIC] == 1.0 > QOS_FACTOR[Tier.HUB_MEMBER] > 0.0
    assert QOS_FACTOR[Tier.GENERAL] == 0.0


def test_priority_is_the_weighted_sum_of_the_factors() -> None:
    """Slurm's Job_priority: the weights of the documentation's configuration example, QOS too."""
    assert (WEIGHT_AGE, WEIGHT_FAIRSHARE, WEIGHT_JOB_SIZE, WEIGHT_QOS) == (1000, 10000, 1000, 10000)
    factors = PriorityFactors(age=0.5, fairshare=0.25, job_size=0.1, qos=1.0)
    assert factors.priority == pytest.approx(500 + 2500 + 100 + 10000)


def test_vectorised_priorities_equal_the_factors_exactly() -> None:
    """priorities() (vectorised, used for ordering) equals each job's PriorityFactors.priority."""
    snap = snapshot(
        (pool(1, node("a"), node("b")), pool(2, node("c", devices=4), accelerator="A100")),
        (
            pending(1, 1, 3, 0.0, project_id=1),
            pending(2, None, 12, -3 * DAY, project_id=2, tier=Tier.STRATEGIC),
            pending(3, None, 2, 500.0, project_id=3, accelerator="A100"),
            pending(4, 9, 2, 10.0, project_id=4, tier=Tier.HUB_MEMBER),
        ),
        now=2 * DAY,
        groups=groups((0.5, 10.0), (0.3, 30.0), (0.2, 0.0)),
    )
    expected = SlurmMultifactor().factors(snap)
    assert priorities(snap).tolist() == [expected[job.job_id].priority for job in snap.pending]
    assert expected[4].fairshare == 0.0  # a project absent from the groups has no share


@pytest.mark.parametrize(
    ("pool_id", "accelerator"),
    [(1, None), (None, None), (None, "A100")],
    ids=["one-pool", "any-pool", "one-class"],
)
def test_vectorised_priorities_with_one_key_for_the_queue(
    pool_id: int | None, accelerator: str | None
) -> None:
    """A queue whose jobs all name the same pool or class takes a shortcut for the node size;
    its priorities still equal each job's PriorityFactors.priority."""
    snap = snapshot(
        (pool(1, node("a"), node("b")), pool(2, node("c", devices=4), accelerator="A100")),
        tuple(
            pending(
                job_id,
                pool_id,
                devices,
                -job_id * 3600.0,
                project_id=job_id % 3 + 1,
                accelerator=accelerator,
                tier=tier,
            )
            for job_id, devices, tier in (
                (1, 1, Tier.GENERAL),
                (2, 3, Tier.STRATEGIC),
                (3, 4, Tier.HUB_MEMBER),
                (4, 2, Tier.GENERAL),
            )
        ),
        now=2 * DAY,
        groups=groups((0.5, 10.0), (0.3, 30.0)),
    )
    expected = SlurmMultifactor().factors(snap)
    assert priorities(snap).tolist() == [expected[job.job_id].priority for job in snap.pending]


@settings(max_examples=200, deadline=None)
@given(rich_snapshots())
def test_priorities_are_the_factors_exactly_job_by_job_and_in_columns(
    snap: ClusterSnapshot,
) -> None:
    """A short queue's priorities are computed job by job, a long one's over numpy columns:
    either way each is its job's PriorityFactors.priority, float for float."""
    factors = SlurmMultifactor().factors(snap)
    expected = [factors[job.job_id].priority for job in snap.pending]
    assert priorities(snap).tolist() == expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(multifactor, "_SHORT_QUEUE", 0)
        assert priorities(snap).tolist() == expected


# --- order -------------------------------------------------------------------------------------


def order_of(snap: ClusterSnapshot) -> list[int]:
    return [job.job_id for job in SlurmMultifactor().order(snap)]


def test_higher_tier_goes_first_all_else_equal() -> None:
    """Same project, size and age: strategic, then hub member, then general."""
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(1, 1, 1, 0.0, tier=Tier.GENERAL),
            pending(2, 1, 1, 0.0, tier=Tier.HUB_MEMBER),
            pending(3, 1, 1, 0.0, tier=Tier.STRATEGIC),
        ),
        groups=groups((1.0, 0.0)),
    )
    assert order_of(snap) == [3, 2, 1]


def test_under_served_project_goes_before_an_older_job_of_a_heavy_user() -> None:
    """Fair share (weight 10000) outweighs a day of age (weight 1000 over 7 days)."""
    snap = snapshot(
        (pool(1, node("a")),),
        (pending(1, 1, 1, 0.0, project_id=1), pending(2, 1, 1, DAY, project_id=2)),
        now=DAY + 60.0,
        groups=groups((0.5, 900.0), (0.5, 100.0)),
    )
    assert order_of(snap) == [2, 1]


def test_equal_priority_goes_in_submission_order_then_job_id() -> None:
    """Ties: submission time, then job id (Slurm's own tie-break)."""
    snap = snapshot(
        (pool(1, node("a")),),
        (pending(5, 1, 1, 10.0), pending(4, 1, 1, 10.0), pending(3, 1, 1, 10.0)),
        now=10.0,
        groups=groups((1.0, 0.0)),
    )
    assert order_of(snap) == [3, 4, 5]


def test_job_waiting_past_max_age_goes_first() -> None:
    """nuri's guard: a job pending 7 days or more goes before every job that is not, however
    low its priority (here: a general job of a heavy user against a strategic idle project)."""
    now = 8 * DAY
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(1, 1, 1, now - 7 * DAY, project_id=1),
            pending(2, 1, 1, now - 6 * DAY, project_id=2, tier=Tier.STRATEGIC),
        ),
        now=now,
        groups=groups((0.5, 1e9), (0.5, 0.0)),
    )
    assert order_of(snap) == [1, 2]
    assert order_of(snapshot(snap.pools, snap.pending, now=now - 1.0, groups=snap.groups)) == [
        2,
        1,
    ]


def test_blocked_top_job_reserves_and_lower_jobs_backfill() -> None:
    """EASY in priority order: the top job that does not fit reserves, a short job backfills,
    a long one waits."""
    snap = snapshot(
        (pool(1, node("a", busy=tuple(range(6)))),),
        (
            pending(1, 1, 8, 0.0, project_id=1),  # idle project: top priority, blocked
            pending(2, 1, 2, 0.0, project_id=2, time_limit_s=600),
            pending(3, 1, 2, 0.0, project_id=2, time_limit_s=10**5),
        ),
        (running(100, 1, ("a", tuple(range(6))), time_limit_s=3600),),
        groups=groups((0.5, 0.0), (0.5, 1000.0)),
    )
    result = plan_backfill(snap, SlurmMultifactor().order(snap))
    assert [(r.job_id, r.time) for r in result.reservations] == [(1, 3600.0)]
    assert [s.job_id for s in result.starts] == [2]
    assert [d.job_id for d in SlurmMultifactor().decide(snap)] == [2]


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(rich_snapshots())
def test_order_is_by_descending_priority_apart_from_starved_jobs(snap: ClusterSnapshot) -> None:
    """Every pending job appears once, in non-increasing priority (no job is starved here)."""
    factors = SlurmMultifactor().factors(snap)
    ordered = SlurmMultifactor().order(snap)
    assert sorted(job.job_id for job in ordered) == sorted(job.job_id for job in snap.pending)
    values = [factors[job.job_id].priority for job in ordered]
    assert all(a >= b for a, b in pairwise(values))
    assert np.all(np.isfinite(priorities(snap)))
    assert all(0.0 <= f.fairshare <= 1.0 and not math.isnan(f.job_size) for f in factors.values())


@settings(max_examples=200, deadline=None)
@given(rich_snapshots())
def test_decisions_are_valid_starts(snap: ClusterSnapshot) -> None:
    """decide() returns starts only, which the engine's checker accepts."""
    decisions = list(SlurmMultifactor().decide(snap))
    check_decisions(snap, decisions)
    assert all(isinstance(d, Start) for d in decisions)
