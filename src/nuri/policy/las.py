"""Tiresias-style discretised two-dimensional least-attained-service (2D-LAS), preemptive.

Source: Gu et al., "Tiresias: A GPU Cluster Manager for Distributed Deep Learning", NSDI'19
(section 4.2, "Discretized 2D-LAS"), and its simulator (SymbioticLab/Tiresias,
``simulator/run_sim.py``, schedule ``dlas-gpu``). Nothing here reads a job's duration:
priorities come only from the service a job has already attained, which the snapshot carries.

How a decision is made
----------------------
*Attained service* is two-dimensional: devices x seconds (``PendingJob.attained_device_seconds``,
``RunningJob.attained_at(now)``). ``K = len(thresholds) + 1`` priority queues split it::

    queue 0          attained <  T0 * s          (every new job starts here)
    queue 1   T0*s <= attained <  T1 * s
    ...
    queue K-1        attained >= T(K-2) * s

where ``s`` is the job's tier scale (below). Queues are served in order, lowest number first;
within a queue jobs go by tier, then submission time, then id (the house FIFO order of
:func:`nuri.policy.fifo.arrival_order`), promoted jobs last (below). Each pass walks the
pending jobs in that order and

1. starts a job on the candidate pool with most free devices if it fits (gang placement by
   :class:`~nuri.policy.placement.FreeDevices`, which consolidates onto few nodes);
2. otherwise *preempts*: running jobs at least ``preempt_gap`` queues below it in one candidate
   pool, least valuable first (lowest queue, lowest tier, latest submission), are freed
   (``FreeDevices.give_back``) until the job fits -- on one node if the job fits one node,
   since such a job never spans nodes; the choice preempting the fewest jobs (then devices)
   over all candidate pools and nodes wins. If even every eligible victim would not let the
   job start, nothing is preempted (:class:`PassView`);
3. otherwise skips it (later, smaller jobs may use the free devices, as in Tiresias).

A job is demoted when its attained service crosses a threshold; :meth:`Las.wake_at` tells the
engine when that (or the end of a protection, or a promotion) happens, so it re-decides then.

Starvation (Tiresias' STARVELIMIT)
----------------------------------
A pending job that has run before is *promoted* back to queue 0 when it has waited at least
``starve_limit`` times as long as it has run: ``waited >= starve_limit * executed``, where
``executed = attained / devices`` and ``waited = now - submitted_at - executed`` (its whole time
in the system not running). Tiresias counts both since the last promotion; a pure policy has no
memory, so nuri uses the whole history, which makes each further promotion need proportionally
more waiting. Optionally (``max_wait_s``, off by default) a job that has waited that long in
total per attempt it has had (``max_wait_s * (1 + preemptions)``) is promoted too. As Tiresias
appends a promoted job to the end of queue 0, promoted jobs rank after the other queue-0 jobs
(``promoted_last``).

A promoted job that starts runs with its attained service *reset*, as Tiresias resets
``executed_time``: while it runs it is ranked by the service of the current attempt only
(``devices * (now - started_at)``), and it is protected until it has run
``promoted_run_factor * waited / starve_limit`` in all, so that starving jobs are not passed
back and forth. Whether an attempt started promoted is recomputed from ``RunningJob``
(submission, start, attained before the attempt), so the snapshot alone decides.

Tiers
-----
Tiers weigh in twice: the thresholds of a job are multiplied by its tier scale
(``tier_scale``, by default strategic x4, hub member x2, general x1), so higher tiers stay longer
in high queues; and within a queue higher tiers go first. A tier never preempts within a queue.

Thrashing
---------
Each preemption costs the victim ``PolicyContext.restart_cost_s`` (the simulator charges it).
Three guards keep preemptions rare: a job preempts only jobs ``preempt_gap`` (2) or more queues
below its own -- hysteresis, so a job that has just crossed one threshold is not stopped for a
job one queue up; a (re)started job is protected for ``min_run_s`` (by default
``max(10 * restart_cost_s, 15 min)``); and a promoted job's protection grows with its wait.

Defaults and how they were chosen
---------------------------------
``thresholds_gpu_hours = (0.25, 1, 4, 16, 64, 256, 1024)`` (eight queues a factor 4 apart),
``preempt_gap = 2``, ``starve_limit = 32``, ``promoted_run_factor = 2``, ``min_run_s`` 15 min.
Tuned on end metrics only, on the Philly-derived Gavel trace (15,264 jobs; one H100 pool of
36 x 8 devices, offered load 0.92, restart cost 60 s); the policy never saw a duration. There
it gives mean JCT 4.1e5 s (SRTF oracle 2.3e5 s, Slurm multifactor 1.9e6 s), mean bounded
slowdown 2.8 (multifactor 3,500), p99 JCT 1.05x multifactor's and 1.75 preemptions per job.
Three queues (thresholds 1 and 16 device-hours) let long jobs take turns at the bottom and
gave 1.8x the mean JCT; ``starve_limit`` 8 with promoted jobs first in queue 0 made promoted long
jobs block new ones (median JCT x13); protecting a restart for a fraction of its past run
blocked short jobs; ``preempt_gap = 1`` cost 2.3 preemptions per job.

Cost: one pass is ``O(P log P + R log R)`` for ``P`` pending and ``R`` running jobs, plus
placement of the jobs that start; once nothing is free and nobody can be preempted the pass
stops, and a job no larger than one that could not start is skipped in O(1).
"""

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from nuri.domain.commons import Tier
from nuri.policy.placement import FreeDevices, candidate_pools
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    NodeSlice,
    PendingJob,
    PoolState,
    Preempt,
    RunningJob,
    Start,
)

