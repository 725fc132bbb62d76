"""Allocation-fair: each project's delivered share tracks its awarded share; EASY backfill.

The commons awards each project a share of its capacity (``GroupUsage.share``, all shares summing
to 1). Over the current period a project has been *delivered* ``GroupUsage.delivered`` H100e
device-seconds. Its *pace deficit* is how far it is below its award::

    delivered_share[g] = delivered[g] / sum of delivered over all projects   (0 if none yet)
    deficit[g]         = share[g] - delivered_share[g]                        in [-1, 1]

A positive deficit means the project got less than it was promised so far. The queue is ordered
so that projects furthest below pace go first, and, within a project, first come first served:

1. **Starved jobs first.** A job pending at least :data:`STARVATION_BOUND_S` of its tier
   (strategic 1 day, hub member 2 days, general 3 days) goes ahead of the pace order, the one
   that starved earliest first (:func:`nuri.policy.backfill.rank_jobs`).
2. **Pace, tier-weighted.** Then by ``deficit[project] + TIER_PACE_BONUS[tier]`` descending: a
   strategic job counts as if its project were 10 percentage points further behind its award,
   a hub-member job 5 points (:data:`TIER_PACE_BONUS`). Tiers thus weigh in without letting a
   strategic project far ahead of its award crowd out everyone else.
3. **FIFO within a project** (and tier): then submission time, then job id.

The order is fixed for one pass from the snapshot's usage (it does not shift as this pass starts
jobs: a started job delivers nothing until it runs); the engine and the simulator decide again
after every arrival and end, when usage has moved. Jobs are then started with EASY backfilling
(:func:`nuri.policy.backfill.plan_backfill`): the first job that cannot start reserves devices on
its pool, and later jobs start only if they do not delay that reservation.

A project absent from ``snapshot.groups`` has no award and nothing delivered: deficit 0.

No job waits forever: once starved, a job is preceded only by jobs that starved before it
(finitely many); when it is the first job of the order that cannot start, EASY gives it a
reservation no later job can delay, and the reservation's shadow time only moves earlier from
pass to pass. It needs only to fit some pool it accepts at all.

Design note: the deficit is absolute (share points), as the allocation contract is stated in
shares of the commons; a relative deficit (deficit / share) would favour tiny awards.
"""

from collections.abc import Mapping
from typing import Final

from nuri.domain.commons import Tier
from nuri.policy.backfill import OrderedBackfill, rank_jobs
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import ClusterSnapshot, GroupUsage, PendingJob

STARVATION_BOUND_S: Final[Mapping[Tier, float]] = {
    Tier.STRATEGIC: 1 * 86_400.0,
    Tier.HUB_MEMBER: 2 * 86_400.0,
    Tier.GENERAL: 3 * 86_400.0,
}
"""Seconds pending after which a job of each tier goes ahead of the pace order."""

TIER_PACE_BONUS: Final[Mapping[Tier, float]] = {
    Tier.STRATEGIC: 0.10,
    Tier.HUB_MEMBER: 0.05,
    Tier.GENERAL: 0.0,
}
"""Share points added to a job's project deficit, by the job's tier."""


def pace_deficits(groups: Mapping[int, GroupUsage]) -> dict[int, float]:
    """``share - delivered_share`` of every project in ``groups`` (delivered shares sum to 1).

    With nothing delivered yet, every delivered share is 0 and the deficit is the share itself.
    Negative usage (which the engine never reports) counts as 0.
    """
    total = sum(max(0.0, group.delivered) for group in groups.values())
    return {
        project_id: group.share - (max(0.0, group.delivered) / total if total > 0 else 0.0)
        for project_id, group in groups.items()
    }


class AllocationFair(OrderedBackfill):
    """Projects furthest below their award pace first, FIFO within a project, EASY backfill.

    See the module docstring for the order, the tier weighting and the starvation guard.
    Stateless: ``decide`` is a pure function of the snapshot.
    """

    name = "allocation-fair"

    def __init__(self, context: PolicyContext | None = None) -> None:
        del context  # pace needs nothing beyond the snapshot

    def order(self, snapshot: ClusterSnapshot) -> list[PendingJob]:
        """The pending jobs in the order this policy considers them."""
        deficit = pace_deficits(snapshot.groups)
        jobs = snapshot.pending
        score = [deficit.get(job.project_id, 0.0) + TIER_PACE_BONUS[job.tier] for job in jobs]
        return rank_jobs(jobs, score, snapshot.now, STARVATION_BOUND_S)
