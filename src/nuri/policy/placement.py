"""Placement helpers shared by policies: gang placement on one node, consolidating load.

Placement works on a mutable *free map* (node name -> free indices) that a policy copies from
its snapshot, so decisions made earlier in the same cycle are seen by later ones.
"""

from nuri.policy.snapshot import ClusterSnapshot, Decision, PoolState, Preempt

FreeMap = dict[str, list[int]]


def free_map(pool: PoolState) -> FreeMap:
    """A mutable copy of a pool's free device indices per node."""
    return {node.name: list(node.free_indices) for node in pool.nodes}


def place_on_one_node(free: FreeMap, devices: int) -> tuple[str, tuple[int, ...]] | None:
    """Pick the fullest node that still fits ``devices`` (best fit), and its lowest free indices.

    Best fit keeps whole nodes free for large jobs. Ties go to the node listed first, so the
    result is deterministic. Returns None when no node fits. Takes the indices out of ``free``.
    """
    best: str | None = None
    for name, indices in free.items():
        if len(indices) >= devices and (best is None or len(indices) < len(free[best])):
            best = name
    if best is None:
        return None
    chosen = tuple(sorted(free[best])[:devices])
    free[best] = [index for index in free[best] if index not in chosen]
    return best, chosen


def check_decisions(snapshot: ClusterSnapshot, decisions: list[Decision]) -> None:
    """Raise ValueError if decisions would start a job twice, start a non-pending job, use a
    device that is not free, or preempt a job that is not running.

    The engine calls this on every policy's output: a buggy policy must never over-commit a pool.
    """
    pending = {job.job_id: job for job in snapshot.pending}
    running = {job.job_id for job in snapshot.running}
    free: dict[str, set[int]] = {}
    node_pool: dict[str, int] = {}
    for pool in snapshot.pools:
        for node in pool.nodes:
            free[node.name] = set(node.free_indices)
            node_pool[node.name] = pool.pool_id
    started: set[int] = set()
    preempted: set[int] = set()
    for decision in decisions:
        if isinstance(decision, Preempt):
            if decision.job_id not in running or decision.job_id in preempted:
                raise ValueError(
                    f"preempt of job {decision.job_id}, not running or preempted twice"
                )
            preempted.add(decision.job_id)
            continue
        job = pending.get(decision.job_id)
        if job is None or decision.job_id in started:
            raise ValueError(
                f"start of job {decision.job_id}, which is not pending or started twice"
            )
        if node_pool.get(decision.node) != job.pool_id:
            raise ValueError(f"job {job.job_id} placed on {decision.node}, outside its pool")
        indices = set(decision.device_indices)
        if len(indices) != job.devices or len(decision.device_indices) != job.devices:
            raise ValueError(f"job {job.job_id} needs {job.devices} distinct devices")
        if not indices <= free[decision.node]:
            raise ValueError(f"job {job.job_id} placed on devices of {decision.node} that are busy")
        free[decision.node] -= indices
        started.add(job.job_id)
