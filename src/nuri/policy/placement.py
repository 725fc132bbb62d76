"""Placement shared by every policy: which pools a job may use, gang placement that prefers few
nodes, lending of reserved devices, and the checker that no decision over-commits anything.

Placement works on a :class:`FreeDevices` view that a policy builds from its snapshot and
mutates as it decides, so decisions made earlier in a cycle are seen by later ones.
"""

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
)


class PoolLike(Protocol):
    """What acceptance needs of a pool: a live snapshot's PoolState or a cluster spec's PoolSpec."""

    @property
    def pool_id(self) -> int: ...

    @property
    def accelerator(self) -> str: ...


def accepts(pool: PoolLike, job: PendingJob) -> bool:
    """True if ``job`` may run on ``pool``: the pool it names, or one of its accelerator class
    (``'A|B'`` means either; case-insensitive), or any pool when it names neither; and always
    within ``allowed_pool_ids`` when the job has them."""
    if job.pool_id is not None:
        return pool.pool_id == job.pool_id
    if job.allowed_pool_ids and pool.pool_id not in job.allowed_pool_ids:
        return False
    if not job.accelerator:
        return True
    wanted = {part.strip().upper() for part in job.accelerator.split("|")}
    return pool.accelerator.upper() in wanted


def candidate_pools(pools: Iterable[PoolState], job: PendingJob) -> list[PoolState]:
    return [pool for pool in pools if accepts(pool, job)]


@dataclass
class _Node:
    name: str
    size: int
    free: list[int]
    reserved_for: int | None
    order: int
    """Position in the pool's node list: ties go to the node listed first."""


