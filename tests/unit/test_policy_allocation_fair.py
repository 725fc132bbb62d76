"""Allocation-fair: projects furthest below their award pace first, FIFO within a project,
tiers weighted, the starvation bound, and EASY backfilling in that order."""

import pytest
from hypothesis import given, settings

from nuri.domain.commons import Tier
from nuri.policy.allocation_fair import (
    STARVATION_BOUND_S,
    TIER_PACE_BONUS,
    AllocationFair,
    pace_deficits,
)
from nuri.policy.backfill import plan_backfill
from nuri.policy.placement import check_decisions
from nuri.policy.snapshot import ClusterSnapshot, GroupUsage, Start
from tests.unit.test_policy_backfill import rich_snapshots
from tests.unit.test_policy_fifo import node, pending, pool, running, snapshot

DAY = 86_400.0


def groups(*entries: tuple[float, float]) -> dict[int, GroupUsage]:
    """Projects 1, 2, ... with the given ``(share, delivered)``."""
    return {
        index: GroupUsage(index, share=share, delivered=delivered)
        for index, (share, delivered) in enumerate(entries, start=1)
    }


def order_of(snap: ClusterSnapshot) -> list[int]:
    return [job.job_id for job in AllocationFair().order(snap)]


# --- pace --------------------------------------------------------------------------------------


def test_pace_deficit_is_share_minus_delivered_share() -> None:
    """deficit = share - delivered / total delivered; the deficits sum to 0 once anything ran."""
    deficits = pace_deficits(groups((0.5, 100.0), (0.3, 300.0), (0.2, 0.0)))
    assert deficits == {
        1: pytest.approx(0.25),
        2: pytest.approx(-0.45),
        3: pytest.approx(0.2),
    }
    assert sum(deficits.values()) == pytest.approx(0.0)


def test_pace_deficit_before_any_delivery_is_the_share() -> None:
    """Nothing delivered yet: every project is exactly its share below pace."""
    assert pace_deficits(groups((0.7, 0.0), (0.3, 0.0))) == {1: 0.7, 2: 0.3}


def test_project_furthest_below_pace_goes_first() -> None:
    """Jobs of the project furthest below its award go before older jobs of others."""
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(1, 1, 1, 1.0, project_id=1),  # deficit 0.5 - 0.75 = -0.25
            pending(2, 1, 1, 2.0, project_id=2),  # deficit 0.3 - 0.25 = +0.05
            pending(3, 1, 1, 3.0, project_id=3),  # deficit 0.2 - 0    = +0.20
        ),
        groups=groups((0.5, 300.0), (0.3, 100.0), (0.2, 0.0)),
    )
    assert order_of(snap) == [3, 2, 1]


def test_fifo_within_a_project() -> None:
    """A project's jobs go in submission order, then by job id."""
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(7, 1, 1, 5.0, project_id=2),
            pending(3, 1, 1, 9.0, project_id=1),
            pending(2, 1, 1, 5.0, project_id=2),
            pending(1, 1, 1, 1.0, project_id=2),
        ),
        groups=groups((0.5, 100.0), (0.5, 0.0)),
    )
    assert order_of(snap) == [1, 2, 7, 3]


def test_project_without_an_award_counts_as_on_pace() -> None:
    """A project absent from the groups has deficit 0: behind a project below pace, ahead of
    one above it."""
    snap = snapshot(
        (pool(1, node("a")),),
        (pending(1, 1, 1, 1.0, project_id=1), pending(2, 1, 1, 2.0, project_id=9)),
        groups=groups((0.5, 100.0), (0.5, 0.0)),  # project 1: deficit -0.5
    )
    assert order_of(snap) == [2, 1]


# --- tiers -------------------------------------------------------------------------------------


def test_tiers_weigh_in_as_share_points() -> None:
    """A strategic job counts 10 points further behind, a hub-member job 5: they pass general
    jobs of projects up to that much further behind pace, but no further."""
    assert TIER_PACE_BONUS == {Tier.STRATEGIC: 0.10, Tier.HUB_MEMBER: 0.05, Tier.GENERAL: 0.0}
    near = groups((0.5, 54.0), (0.5, 46.0))  # deficits -0.04 and +0.04: 8 points apart
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(1, 1, 1, 1.0, project_id=1, tier=Tier.STRATEGIC),
            pending(2, 1, 1, 2.0, project_id=2),
        ),
        groups=near,
    )
    assert order_of(snap) == [1, 2]
    far = groups((0.5, 70.0), (0.5, 30.0))  # 40 points apart
    assert order_of(snapshot(snap.pools, snap.pending, groups=far)) == [2, 1]


