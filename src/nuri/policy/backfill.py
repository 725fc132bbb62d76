"""EASY backfilling, and the backfill machinery every priority-ordered policy shares.

EASY (the Extensible Argonne Scheduling sYstem) backfilling takes the queue in priority order and
starts jobs until one does not fit. That job -- the *head* -- gets a *reservation*: the earliest
time, by the running jobs' time limits, at which enough devices will be free for it (its *shadow
time*), and how many devices beyond its need will be free then (the *extra* devices). Every
later job may still start now, but only if it fits now and either

- ends, by its own time limit, no later than the shadow time, or
- uses only extra devices (which it then takes away from the extra ones),

so no job started behind the head can delay the head's reservation (Lifka, "The ANL/IBM SP
scheduling system", JSSPP 1995, LNCS 949; Mu'alem and Feitelson, "Utilization, predictability,
workloads, and user runtime estimates in scheduling the IBM SP2 with backfilling", IEEE TPDS
12(6), 2001, whose terms *shadow time* and *extra nodes* are used here). Slurm's ``sched/backfill``
plugin works the same way on time limits ("Scheduling Configuration Guide", section
*Backfill*, https://slurm.schedmd.com/sched_config.html), though it reserves for more than one
job; EASY reserves for one job per pool, which is what :func:`plan_backfill` does.

Pieces, outermost first::

    EasyBackfill            the policy: FIFO order (tier, submission, id) + starvation guard
     +-- plan_backfill      starts jobs of *any* priority order, EASY-style; what
     |                      slurm-multifactor and allocation-fair call with their own order
     |    +-- _Timeline     when each pool's devices come free, by time limit
     +-- rank_jobs          a policy's scores to an order, jobs that waited too long first
     +-- shadow_after       a job's reservation given a set of starts (for tests and tools)

Rules, per scheduling pass (:func:`plan_backfill`):

1. **Pools are independent.** Each pool has at most one reservation. A job that names an
   accelerator class (several candidate pools) first tries the candidate pools without a
   reservation, like FIFO (the one with the most free devices first); then, as a backfill, the
   pools with one. If it starts nowhere, it becomes the head of every candidate pool that has no
   reservation yet and reserves on the one whose shadow time is earliest (ties: lowest pool id),
   i.e. where it can start soonest. Its other candidate pools stay open to the jobs behind it.
2. **Shadow times come from time limits, never true durations.** A running job holds its
   devices until ``started_at + time_limit_s`` (at least ``now``); a job started earlier in the
   same pass until ``now + time_limit_s``. A job that could never fit its pool (more devices
   than the pool can ever give it) gets no reservation and blocks nothing.
3. **Backfill.** A later job starts on a reserved pool if it fits now and ends by the shadow time
   (``now + time_limit_s <= shadow``; a job ending exactly at the shadow time frees its devices
   before the head starts, as the engine and simulator handle ends before starts), or if the
   devices it takes from the nodes the head may use are at most the remaining extra devices.

Node-level feasibility. :class:`~nuri.policy.placement.FreeDevices` places a gang on any free
devices of one pool (one node when one is big enough, best fit; else the emptiest nodes first),
so whether a job fits depends only on *how many* devices of the nodes it may use are free, not
on how they are spread over nodes. The shadow time is therefore computed on device counts and is
exact for nuri's placement rule: fragmentation changes which devices the head gets, not whether
or when it fits. Were placement ever to demand whole nodes for multi-node gangs, ``_Timeline``
would have to count free devices per node instead. Which nodes a job may use: unreserved nodes,
plus, for preemptible jobs, the lendable free devices of reserved nodes. Devices of reserved
nodes that a running job frees are assumed lendable again; a service may take them back first,
in which case the head starts later than planned (the reservation is recomputed every pass, so
the error never accumulates). Devices a service holds never come free within the plan.

What is guaranteed (pinned by the tests): every reservation made in a pass still holds after all
of that pass's starts, i.e. recomputed with every start of the pass (:func:`shadow_after`), the
head's shadow time on its pool is no later than the reservation's. In particular, let H be the
first job in FIFO order that FIFO leaves waiting and that could ever fit a pool it accepts:
EASY reserves for H exactly the earliest time at which, after FIFO's own starts, H fits (both
by time limits; unless no device is left free at all, when EASY starts nothing after H), and
its backfills never make that time later. This holds whenever EASY and FIFO order the queue
alike (no job past the starvation bound, or one tier only). Nothing is promised about later
reservations relative to FIFO, or about real start times: jobs end before their limits, new
jobs arrive, and the next pass replans.

No job waits forever. In the EASY order a job is preceded by jobs of a higher tier or submitted
earlier; once it has waited :data:`STARVATION_BOUND_S`, only by jobs that starved before it
(:func:`rank_jobs`), finitely many, and every new arrival queues behind it. When it is the first
job of the order that cannot start, it holds a reservation on some pool that no job behind it
may delay, and whose shadow time can only move earlier from pass to pass (running jobs end by
their limits, often sooner, and nothing is placed ahead of it) -- barring a service taking back
reserved devices the plan counted on. It starts by then. This needs the job to fit some pool
it accepts at all.

Cost: building the free-device view is O(nodes with free devices); sorting the queue O(n log n);
the scan O(n) with O(pools) work per job, stopping as soon as no device is free anywhere. A
pool's release timeline (O(running jobs) to build) is built only when a job there blocks.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from nuri.domain.commons import Tier
from nuri.policy.placement import FreeDevices, accepts
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeSlice,
    PendingJob,
    PoolState,
    RunningJob,
    Start,
)

STARVATION_BOUND_S: Final = 3 * 86_400.0
"""A job pending this long (seconds) goes ahead of the FIFO order in :class:`EasyBackfill`."""

_Release = tuple[float, int, int]
"""``(time, devices on unreserved nodes, devices on reserved nodes)`` freed at ``time``."""


@dataclass(frozen=True, slots=True)
class Shadow:
    """A blocked job's reservation on one pool.

    ``time`` is its shadow time (seconds, the snapshot's clock): the earliest moment at which,
    by time limits, enough devices of the nodes it may use are free on ``pool_id``. ``extra``
    is how many of those devices are free then beyond its need. ``borrowing`` says whether it
    may use reserved nodes' lendable devices (it is preemptible).
    """

    job_id: int
    pool_id: int
    time: float
    extra: int
    borrowing: bool


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """The outcome of one pass of :func:`plan_backfill`.

    ``starts`` in the order they were decided; ``reservations`` as made (at most one per pool,
    each with its extra devices before any backfill took some); ``backfilled`` the ids of jobs
    started on a pool behind its reservation.
    """

    starts: tuple[Start, ...]
    reservations: tuple[Shadow, ...]
    backfilled: tuple[int, ...]


@dataclass(slots=True)
class _Held:
    """A reservation during a pass; ``extra`` shrinks as long jobs take extra devices."""

    shadow: Shadow
    extra: int


@dataclass(slots=True)
class _Timeline:
    """When each pool's devices come free, by time limit: running jobs and this pass's starts.

    Built lazily per pool: the running jobs' releases are gathered and sorted only for a pool
    on which some job blocks. Devices are split by whether their node is reserved, because a
    job that may not borrow cannot count reserved devices.
    """

    snapshot: ClusterSnapshot
    _running: dict[int, list[RunningJob]] | None = None
    _releases: dict[int, tuple[list[float], list[RunningJob]]] = field(default_factory=dict)
    _started: dict[int, list[_Release]] = field(default_factory=dict)
    _reserved: dict[int, frozenset[str]] = field(default_factory=dict)

    def add(self, start: Start, job: PendingJob) -> None:
        """Record a start of this pass: it holds its devices until ``now + time_limit_s``."""
        end = self.snapshot.now + job.time_limit_s
        pool = next(p for p in self.snapshot.pools if p.pool_id == start.pool_id)
        self._started.setdefault(start.pool_id, []).append(
            (end, *self._split(pool, start.placement))
        )

    def shadow(self, free: FreeDevices, pool: PoolState, job: PendingJob) -> Shadow | None:
        """``job``'s reservation on ``pool`` given the free view now, or None if it never fits.

        Releases are taken in time order (one that is overdue counts as released now) until
        enough devices are free at some moment, then those at that same moment too: the
        shadow time is that moment and the extra devices are the ones beyond the need.
        """
        now = self.snapshot.now
        borrowing = job.preemptible
        need = job.devices
        avail = free.free(pool.pool_id, borrowing=borrowing)
        time = now
        for end, open_devices, reserved_devices in self._releases_in_order(pool):
            if avail >= need and end > time:
                break
            time = max(time, end)
            avail += open_devices + (reserved_devices if borrowing else 0)
        if avail < need:
            return None
        return Shadow(job.job_id, pool.pool_id, time, avail - need, borrowing)

    def lends(self, pool: PoolState) -> bool:
        """True if ``pool`` has reserved nodes (whose devices only preemptible jobs borrow)."""
        return bool(self._reserved_nodes(pool))

    def open_devices(self, pool: PoolState, placement: Sequence[NodeSlice]) -> int:
        """How many devices of ``placement`` lie on unreserved nodes of ``pool``."""
        reserved = self._reserved_nodes(pool)
        return sum(len(part.device_indices) for part in placement if part.node not in reserved)

    def _releases_in_order(self, pool: PoolState) -> Iterator[_Release]:
        """The running jobs' releases of ``pool`` merged with this pass's starts there, by end.

        Only the ends are worked out for every running job (and sorted in numpy); how many
        devices a job frees is counted when the walk reaches it, and a shadow walk usually
        stops after a few releases.
        """
        ends, jobs = self._running_by_end(pool)
        started = sorted(self._started.get(pool.pool_id, ()))
        reserved = self._reserved_nodes(pool)
        position = 0
        for end, job in zip(ends, jobs, strict=True):
            while position < len(started) and started[position][0] < end:
                yield started[position]
                position += 1
            if reserved:
                yield (end, *self._split(pool, job.placement))
            else:
                yield (end, job.devices, 0)
        yield from started[position:]

    def _running_by_end(self, pool: PoolState) -> tuple[list[float], list[RunningJob]]:
        """The running jobs of ``pool`` by the end of their time limit, and those ends (an
        overdue job's end is in the past; :meth:`shadow` counts it as now)."""
        found = self._releases.get(pool.pool_id)
        if found is None:
            if self._running is None:
                running = self.snapshot.running
                pool_ids = {job.pool_id for job in running}
                if len(pool_ids) == 1:  # one pool runs every job (often so): no per-job loop
                    self._running = {pool_ids.pop(): list(running)}
                else:
                    self._running = {}
                    for job in running:
                        self._running.setdefault(job.pool_id, []).append(job)
            jobs = self._running.get(pool.pool_id, [])
            ends = np.fromiter(
                (job.started_at + job.time_limit_s for job in jobs), np.float64, len(jobs)
            )
            order = np.argsort(ends, kind="stable")
            found = (ends[order].tolist(), [jobs[index] for index in order.tolist()])
            self._releases[pool.pool_id] = found
        return found

    def _split(self, pool: PoolState, placement: Sequence[NodeSlice]) -> tuple[int, int]:
        reserved = self._reserved_nodes(pool)
        total = sum(len(part.device_indices) for part in placement)
        if not reserved:
            return total, 0
        on_reserved = sum(len(part.device_indices) for part in placement if part.node in reserved)
        return total - on_reserved, on_reserved

    def _reserved_nodes(self, pool: PoolState) -> frozenset[str]:
        names = self._reserved.get(pool.pool_id)
        if names is None:
            names = frozenset(node.name for node in pool.nodes if node.reserved_for is not None)
            self._reserved[pool.pool_id] = names
        return names


@dataclass(slots=True)
class _Candidates:
    """The pools jobs of one ``(pool_id, accelerator)`` may use, and quick bounds for a pass.

    When all of them hold a reservation (``all_held``), a job can start only as a backfill, so
    it is skipped at once if it is larger than ``max_free`` free devices, or if it would end
    after the latest shadow time ``max_shadow`` and is larger than ``max_extra``. The bounds are
    refreshed whenever a start or a reservation changed something (``version``).
    """

    pools: tuple[PoolState, ...]
    version: int = -1
    all_held: bool = False
    max_free: int = 0
    max_shadow: float = 0.0
    max_extra: int = 0


class _Pass:
    """The state of one :func:`plan_backfill` pass: free devices, reservations and starts."""

    def __init__(self, snapshot: ClusterSnapshot, free: FreeDevices) -> None:
        self.snapshot = snapshot
        self.free = free
        self.total_free = free.total_free()
        self.timeline = _Timeline(snapshot)
        self.candidates: dict[tuple[int | None, str | None], _Candidates] = {}
        self.held: dict[int, _Held] = {}
        self.starts: list[Start] = []
        self.backfilled: list[int] = []
        self.version = 0

    def consider(self, job: PendingJob) -> None:
        """Start ``job`` now, or backfill it, or make it the head of its open pools."""
        key = (job.pool_id, job.accelerator)
        found = self.candidates.get(key)
        if found is None:
            pools = tuple(pool for pool in self.snapshot.pools if accepts(pool, job))
            found = self.candidates[key] = _Candidates(pools)
        if not found.pools:
            return
        if found.version != self.version:
            self._refresh(found)
        free, timeline, held, now = self.free, self.timeline, self.held, self.snapshot.now
        if found.all_held:
            devices = job.devices
            if devices > found.max_free or (
                now + job.time_limit_s > found.max_shadow and devices > found.max_extra
            ):
                return  # cannot be backfilled anywhere (the common case in a full cluster)
            start = _start_behind(free, timeline, held, found.pools, job, now)
            if start is not None:
                self.backfilled.append(job.job_id)
        else:
            open_pools = [pool for pool in found.pools if pool.pool_id not in held]
            start = _start_now(free, open_pools, job)
            if start is None and len(open_pools) < len(found.pools):
                start = _start_behind(free, timeline, held, found.pools, job, now)
                if start is not None:
                    self.backfilled.append(job.job_id)
            if start is None:
                shadows = [
                    shadow
                    for pool in open_pools
                    if (shadow := timeline.shadow(free, pool, job)) is not None
                ]
                if shadows:
                    best = min(shadows, key=lambda s: (s.time, s.pool_id))
                    held[best.pool_id] = _Held(best, best.extra)
                    self.version += 1
        if start is not None:
            self.starts.append(start)
            timeline.add(start, job)
            self.total_free -= start.devices
            self.version += 1

    def backfill_rest(self, jobs: Sequence[PendingJob]) -> None:
        """Consider ``jobs``, the rest of the queue, once every pool holds a reservation.

        Only backfills are possible now. Bounds taken over all pools tell at once that a job
        cannot be backfilled anywhere: its size cannot be placed on any pool (too few free
        devices, or, for a job that fits one node, too few on any one node), or it would end
        after the latest shadow time and is larger than the most extra devices any pool has.
        They only tighten as jobs start (free and extra devices shrink, shadow times stay), so
        a job they rule out once stays ruled out: one vectorised test drops those over the
        initial bounds, and the survivors are checked, in order, against the bounds as they
        stand, recomputed after each start. Only a job that passes is :meth:`consider` ed;
        the others would start nowhere, so the starts are exactly a job-by-job scan's.
        """
        count = len(jobs)
        if count == 0:
            return
        if count <= _SHORT_QUEUE:
            # Without the vectorised filter: it only drops jobs that the bounds checked below
            # drop anyway, and on a short queue its numpy calls cost more than it saves.
            self._backfill_each(jobs)
            return
        devices = np.fromiter((job.devices for job in jobs), np.int64, count)
        ends = self.snapshot.now + np.fromiter(
            (job.time_limit_s for job in jobs), np.float64, count
        )
        placeable: dict[int, bool] = {}
        max_shadow, max_extra = self._bounds()
        fits = np.zeros(count, np.bool_)  # _placeable, for every job at once
        for pool in self.snapshot.pools:
            one_node = self.free.most_on_one_node(pool.pool_id)
            spread = self.free.free(pool.pool_id, borrowing=True)
            fits |= np.where(devices <= pool.node_size, devices <= one_node, devices <= spread)
        hopeless = ~fits | ((ends > max_shadow) & (devices > max_extra))
        survivors = np.flatnonzero(~hopeless)
        for index, size, end in zip(
            survivors.tolist(),
            devices[survivors].tolist(),
            ends[survivors].tolist(),
            strict=True,
        ):
            if self.total_free <= 0:
                break
            if (end > max_shadow and size > max_extra) or not self._placeable(size, placeable):
                continue
            version = self.version
            self.consider(jobs[index])
            if self.version != version:
                max_shadow, max_extra = self._bounds()
                placeable.clear()

    def _backfill_each(self, jobs: Sequence[PendingJob]) -> None:
        """:meth:`backfill_rest`'s loop over every job of ``jobs``, for a short queue."""
        now = self.snapshot.now
        placeable: dict[int, bool] = {}
        max_shadow, max_extra = self._bounds()
        for job in jobs:
            if self.total_free <= 0:
                break
            size = job.devices
            if (now + job.time_limit_s > max_shadow and size > max_extra) or not self._placeable(
                size, placeable
            ):
                continue
            version = self.version
            self.consider(job)
            if self.version != version:
                max_shadow, max_extra = self._bounds()
                placeable.clear()

    def _placeable(self, size: int, known: dict[int, bool]) -> bool:
        """Whether a job of ``size`` devices could be placed on some pool now, by free counts
        alone (a job that fits a node needs them on one node); ``known`` memoises the answers
        until the next start. False means :func:`FreeDevices.place` would fail everywhere."""
        answer = known.get(size)
        if answer is None:
            free = self.free
            answer = known[size] = any(
                size <= free.most_on_one_node(pool.pool_id)
                if size <= pool.node_size
                else size <= free.free(pool.pool_id, borrowing=True)
                for pool in self.snapshot.pools
            )
        return answer

    def _bounds(self) -> tuple[float, int]:
        """``(latest shadow time, most extra devices)`` over all pools, for
        :meth:`backfill_rest`: a job ending after the first and larger than the second cannot
        be backfilled anywhere. Every pool holds a reservation."""
        pools = self.snapshot.pools
        counts = [self.free.free(pool.pool_id, borrowing=True) for pool in pools]
        max_shadow = max(held.shadow.time for held in self.held.values())
        max_extra = max(
            self.held[pool.pool_id].extra
            if self.held[pool.pool_id].shadow.borrowing or not self.timeline.lends(pool)
            else free_count  # a preemptible job may go beyond the extra devices there
            for pool, free_count in zip(pools, counts, strict=True)
        )
        return max_shadow, max_extra

    def _refresh(self, found: _Candidates) -> None:
        """Recompute ``found``'s quick bounds for the current state of the pass."""
        held = self.held
        found.version = self.version
        found.all_held = all(pool.pool_id in held for pool in found.pools)
        if not found.all_held:
            return
        counts = [self.free.free(pool.pool_id, borrowing=True) for pool in found.pools]
        found.max_free = max(counts)
        found.max_shadow = max(held[pool.pool_id].shadow.time for pool in found.pools)
        found.max_extra = max(
            held[pool.pool_id].extra
            if held[pool.pool_id].shadow.borrowing or not self.timeline.lends(pool)
            else count  # a preemptible job may go beyond the extra devices on reserved nodes
            for pool, count in zip(found.pools, counts, strict=True)
        )


def plan_backfill(snapshot: ClusterSnapshot, ordered: Sequence[PendingJob]) -> BackfillPlan:
    """Start jobs of ``ordered`` (highest priority first) with EASY backfilling, per pool.

    ``ordered`` should hold pending jobs of ``snapshot``, each once; the caller owns the order
    and this function never reorders it. The rules, the guarantee and the approximations are in
    the module docstring. Pure: reads the snapshot, returns new values.

    The scan stops as soon as no device is free anywhere. Once every pool holds a reservation,
    only backfills remain possible, and the rest of the queue is filtered in vectorised steps
    (:meth:`_Pass.backfill_rest`), so a long queue behind a full cluster costs little.
    """
    free = FreeDevices(snapshot)
    if free.total_free() == 0:
        return BackfillPlan((), (), ())
    state = _Pass(snapshot, free)
    pool_count = len(snapshot.pools)
    for index, job in enumerate(ordered):
        if state.total_free <= 0:
            break  # nothing more can start anywhere; reservations would change nothing
        state.consider(job)
        if len(state.held) == pool_count:
            state.backfill_rest(ordered[index + 1 :])
            break
    return BackfillPlan(
        starts=tuple(state.starts),
        reservations=tuple(held.shadow for held in state.held.values()),
        backfilled=tuple(state.backfilled),
    )


def backfill(snapshot: ClusterSnapshot, ordered: Sequence[PendingJob]) -> list[Start]:
    """The starts of :func:`plan_backfill` (what a policy's ``decide`` returns)."""
    return list(plan_backfill(snapshot, ordered).starts)


def _start_now(free: FreeDevices, pools: Sequence[PoolState], job: PendingJob) -> Start | None:
    """Start ``job`` on the pool with the most free devices it can use, as FIFO does.

    Same choice as :func:`nuri.policy.fifo.start_on_best_pool`; pools without enough free
    devices are skipped before placing (placement would fail on them anyway), which keeps a
    long queue of jobs that do not fit cheap.
    """
    fitting = [
        (-count, pool.pool_id)
        for pool in pools
        if (count := free.free(pool.pool_id, borrowing=job.preemptible)) >= job.devices
    ]
    for _, pool_id in sorted(fitting):
        placement = free.place(pool_id, job.devices, may_borrow=job.preemptible)
        if placement is not None:
            return Start(job_id=job.job_id, pool_id=pool_id, placement=placement)
    return None


def _start_behind(
    free: FreeDevices,
    timeline: _Timeline,
    held: Mapping[int, _Held],
    pools: Sequence[PoolState],
    job: PendingJob,
    now: float,
) -> Start | None:
    """Backfill ``job`` on a reserved candidate pool without delaying that pool's reservation."""
    end = now + job.time_limit_s
    fitting = [
        (-count, pool.pool_id, pool)
        for pool in pools
        if pool.pool_id in held
        and (count := free.free(pool.pool_id, borrowing=job.preemptible)) >= job.devices
    ]
    for _, pool_id, pool in sorted(fitting, key=lambda item: item[:2]):
        reservation = held[pool_id]
        short = end <= reservation.shadow.time
        if (
            not short
            and job.devices > reservation.extra
            and (reservation.shadow.borrowing or not job.preemptible or not timeline.lends(pool))
        ):
            continue  # a long job must fit in the extra devices, and it cannot
        placement = free.place(pool_id, job.devices, may_borrow=job.preemptible)
        if placement is None:
            continue
        if not short:
            taken = (
                job.devices
                if reservation.shadow.borrowing
                else timeline.open_devices(pool, placement)
            )
            if taken > reservation.extra:
                free.give_back(pool_id, placement)
                continue
            reservation.extra -= taken
        return Start(job_id=job.job_id, pool_id=pool_id, placement=placement)
    return None


def shadow_after(
    snapshot: ClusterSnapshot, job: PendingJob, pool_id: int, starts: Sequence[Start] = ()
) -> Shadow | None:
    """``job``'s reservation on pool ``pool_id`` if ``starts`` (of pending jobs) were applied.

    Computed exactly as :func:`plan_backfill` computes reservations: every start holds its
    devices until ``now`` plus its job's time limit. If the job fits right away, the shadow time
    is ``now``. None if the pool is not in the snapshot, the job does not accept it, or it can
    never fit there. For tests and tools; policies get reservations from :func:`plan_backfill`.
    """
    pool = next((p for p in snapshot.pools if p.pool_id == pool_id), None)
    if pool is None or not accepts(pool, job):
        return None
    pending = {p.job_id: p for p in snapshot.pending}
    free = FreeDevices(snapshot)
    timeline = _Timeline(snapshot)
    for start in starts:
        free.take(start.pool_id, start.placement)
        timeline.add(start, pending[start.job_id])
    return timeline.shadow(free, pool, job)


def rank_jobs(
    jobs: Sequence[PendingJob],
    score: Sequence[float] | npt.NDArray[np.float64],
    now: float,
    bound_s: Mapping[Tier, float],
) -> list[PendingJob]:
    """``jobs`` in scheduling order: starved jobs first, then by ``score``, highest first.

    A job is *starved* once ``now >= submitted_at + bound_s[tier]`` (its *deadline*). Starved
    jobs come first, earliest deadline first, then by job id; the others follow by descending
    ``score[i]`` (the policy's priority of ``jobs[i]``), then submission time, then job id. So
    a starved job is overtaken only by jobs that starved before it did -- finitely many, which
    is what makes the policies using this starvation-free; a shorter bound for a tier lets its
    jobs starve, and so go first, sooner. Scores must not be NaN.

    Vectorised (one ``numpy.lexsort``): about 3 ms for 10,000 jobs. A short queue is sorted
    on the same keys in Python instead (:func:`_rank_short`).
    """
    count = len(jobs)
    if count == 0:
        return []
    if count <= _SHORT_QUEUE:
        return _rank_short(jobs, score, now, bound_s)
    # Columns read by comprehensions: on CPython 3.11 about twice as fast as map over attrgetter.
    submitted = np.array([job.submitted_at for job in jobs], np.float64)
    ids = np.array([job.job_id for job in jobs], np.int64)
    bounds = set(bound_s.values())
    bound: float | npt.NDArray[np.float64] = (
        bounds.pop()  # the same for every tier: no per-job lookup
        if len(bounds) == 1 and len(bound_s) == len(Tier)
        else np.array([bound_s[job.tier] for job in jobs], np.float64)
    )
    deadline = submitted + bound
    starved = now >= deadline
    rank = -np.asarray(score, dtype=np.float64)
    order = np.lexsort(
        (
            ids,
            np.where(starved, 0.0, submitted),
            np.where(starved, deadline, rank),
            ~starved,
        )
    )
    return list(map(jobs.__getitem__, order.tolist()))


_SHORT_QUEUE: Final = 64
"""Queues up to this long are ranked in Python: below it, numpy's fixed cost per call
outweighs its gain per job (measured on the simulator's passes, whose queues are mostly a few
dozen jobs long)."""


def _rank_short(
    jobs: Sequence[PendingJob],
    score: Sequence[float] | npt.NDArray[np.float64],
    now: float,
    bound_s: Mapping[Tier, float],
) -> list[PendingJob]:
    """:func:`rank_jobs` by a Python sort on the same keys as its ``lexsort``, in the same
    float64 values: (not starved, deadline or -score, 0 or submission time, job id). Job ids
    are unique, so both sorts give the one order these keys define."""
    scores = score.tolist() if isinstance(score, np.ndarray) else score
    keys: list[tuple[bool, float, float, int]] = []
    for job, value in zip(jobs, scores, strict=True):
        deadline = job.submitted_at + bound_s[job.tier]
        if now >= deadline:
            keys.append((False, deadline, 0.0, job.job_id))
        else:
            keys.append((True, -float(value), job.submitted_at, job.job_id))
    return [jobs[index] for index in sorted(range(len(jobs)), key=keys.__getitem__)]


def uniform_bound(bound_s: float) -> dict[Tier, float]:
    """The same starvation bound (seconds) for every tier."""
    return dict.fromkeys(Tier, bound_s)


class OrderedBackfill:
    """Base of the policies that rank the queue their own way, then EASY-backfill in that order.

    Subclasses define ``order``; deciding and waking are the same for all of them.
    """

    preemptive = False

    def order(self, snapshot: ClusterSnapshot) -> Sequence[PendingJob]:
        raise NotImplementedError

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        if not snapshot.pending or not any(pool.free_devices for pool in snapshot.pools):
            return []
        return backfill(snapshot, self.order(snapshot))

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:  # noqa: ARG002 - protocol
        return None


class EasyBackfill(OrderedBackfill):
    """FIFO order (tier, then submission, then id) with EASY backfilling on time limits.

    Jobs pending :data:`STARVATION_BOUND_S` or longer go first, oldest first, so that a stream
    of higher-tier jobs cannot hold a lower-tier job back forever. With one tier, or no job
    that old, the order is exactly FIFO's. See the module docstring for the rules and the
    guarantee. Stateless: ``decide`` is a pure function of the snapshot.
    """

    name = "easy-backfill"

    def __init__(self, context: PolicyContext | None = None) -> None:
        del context  # EASY needs nothing beyond the snapshot

    def order(self, snapshot: ClusterSnapshot) -> list[PendingJob]:
        """The pending jobs in the order EASY considers them: FIFO's, starved jobs first.

        Without starved jobs this is :func:`nuri.policy.fifo.arrival_order`: tier, then
        submission time, then job id.
        """
        jobs = snapshot.pending
        tier_score = [-float(job.tier.rank) for job in jobs]
        return rank_jobs(jobs, tier_score, snapshot.now, uniform_bound(STARVATION_BOUND_S))