class FreeDevices:
    """Mutable free devices of every pool, per node, with reserved devices set apart.

    Free devices of a reserved node that its service is about to need are not offered at all;
    the rest may be *borrowed* by preemptible jobs only.

    Nodes are indexed per pool in buckets by their number of free devices (a heap per bucket,
    ordered by node position, entries dropped lazily when a node moves), so best-fit placement
    costs O(devices per node x log nodes) rather than a scan of the pool, and a gang larger
    than a node reads the emptiest nodes off the top buckets instead of sorting the pool.
    """

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        held_back = _held_back(snapshot)
        self.pools: dict[int, PoolState] = {pool.pool_id: pool for pool in snapshot.pools}
        self._by_name: dict[str, _Node] = {}
        # pool id -> node name -> (position, state); built only when a full node gets devices back
        self._listed: dict[int, dict[str, tuple[int, NodeState]]] = {}
        # (pool id, reserved?) -> free count -> heap of (order, name)
        self._buckets: dict[tuple[int, bool], dict[int, list[tuple[int, str]]]] = {}
        self._free_count: dict[int, int] = {}
        self._open_count: dict[int, int] = {}
        by_name = self._by_name
        for pool in snapshot.pools:
            pool_id = pool.pool_id
            free_total = open_total = 0
            # Nodes come in listing order, so appending keeps each bucket a valid heap.
            open_buckets: dict[int, list[tuple[int, str]]] = {}
            reserved_buckets: dict[int, list[tuple[int, str]]] = {}
            for order, node in enumerate(pool.nodes):
                if not node.free_indices:
                    continue
                free = sorted(node.free_indices)
                owner = node.reserved_for
                if owner is not None:
                    keep_back = min(len(free), held_back.get(owner, 0))
                    held_back[owner] = held_back.get(owner, 0) - keep_back
                    free = free[keep_back:]
                by_name[node.name] = _Node(node.name, node.devices, free, owner, order)
                if free:
                    buckets = open_buckets if owner is None else reserved_buckets
                    buckets.setdefault(len(free), []).append((order, node.name))
                    free_total += len(free)
                    if owner is None:
                        open_total += len(free)
            self._free_count[pool_id] = free_total
            self._open_count[pool_id] = open_total
            if open_buckets:
                self._buckets[(pool_id, False)] = open_buckets
            if reserved_buckets:
                self._buckets[(pool_id, True)] = reserved_buckets

    def free(self, pool_id: int, *, borrowing: bool = True) -> int:
        """Free devices of a pool a job could use (with or without borrowing reserved ones)."""
        return self._free_count[pool_id] if borrowing else self._open_count[pool_id]

    def total_free(self) -> int:
        return sum(self._free_count.values())

    def most_on_one_node(self, pool_id: int, *, borrowing: bool = True) -> int:
        """The most free devices of the pool on any single node (reserved nodes' lendable ones
        too, if ``borrowing``): a job that fits one node can be placed only if it is no larger."""
        kinds = (False, True) if borrowing else (False,)
        for count in range(self.pools[pool_id].node_size, 0, -1):
            if any(self._first(pool_id, kind, count) is not None for kind in kinds):
                return count
        return 0

    def node_size(self, pool_id: int) -> int:
        return self.pools[pool_id].node_size

    def place(
        self, pool_id: int, devices: int, *, may_borrow: bool
    ) -> tuple[NodeSlice, ...] | None:
        """Gang-place ``devices`` on the pool, or None (taking nothing) if they do not fit.

        Unreserved nodes are tried first; reserved ones only if ``may_borrow`` and needed. Within
        that, a job that fits one node goes to the fullest node that fits it (best fit keeps
        whole nodes free for large jobs) and never spans nodes; a larger job takes the emptiest
        nodes first so that it spans as few nodes as possible.
        """
        placement = self._place(pool_id, devices, include_reserved=False)
        if placement is None and may_borrow:
            placement = self._place(pool_id, devices, include_reserved=True)
        return placement

    def take(self, pool_id: int, placement: Sequence[NodeSlice]) -> None:
        """Mark a placement's devices used (for decisions made outside :meth:`place`)."""
        for part in placement:
            node = self._by_name[part.node]
            taken = set(part.device_indices)
            node.free = [index for index in node.free if index not in taken]
            self._count(pool_id, node, -len(part.device_indices))
            self._file(pool_id, node)

    def give_back(self, pool_id: int, placement: Sequence[NodeSlice]) -> None:
        """Return devices (of a job this cycle preempts) to the free view."""
        pool = self.pools[pool_id]
        for part in placement:
            node = self._by_name.get(part.node)
            if node is None:  # a node that was full when the view was built
                listed = self._listed.get(pool_id)
                if listed is None:
                    listed = {n.name: (i, n) for i, n in enumerate(pool.nodes)}
                    self._listed[pool_id] = listed
                order, state = listed[part.node]
                node = _Node(state.name, state.devices, [], state.reserved_for, order)
                self._by_name[node.name] = node
            node.free = sorted(set(node.free) | set(part.device_indices))
            self._count(pool_id, node, len(part.device_indices))
            self._file(pool_id, node)

    def _count(self, pool_id: int, node: _Node, change: int) -> None:
        self._free_count[pool_id] += change
        if node.reserved_for is None:
            self._open_count[pool_id] += change

    def _file(self, pool_id: int, node: _Node) -> None:
        if node.free:
            buckets = self._buckets.setdefault((pool_id, node.reserved_for is not None), {})
            heapq.heappush(buckets.setdefault(len(node.free), []), (node.order, node.name))

    def _first(self, pool_id: int, reserved: bool, count: int) -> _Node | None:
        """The first-listed node of the pool with exactly ``count`` free devices, if any."""
        heap = self._buckets.get((pool_id, reserved), {}).get(count)
        while heap:
            _, name = heap[0]
            node = self._by_name[name]
            if len(node.free) == count:
                return node
            heapq.heappop(heap)  # stale: the node has moved to another bucket
        return None

    def _place(
        self, pool_id: int, devices: int, *, include_reserved: bool
    ) -> tuple[NodeSlice, ...] | None:
        available = self._free_count[pool_id] if include_reserved else self._open_count[pool_id]
        if available < devices:
            return None
        size = self.pools[pool_id].node_size
        kinds = (False, True) if include_reserved else (False,)
        for count in range(devices, size + 1):
            best = self._first(pool_id, False, count)
            if include_reserved:
                other = self._first(pool_id, True, count)
                if other is not None and (best is None or other.order < best.order):
                    best = other
            if best is not None:
                placement: tuple[NodeSlice, ...] = (
                    NodeSlice(best.name, tuple(best.free[:devices])),
                )
                # What take() does, for the devices listed first: every start of a pass comes
                # through here, so the set-based filter of take() is skipped.
                best.free = best.free[devices:]
                self._count(pool_id, best, -devices)
                self._file(pool_id, best)
                return placement
        if devices <= size:
            return None  # a job that fits one node never spans nodes: it waits for one
        parts, need = [], devices
        for node in self._emptiest_first(pool_id, kinds, devices):
            count = min(need, len(node.free))
            parts.append(NodeSlice(node.name, tuple(node.free[:count])))
            need -= count
        placement = tuple(parts)
        self.take(pool_id, placement)
        return placement

    def _emptiest_first(self, pool_id: int, kinds: Sequence[bool], devices: int) -> list[_Node]:
        """The fewest nodes of the given kinds, emptiest first (then first listed), that
        together hold ``devices`` free devices; the caller has checked that enough are free.

        Read from the buckets, largest count first, so a gang costs O(nodes it takes x log
        nodes) instead of sorting the pool. Entries popped to find them are pushed back (the
        nodes taken move to another bucket when the caller takes their devices).
        """
        chosen: list[_Node] = []
        need = devices
        for count in range(self.pools[pool_id].node_size, 0, -1):
            if need <= 0:
                break
            wanted = -(-need // count)  # at most this many nodes of this count are needed
            found: list[_Node] = []
            for kind in kinds:
                heap = self._buckets.get((pool_id, kind), {}).get(count)
                if heap:
                    found.extend(self._first_few(heap, count, wanted))
            found.sort(key=lambda node: node.order)
            for node in found[:wanted]:
                chosen.append(node)
                need -= count
        return chosen

    def _first_few(self, heap: list[tuple[int, str]], count: int, limit: int) -> list[_Node]:
        """Up to ``limit`` distinct first-listed nodes of ``heap`` that have ``count`` free
        devices; stale entries met on the way are dropped, current ones left in the heap."""
        found: list[_Node] = []
        kept: list[tuple[int, str]] = []
        while heap and len(found) < limit:
            entry = heapq.heappop(heap)
            node = self._by_name[entry[1]]
            if len(node.free) != count or (kept and kept[-1][1] == entry[1]):
                continue  # stale, or a second current entry of the same node
            kept.append(entry)
            found.append(node)
        for entry in kept:
            heapq.heappush(heap, entry)
        return found


def _held_back(snapshot: ClusterSnapshot) -> dict[int, int]:
    """Per reservation, the free reserved devices its service needs now (not lendable)."""
    if not snapshot.reservations:
        return {}
    in_use: dict[int, int] = {}
    free: dict[int, int] = {}
    for pool in snapshot.pools:
        for node in pool.nodes:
            if node.reserved_for is not None:
                free[node.reserved_for] = free.get(node.reserved_for, 0) + len(node.free_indices)
                in_use[node.reserved_for] = in_use.get(node.reserved_for, 0) + (
                    node.devices - len(node.free_indices)
                )
    borrowed = _borrowed_devices(snapshot)
    held: dict[int, int] = {}
    for reservation in snapshot.reservations:
        if not reservation.starts_at <= snapshot.now < reservation.ends_at:
            continue
        service_holds = in_use.get(reservation.reservation_id, 0) - borrowed.get(
            reservation.reservation_id, 0
        )
        held[reservation.reservation_id] = max(0, reservation.wanted - service_holds)
    return held


def _borrowed_devices(snapshot: ClusterSnapshot) -> dict[int, int]:
    owner = {
        node.name: node.reserved_for
        for pool in snapshot.pools
        for node in pool.nodes
        if node.reserved_for is not None
    }
    borrowed: dict[int, int] = {}
    for job in snapshot.running:
        for part in job.placement:
            reservation = owner.get(part.node)
            if reservation is not None:
                borrowed[reservation] = borrowed.get(reservation, 0) + len(part.device_indices)
    return borrowed


def reclaim_for_reservations(snapshot: ClusterSnapshot) -> list[Preempt]:
    """Preempt borrowers of reserved devices that a service needs back now.

    For each active reservation whose service wants more devices than are free on its nodes,
    borrowers are preempted, those that started last first (they lose the least work), until
    the shortfall is covered. Every policy's decisions are preceded by these.
    """
    held = _held_back(snapshot)
    if not held:
        return []
    free: dict[int, int] = {}
    owner: dict[str, int] = {}
    for pool in snapshot.pools:
        for node in pool.nodes:
            if node.reserved_for is not None:
                owner[node.name] = node.reserved_for
                free[node.reserved_for] = free.get(node.reserved_for, 0) + len(node.free_indices)
    preempts: list[Preempt] = []
    stopped: set[int] = set()
    for reservation_id, needed in sorted(held.items()):
        # devices of jobs already stopped for another reservation come back here too
        shortfall = (
            needed
            - free.get(reservation_id, 0)
            - sum(
                len(part.device_indices)
                for job in snapshot.running
                if job.job_id in stopped
                for part in job.placement
                if owner.get(part.node) == reservation_id
            )
        )
        if shortfall <= 0:
            continue
        borrowers = [
            job
            for job in snapshot.running
            if job.job_id not in stopped
            and any(owner.get(part.node) == reservation_id for part in job.placement)
        ]
        for job in sorted(borrowers, key=lambda j: (-j.started_at, -j.job_id)):
            if shortfall <= 0:
                break
            preempts.append(Preempt(job.job_id))
            stopped.add(job.job_id)
            shortfall -= sum(
                len(part.device_indices)
                for part in job.placement
                if owner.get(part.node) == reservation_id
            )
    return preempts


def check_decisions(snapshot: ClusterSnapshot, decisions: Sequence[Decision]) -> None:
    """Raise ValueError if the decisions would over-commit anything.

    Checked: no job started twice or started while not pending; every start in a pool the job
    accepts, with exactly its number of distinct devices, all free (or freed by a preemption in
    the same decisions); a non-preemptible job never on a reserved node; preemptions only of
    running jobs, once each. The engine and the simulator run this on every policy's output.
    """
    if not decisions:
        return
    # Lookups by id built by comprehensions (on CPython 3.11 about twice as fast as a dict of
    # zip of map over an attrgetter): the queue may hold thousands of jobs. Running jobs are
    # looked up only for preemptions, which most decisions have none of.
    pending = {job.job_id: job for job in snapshot.pending}
    running: dict[int, RunningJob] = {}
    if any(isinstance(decision, Preempt) for decision in decisions):
        running = {job.job_id: job for job in snapshot.running}
    pools = {pool.pool_id: pool for pool in snapshot.pools}
    node_state: dict[str, tuple[int, NodeState]] = {
        node.name: (pool.pool_id, node) for pool in snapshot.pools for node in pool.nodes
    }
    free: dict[str, set[int]] = _FreeSets(node_state)
    preempted: set[int] = set()
    for decision in decisions:
        if isinstance(decision, Preempt):
            job = running.get(decision.job_id)
            if job is None or decision.job_id in preempted:
                raise ValueError(
                    f"preempt of job {decision.job_id}, not running or preempted twice"
                )
            preempted.add(decision.job_id)
            for part in job.placement:
                free[part.node] |= set(part.device_indices)
    started: set[int] = set()
    for decision in decisions:
        if isinstance(decision, Preempt):
            continue
        pending_job = pending.get(decision.job_id)
        if pending_job is None or decision.job_id in started:
            raise ValueError(
                f"start of job {decision.job_id}, which is not pending or started twice"
            )
        target = pools.get(decision.pool_id)
        if target is None or not accepts(target, pending_job):
            raise ValueError(f"job {decision.job_id} placed on a pool it does not accept")
        count = 0
        for part in decision.placement:
            located = node_state.get(part.node)
            if located is None or located[0] != decision.pool_id:
                raise ValueError(f"job {decision.job_id} placed on {part.node}, outside its pool")
            indices = set(part.device_indices)
            if len(indices) != len(part.device_indices):
                raise ValueError(
                    f"job {decision.job_id} needs {pending_job.devices} distinct devices"
                )
            if not indices <= free[part.node]:
                raise ValueError(
                    f"job {decision.job_id} placed on devices of {part.node} that are busy"
                )
            if located[1].reserved_for is not None and not pending_job.preemptible:
                raise ValueError(f"non-preemptible job {decision.job_id} placed on a reserved node")
            free[part.node] -= indices
            count += len(indices)
        if count != pending_job.devices or len({p.node for p in decision.placement}) != len(
            decision.placement
        ):
            raise ValueError(f"job {decision.job_id} needs {pending_job.devices} distinct devices")
        if len(decision.placement) > 1 and pending_job.devices <= target.node_size:
            raise ValueError(f"job {decision.job_id} fits one node but was spread over several")
        started.add(decision.job_id)


class _FreeSets(dict[str, set[int]]):
    """Free device indices per node name, each set made from the snapshot when first used, so
    checking a few decisions does not copy every node of a large cluster."""

    def __init__(self, nodes: dict[str, tuple[int, NodeState]]) -> None:
        super().__init__()
        self._nodes = nodes

    def __missing__(self, name: str) -> set[int]:
        indices = set(self._nodes[name][1].free_indices)
        self[name] = indices
        return indices
