"""First-in, first-out, with gang placement.

The baseline every centre starts from. Jobs are taken in order of tier, then submission; a job
that names an accelerator class goes to the candidate pool with the most free devices. When the
job at the head of the queue cannot start anywhere it may run, nothing behind it that competes
for those pools starts either (no backfill), so no job is overtaken and none waits forever.
"""

from collections.abc import Iterator, Sequence
from operator import attrgetter

from nuri.policy.placement import FreeDevices, candidate_pools
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import ClusterSnapshot, Decision, PendingJob, PoolState, Start


class Fifo:
    """Strict FIFO per pool (within a tier). Pools are independent: a blocked pool blocks no other."""

    name = "fifo"
    preemptive = False

    def __init__(self, context: PolicyContext | None = None) -> None:
        del context  # FIFO needs nothing beyond the snapshot

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        free = FreeDevices(snapshot)
        if free.total_free() == 0:
            return []
        decisions: list[Decision] = []
        blocked: set[int] = set()
        options: dict[tuple[int | None, str | None, frozenset[int]], list[PoolState]] = {}
        for job in in_tier_order(snapshot.pending):
            where = (job.pool_id, job.accelerator, job.allowed_pool_ids)
            pools = options.get(where)
            if pools is None:
                pools = options[where] = candidate_pools(snapshot.pools, job)
            if any(pool.pool_id in blocked for pool in pools):
                blocked.update(pool.pool_id for pool in pools)
                continue
            start = start_on_best_pool(free, pools, job)
            if start is None:
                blocked.update(pool.pool_id for pool in pools)
                if len(blocked) == len(snapshot.pools):
                    break  # every pool waits on its head job: nothing behind can start
                continue
            decisions.append(start)
        return decisions

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:  # noqa: ARG002 - protocol
        return None


def tier_rank(job: PendingJob) -> int:
    return job.tier.rank


def in_tier_order(pending: Sequence[PendingJob]) -> Iterator[PendingJob]:
    """``pending`` (in submission order) by tier, keeping submission order within a tier: what
    a stable sort on :func:`tier_rank` gives, produced lazily.

    A pass usually stops after a few jobs (once every pool waits on its head job), so the queue
    is not sorted up front: the tiers present are collected at C speed, and each is then read
    off in order as far as the caller goes (the whole queue as it is, with one tier only).
    """
    tiers = sorted(set(map(attrgetter("tier"), pending)), key=attrgetter("rank"))
    if len(tiers) == 1:
        yield from pending
        return
    for tier in tiers:
        yield from (job for job in pending if job.tier is tier)


def arrival_order(job: PendingJob) -> tuple[int, float, int]:
    """Tier first (strategic, hub member, general), then submission time, then id."""
    return (job.tier.rank, job.submitted_at, job.job_id)


def start_on_best_pool(
    free: FreeDevices, pools: Sequence[PoolState], job: PendingJob
) -> Start | None:
    """Place ``job`` on the candidate pool with the most free devices it can use, if any fits."""
    for pool in sorted(
        pools, key=lambda p: (-free.free(p.pool_id, borrowing=job.preemptible), p.pool_id)
    ):
        placement = free.place(pool.pool_id, job.devices, may_borrow=job.preemptible)
        if placement is not None:
            return Start(job_id=job.job_id, pool_id=pool.pool_id, placement=placement)
    return None
