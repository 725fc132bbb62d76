"""First-in, first-out per pool, with gang placement on one node.

The baseline every national centre starts from: jobs start strictly in submission order within
a pool; when the oldest pending job does not fit, nothing behind it in that pool starts (no
backfill), so no job is ever overtaken and none waits forever while devices free up.
"""

from collections.abc import Sequence

from nuri.policy.placement import free_map, place_on_one_node
from nuri.policy.snapshot import ClusterSnapshot, Decision, PendingJob, Start


class Fifo:
    """Strict FIFO per pool. Pools are independent: a blocked pool does not block another."""

    name = "fifo"

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        decisions: list[Decision] = []
        queue = sorted(snapshot.pending, key=_arrival_order)
        for pool in snapshot.pools:
            free = free_map(pool)
            for job in (job for job in queue if job.pool_id == pool.pool_id):
                placed = place_on_one_node(free, job.devices)
                if placed is None:
                    break
                node, indices = placed
                decisions.append(Start(job_id=job.job_id, node=node, device_indices=indices))
        return decisions


def _arrival_order(job: PendingJob) -> tuple[float, int]:
    return (job.submitted_at, job.job_id)