DEFAULT_THRESHOLDS_GPU_HOURS: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)
"""Queue thresholds in device-hours of attained service: eight queues, a factor 4 apart."""

DEFAULT_STARVE_LIMIT = 32.0
"""Promote a job that has waited this many times as long as it has run."""

DEFAULT_PREEMPT_GAP = 2
"""A job may preempt only jobs at least this many queues below its own."""

DEFAULT_PROMOTED_RUN_FACTOR = 2.0
"""A promoted job is protected until its run time reaches this many times wait / starve_limit."""

DEFAULT_TIER_SCALE: Mapping[Tier, float] = {
    Tier.STRATEGIC: 4.0,
    Tier.HUB_MEMBER: 2.0,
    Tier.GENERAL: 1.0,
}
"""How much longer each tier stays in each queue (thresholds are multiplied by it)."""

_EPS = 1e-9
"""Slack for comparing float times and device-seconds (relative to magnitude, see _slack)."""


def _slack(bound: float) -> float:
    """``bound`` less float rounding slack: ``x >= _slack(b)`` is "x reached b" for times and
    device-seconds, so that a wake-up computed for a crossing does see it."""
    return bound - _EPS * max(1.0, abs(bound))


class Las:
    """Discretised 2D-LAS with preemption, starvation promotion and anti-thrashing guards.

    Build it from a :class:`PolicyContext` (only ``restart_cost_s`` is read) and optional
    keyword overrides; see the module docstring for what each one means. The object is
    immutable after construction; ``decide`` and ``wake_at`` are pure.
    """

    name = "las"
    preemptive = True

    def __init__(
        self,
        context: PolicyContext | None = None,
        *,
        thresholds_gpu_hours: Sequence[float] = DEFAULT_THRESHOLDS_GPU_HOURS,
        starve_limit: float | None = DEFAULT_STARVE_LIMIT,
        max_wait_s: float | None = None,
        min_run_s: float | None = None,
        promoted_run_factor: float = DEFAULT_PROMOTED_RUN_FACTOR,
        preempt_gap: int = DEFAULT_PREEMPT_GAP,
        promoted_last: bool = True,
        tier_scale: Mapping[Tier, float] = DEFAULT_TIER_SCALE,
    ) -> None:
        restart_cost_s = (context or PolicyContext()).restart_cost_s
        thresholds = tuple(float(t) * 3600.0 for t in thresholds_gpu_hours)
        if any(t <= 0 for t in thresholds) or list(thresholds) != sorted(set(thresholds)):
            raise ValueError("LAS thresholds must be positive and strictly increasing")
        if starve_limit is not None and starve_limit <= 0:
            raise ValueError("starve_limit must be positive (or None to disable promotion)")
        if promoted_run_factor < 1.0:
            raise ValueError("promoted_run_factor must be at least 1")
        self.thresholds_s: tuple[float, ...] = thresholds
        """Queue thresholds in device-seconds, for a tier scale of 1."""
        self.starve_limit = starve_limit
        self.max_wait_s = max_wait_s
        self.min_run_s = (
            max(10.0 * restart_cost_s, 900.0) if min_run_s is None else float(min_run_s)
        )
        self.promoted_run_factor = promoted_run_factor
        if preempt_gap < 1:
            raise ValueError("preempt_gap must be at least 1")
        self.preempt_gap = preempt_gap
        self.promoted_last = promoted_last
        self.tier_scale: dict[Tier, float] = {tier: tier_scale.get(tier, 1.0) for tier in Tier}
        # Per tier, the scaled thresholds less float slack: queue = how many of them are <= x.
        self._bounds: dict[Tier, tuple[float, ...]] = {
            tier: tuple(_slack(t * self.tier_scale[tier]) for t in thresholds) for tier in Tier
        }

    # -- priorities ------------------------------------------------------------------------------

    def queue_of(self, attained: float, tier: Tier) -> int:
        """The queue (0 = highest) of a job with ``attained`` device-seconds in ``tier``."""
        return bisect_right(self._bounds[tier], attained)

    def _starving(self, attained: float, devices: int, waited: float, preemptions: int) -> bool:
        """True if a job that ran ``attained`` device-seconds and waited ``waited`` s is promoted."""
        if attained <= 0.0:
            return False  # a job that never ran is in queue 0 already
        if self.starve_limit is not None and waited >= _slack(
            self.starve_limit * attained / devices
        ):
            return True
        return self.max_wait_s is not None and waited >= _slack(self.max_wait_s * (1 + preemptions))

    def pending_queue(self, job: PendingJob, now: float) -> int:
        """Queue of a pending job at ``now``: 0 if starving, else by its attained service."""
        attained = job.attained_device_seconds
        if attained <= 0.0:
            return 0
        waited = now - job.submitted_at - attained / job.devices
        if self._starving(attained, job.devices, waited, job.preemptions):
            return 0
        return bisect_right(self._bounds[job.tier], attained)

    def _late(self, job: PendingJob, queue: int) -> bool:
        """Whether a pending job ranks after the others of its queue: a promoted job does,
        with ``promoted_last`` (Tiresias appends a promoted job to the end of queue 0)."""
        return (
            self.promoted_last
            and queue == 0
            and job.attained_device_seconds > 0.0
            and self.queue_of(job.attained_device_seconds, job.tier) > 0
        )

    def _promoted_at_start(self, job: RunningJob, devices: int) -> bool:
        """Whether the current attempt started as a promotion (then its service was reset)."""
        attained = job.attained_device_seconds
        if attained <= 0.0:
            return False
        waited = job.started_at - job.submitted_at - attained / devices
        return self._starving(attained, devices, waited, job.preemptions)

    def running_service(self, job: RunningJob, now: float) -> tuple[float, float]:
        """``(service at the attempt's start, service now)`` by which a running job is ranked."""
        devices = job.devices
        if self._promoted_at_start(job, devices):
            return 0.0, devices * max(0.0, now - job.started_at)
        return job.attained_device_seconds, job.attained_device_seconds + devices * max(
            0.0, now - job.started_at
        )

    def running_queue(self, job: RunningJob, now: float) -> int:
        """Queue of a running job at ``now`` (attempt-only service if it started promoted)."""
        return self.queue_of(self.running_service(job, now)[1], job.tier)

    def protected_until(self, job: RunningJob) -> float:
        """When a running job may first be preempted by this policy (``inf``: never).

        Every attempt is protected for ``min_run_s``. An attempt that started as a starvation
        promotion, after waiting ``W`` with ``E`` seconds run before, is protected until the
        job has run ``promoted_run_factor * W / starve_limit`` seconds in all (at least
        ``min_run_s``), so a promotion buys a stretch of running that grows with the wait and
        a starving job is not passed back and forth among other starving ones.
        """
        if not job.preemptible:
            return float("inf")
        devices = job.devices
        until = job.started_at + self.min_run_s
        if self.starve_limit is not None and self._promoted_at_start(job, devices):
            executed = job.attained_device_seconds / devices
            waited = job.started_at - job.submitted_at - executed
            earned = self.promoted_run_factor * waited / self.starve_limit - executed
            until = max(until, job.started_at + earned)
        return until

    # -- the policy ------------------------------------------------------------------------------

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        """Starts (and preemptions) for this pass; see the module docstring for the rules."""
        if not snapshot.pending:
            return []
        now = snapshot.now
        view = PassView(snapshot)
        view.add_victims(self._victims(snapshot, now))
        ordered = sorted(
            (
                (queue, self._late(job, queue), job.tier.rank, job.submitted_at, job.job_id, job)
                for job in snapshot.pending
                for queue in (self.pending_queue(job, now),)
            ),
            key=lambda entry: entry[:5],
        )
        decisions: list[Decision] = []
        failed: dict[tuple[tuple[int, ...], tuple[bool, ...], bool, int], int] = {}
        for queue, _, _, _, _, job in ordered:
            if view.free.total_free() == 0 and not any(
                victim.worth >= queue + self.preempt_gap for victim in view.first_victims()
            ):
                break  # nothing is free and nobody below this queue may be preempted
            pools = candidate_pools(snapshot.pools, job)
            # Whether a job of this size and these options can start is monotone in its size,
            # given whether it must fit one node in each pool; free devices only shrink.
            key = (
                tuple(pool.pool_id for pool in pools),
                tuple(job.devices > pool.node_size for pool in pools),
                job.preemptible,
                queue,
            )
            if job.devices >= failed.get(key, job.devices + 1):
                continue  # a job no larger, with the same options, could not start
            start = view.start_on_free(pools, job)
            if start is None:
                chosen = view.start_by_preempting(pools, job, _below(queue + self.preempt_gap - 1))
                if chosen is None:
                    failed[key] = job.devices
                    continue
                start, stopped = chosen
                decisions.extend(Preempt(stopped_job.job_id) for stopped_job in stopped)
            decisions.append(start)
        return decisions

    def _victims(self, snapshot: ClusterSnapshot, now: float) -> list[tuple[RunningJob, float]]:
        """``(job, queue)`` of the running jobs that may be preempted now (not protected, not in
        queue 0), least valuable first: lowest queue (highest number), lowest tier, latest
        submission, highest id."""
        ranked: list[tuple[tuple[int, int, float, int], RunningJob, int]] = []
        for job in snapshot.running:
            if not job.preemptible or now < _slack(self.protected_until(job)):
                continue
            queue = self.running_queue(job, now)
            if queue == 0:
                continue  # nothing outranks queue 0
            ranked.append(((-queue, -job.tier.rank, -job.submitted_at, -job.job_id), job, queue))
        ranked.sort(key=lambda entry: entry[0])
        return [(job, float(queue)) for _, job, queue in ranked]

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:
        """The earliest future moment at which this policy could decide differently.

        Considered: a running job crossing its next queue threshold while some pending job is
        in a higher queue than it would then be in; a running job's ``min_run_s`` protection
        ending (see :meth:`protected_until`) while a pending job of a higher queue waits; a
        pending job reaching its starvation promotion. None if there is no pending job or no
        such moment.
        """
        if not snapshot.pending:
            return None
        now = snapshot.now
        times: list[float] = []
        best_pending = len(self.thresholds_s)
        for job in snapshot.pending:
            queue = self.pending_queue(job, now)
            best_pending = min(best_pending, queue)
            if queue > 0:
                at = self._promotion_time(job)
                if at is not None:
                    times.append(at)
        last_queue = len(self.thresholds_s)
        for running in snapshot.running:
            start_service, service = self.running_service(running, now)
            queue = self.queue_of(service, running.tier)
            if queue < last_queue and best_pending + self.preempt_gap <= queue + 1:
                threshold = self.thresholds_s[queue] * self.tier_scale[running.tier]
                times.append(running.started_at + (threshold - start_service) / running.devices)
            if queue >= best_pending + self.preempt_gap:
                times.append(self.protected_until(running))
        future = [at for at in times if at > now and at != float("inf")]
        return min(future) if future else None

    def _promotion_time(self, job: PendingJob) -> float | None:
        """When a pending job that has run will reach its starvation promotion (None: never)."""
        if job.attained_device_seconds <= 0.0:
            return None
        executed = job.attained_device_seconds / job.devices
        base = job.submitted_at + executed
        options: list[float] = []
        if self.starve_limit is not None:
            options.append(base + self.starve_limit * executed)
        if self.max_wait_s is not None:
            options.append(base + self.max_wait_s * (1 + job.preemptions))
        return min(options) if options else None