def test_same_project_higher_tier_first() -> None:
    """Within a project, a strategic job goes before an earlier general one."""
    snap = snapshot(
        (pool(1, node("a")),),
        (pending(1, 1, 1, 1.0), pending(2, 1, 1, 2.0, tier=Tier.HUB_MEMBER)),
        groups=groups((1.0, 0.0)),
    )
    assert order_of(snap) == [2, 1]


# --- starvation --------------------------------------------------------------------------------


def test_job_pending_past_its_tier_bound_goes_ahead_of_pace() -> None:
    """A general job pending 3 days goes before a project far below pace; at 3 days less a
    second it does not."""
    assert STARVATION_BOUND_S[Tier.GENERAL] == 3 * DAY
    jobs = (pending(1, 1, 1, 0.0, project_id=1), pending(2, 1, 1, 10.0, project_id=2))
    usage = groups((0.1, 900.0), (0.9, 0.0))
    starved = snapshot((pool(1, node("a", devices=1)),), jobs, now=3 * DAY, groups=usage)
    assert order_of(starved) == [1, 2]
    assert [d.job_id for d in AllocationFair().decide(starved)] == [1]
    fresh = snapshot(starved.pools, jobs, now=3 * DAY - 1.0, groups=usage)
    assert order_of(fresh) == [2, 1]


def test_starved_jobs_go_in_the_order_they_starved() -> None:
    """Strategic jobs starve after 1 day, general after 3: the one that starved first leads."""
    now = 10 * DAY
    snap = snapshot(
        (pool(1, node("a")),),
        (
            pending(1, 1, 1, now - 4 * DAY),  # general: starved at now - 1 day
            pending(2, 1, 1, now - 1.5 * DAY, tier=Tier.STRATEGIC),  # starved at now - 0.5 day
            pending(3, 1, 1, now - 2.5 * DAY, tier=Tier.STRATEGIC),  # starved at now - 1.5 days
            pending(4, 1, 1, now - 0.5 * DAY, tier=Tier.STRATEGIC),  # not starved
        ),
        now=now,
        groups=groups((1.0, 0.0)),
    )
    assert order_of(snap) == [3, 1, 2, 4]


# --- backfill ----------------------------------------------------------------------------------


def test_blocked_job_of_the_neediest_project_reserves_and_others_backfill() -> None:
    """The furthest-behind project's blocked job reserves; a short job of another backfills."""
    snap = snapshot(
        (pool(1, node("a", busy=tuple(range(6)))),),
        (
            pending(1, 1, 2, 1.0, project_id=1, time_limit_s=10**5),
            pending(2, 1, 8, 2.0, project_id=2),
            pending(3, 1, 2, 3.0, project_id=1, time_limit_s=600),
        ),
        (running(100, 1, ("a", tuple(range(6))), time_limit_s=3600),),
        groups=groups((0.5, 900.0), (0.5, 100.0)),
    )
    result = plan_backfill(snap, AllocationFair().order(snap))
    assert [(r.job_id, r.time) for r in result.reservations] == [(2, 3600.0)]
    assert [s.job_id for s in result.starts] == [3]


@settings(max_examples=200, deadline=None)
@given(rich_snapshots())
def test_order_follows_tier_weighted_deficit(snap: ClusterSnapshot) -> None:
    """Without starved jobs, (deficit + tier bonus) never increases along the order, and every
    pending job appears once."""
    deficits = pace_deficits(snap.groups)
    ordered = AllocationFair().order(snap)
    assert sorted(job.job_id for job in ordered) == sorted(job.job_id for job in snap.pending)
    keys = [deficits.get(job.project_id, 0.0) + TIER_PACE_BONUS[job.tier] for job in ordered]
    assert keys == sorted(keys, reverse=True)


@settings(max_examples=200, deadline=None)
@given(rich_snapshots())
def test_decisions_are_valid_starts(snap: ClusterSnapshot) -> None:
    """decide() returns starts only, which the engine's checker accepts."""
    decisions = list(AllocationFair().decide(snap))
    check_decisions(snap, decisions)
    assert all(isinstance(d, Start) for d in decisions)