def _below(queue: int) -> Callable[["Victim"], bool]:
    """Whether a victim is in a strictly lower queue (larger number) than ``queue``."""
    return lambda victim: victim.worth > queue


@dataclass(frozen=True, slots=True)
class Victim:
    """A running job a preempting policy may stop, in that policy's terms.

    ``worth`` is the policy's measure of the job (LAS: its queue; the oracle: its remaining
    GPU-time); ``usable`` are its slices on unreserved nodes, the only devices handed to
    another job in the same pass (a reservation may need the others back).
    """

    job: RunningJob
    worth: float
    usable: tuple[NodeSlice, ...]
    count: int
    """Devices in ``usable``."""


class PassView:
    """The free devices during one pass of a preempting policy, and who may be preempted.

    Wraps :class:`~nuri.policy.placement.FreeDevices` (through its public methods only) and
    keeps, in step with every start and preemption of the pass, the free devices of each
    unreserved node: a job that fits one node never spans nodes, so preempting for it must free
    enough devices *on one node*. Built per pass; never shared between passes.
    """

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.free = FreeDevices(snapshot)
        self._reserved = frozenset(
            node.name
            for pool in snapshot.pools
            for node in pool.nodes
            if node.reserved_for is not None
        )
        self._node_free: dict[str, int] = {
            node.name: len(node.free_indices)
            for pool in snapshot.pools
            for node in pool.nodes
            if node.reserved_for is None
        }
        self._nodes_of: dict[int, tuple[str, ...]] = {
            pool.pool_id: tuple(n.name for n in pool.nodes if n.reserved_for is None)
            for pool in snapshot.pools
        }
        self._by_pool: dict[int, list[Victim]] = {}
        self._by_node: dict[str, list[Victim]] = {}
        self.preempted: set[int] = set()
        """Ids of the jobs preempted so far in this pass."""

    def add_victims(self, victims: Iterable[tuple[RunningJob, float]]) -> None:
        """Register ``(job, worth)`` pairs in preemption order (least valuable first).

        Jobs that are not preemptible or hold no unreserved device are left out.
        """
        for job, worth in victims:
            if not job.preemptible:
                continue
            usable = tuple(part for part in job.placement if part.node not in self._reserved)
            count = sum(len(part.device_indices) for part in usable)
            if not count:
                continue
            victim = Victim(job, worth, usable, count)
            self._by_pool.setdefault(job.pool_id, []).append(victim)
            for part in usable:
                self._by_node.setdefault(part.node, []).append(victim)

    def first_victims(self) -> list[Victim]:
        """Per pool, the least valuable victim not yet preempted."""
        first = []
        for entries in self._by_pool.values():
            for victim in entries:
                if victim.job.job_id not in self.preempted:
                    first.append(victim)
                    break
        return first

    def start_on_free(self, pools: Sequence[PoolState], job: PendingJob) -> Start | None:
        """Place ``job`` on the candidate pool with most free devices it can use, if one fits.

        Pools with too few free devices are skipped in O(1), which keeps long queues cheap.
        """
        borrow = job.preemptible
        free = self.free
        fitting = [
            pool for pool in pools if free.free(pool.pool_id, borrowing=borrow) >= job.devices
        ]
        fitting.sort(key=lambda p: (-free.free(p.pool_id, borrowing=borrow), p.pool_id))
        for pool in fitting:
            placement = free.place(pool.pool_id, job.devices, may_borrow=borrow)
            if placement is not None:
                self._count(placement, -1)
                return Start(job_id=job.job_id, pool_id=pool.pool_id, placement=placement)
        return None

    def start_by_preempting(
        self, pools: Sequence[PoolState], job: PendingJob, may_preempt: Callable[[Victim], bool]
    ) -> tuple[Start, list[RunningJob]] | None:
        """Start ``job`` by preempting victims of one candidate pool, or None (nothing changed).

        Only victims for which ``may_preempt`` holds and not preempted yet are considered, in
        their registered order. A job larger than a node needs enough free devices in the pool;
        one that fits a node needs them on one node, counting only victims' devices there. Per
        pool (and node), victims are taken in order until the job would fit, then those not
        needed are dropped again (most valuable first). The choice preempting the fewest jobs
        wins (each preemption costs a job a restart), then the fewest devices, then pool and
        node order. On success the victims are
        marked preempted and their devices given to the job; the caller emits the Preempt
        decisions (shared by :class:`Las` and the SRTF oracle).
        """
        best: tuple[tuple[int, int, int, int], int, list[Victim]] | None = None
        for pool in pools:
            options: list[tuple[int, Sequence[Victim], str | None, int]]
            if job.devices > pool.node_size:
                have = self.free.free(pool.pool_id, borrowing=job.preemptible)
                options = [(0, self._by_pool.get(pool.pool_id, []), None, have)]
            else:
                options = [
                    (index, self._by_node[name], name, self._node_free[name])
                    for index, name in enumerate(self._nodes_of.get(pool.pool_id, ()))
                    if name in self._by_node
                ]
            for index, entries, node, have in options:
                need = job.devices - have
                if need <= 0:
                    continue  # it fits without preempting (the caller tried that first)
                chosen = _cover(entries, need, node, may_preempt, self.preempted)
                if chosen is None:
                    continue
                cost = (len(chosen), sum(v.job.devices for v in chosen), pool.pool_id, index)
                if best is None or cost < best[0]:
                    best = (cost, pool.pool_id, chosen)
        if best is None:
            return None
        _, pool_id, chosen = best
        for victim in chosen:
            self.free.give_back(pool_id, victim.usable)
            self._count(victim.usable, +1)
        placement = self.free.place(pool_id, job.devices, may_borrow=job.preemptible)
        if placement is None:  # the per-node view disagrees with FreeDevices: undo, start nothing
            for victim in chosen:
                self.free.take(pool_id, victim.usable)
                self._count(victim.usable, -1)
            return None
        self._count(placement, -1)
        self.preempted.update(victim.job.job_id for victim in chosen)
        return Start(job.job_id, pool_id, placement), [victim.job for victim in chosen]

    def _count(self, placement: Iterable[NodeSlice], sign: int) -> None:
        for part in placement:
            if part.node in self._node_free:
                self._node_free[part.node] += sign * len(part.device_indices)


def _cover(
    entries: Sequence[Victim],
    need: int,
    node: str | None,
    may_preempt: Callable[[Victim], bool],
    preempted: set[int],
) -> list[Victim] | None:
    """Victims, in order, whose devices (on ``node``, or anywhere if None) cover ``need``, with
    those not needed dropped again, most valuable first; None if they cannot cover it."""
    chosen: list[tuple[Victim, int]] = []
    gained = 0
    for victim in entries:
        if gained >= need:
            break
        if victim.job.job_id in preempted or not may_preempt(victim):
            continue
        count = (
            victim.count
            if node is None
            else sum(len(part.device_indices) for part in victim.usable if part.node == node)
        )
        chosen.append((victim, count))
        gained += count
    if gained < need:
        return None
    for index in range(len(chosen) - 1, -1, -1):
        if gained - chosen[index][1] >= need:
            gained -= chosen[index][1]
            del chosen[index]
    return [victim for victim, _ in chosen]
