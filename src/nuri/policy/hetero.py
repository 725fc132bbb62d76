"""Heterogeneity-aware placement: each job goes where it gets the most work per H100e charged.

After Gavel (Narayanan et al., "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning
Workloads", OSDI'20): one job runs at very different relative speeds on different accelerators
(Gavel measured Recommendation models *faster* on K80s than on V100s, ResNet-50 seven times
slower), so a scheduler that knows the throughputs puts each job where its comparative advantage
is. Gavel solves an allocation LP over time slices and preempts; this is the non-preemptive,
per-decision form of the same idea, priced in the commons' own currency, the exchange rate.

For a job of class ``c`` and a pool ``p`` of accelerator ``a`` and exchange rate ``r_p`` (H100e
per device, ``rate_milli / 1000``)::

    speed(p) = throughputs[c][a]     if the table has it (H100e; see nuri.policy.throughput)
             = r_p                   otherwise: the exchange rate *is* the commons' estimate
    value(p) = speed(p) / r_p        work per H100e charged (1.0 wherever the rate is right)

Rules, each a pure function of the snapshot:

1. **Order.** Tier first (strategic, hub member, general), then submission time, then job id, as
   FIFO and EASY backfilling order the queue -- except that a job that has waited
   :attr:`Hetero.starvation_s` or longer is *starving* and goes before every job that is not,
   oldest first.
2. **Candidates.** The pools the job accepts (:func:`~nuri.policy.placement.accepts`: its pool,
   its accelerator class, or any) and is not larger than, less those where it would run more
   than :attr:`Hetero.max_slowdown` times slower than on its fastest candidate. That guard keeps
   jobs inside their time limits: a user's limit is taken to be set for the fastest accelerator
   the job accepts, and limits over-estimate run times by 2 to 5 times (median about 3; Tsafrir,
   Etsion and Feitelson, IEEE TPDS 18(6), 2007; :mod:`nuri.traces.time_limits`), so a job at most
   2x slower usually still finishes: of the Gavel Philly-derived jobs with limits from
   :func:`~nuri.traces.time_limits.with_time_limits`, 12% would overrun theirs 2x slower, 27%
   2.5x and 44% 3x slower. A job pinned to a pool has that pool only. Its *best* pool is the
   candidate of highest value, then highest speed, then lowest pool id.
3. **Place.** The job starts on the first candidate, in that order, that is *open* to it (rule 4)
   and is its best pool or is *worth moving to*: the candidate's value is at least
   :attr:`Hetero.min_value_ratio` times the best's, and the time the job loses by running there
   is at most the time it would wait for the best pool::

       L * s_max * (1 / speed(p) - 1 / speed(best))   <=   wait(best)

   ``L`` is the job's time limit and ``s_max`` its fastest candidate's speed, so
   ``L * s_max / speed`` bounds its run time on a pool; a pool at least as fast as the best
   loses nothing. ``wait(best)`` is estimated as admission and EASY backfilling estimate: each
   job running on the best pool holds its devices until its start plus its time limit, and the
   jobs already waiting for that pool in this pass are served first. Both sides are upper
   bounds built from time limits, so they compare like with like. When the running jobs cannot
   free enough devices (jobs started in this pass hold the rest) the wait counts as unbounded.

   The value bound matters even for a *faster* pool: a job that moves from an NPU that serves
   it well to a free H100 costs its project more per unit of work and takes an H100 that jobs
   with no good alternative need next. In a simulated H100 + ATOM cluster (load 0.86) a bound
   of 0.5 instead of 0.25 cut the mean completion time from 38 to 17 hours.
4. **Wait, with EASY backfilling.** A job that starts nowhere waits for its best pool; a
   starving job waits for the candidate where it can start soonest (earliest shadow time, see
   below). The first job to wait for a pool in a pass gets a *reservation* there (Lifka, "The ANL/IBM SP scheduling system", JSSPP 1995; Mu'alem and
   Feitelson, IEEE TPDS 12(6), 2001): the *shadow time* at which, by the running jobs' limits,
   enough devices are free for it, and the *extra* devices free then beyond its need. A pool
   with a reservation is open to a later job only if the job fits now and either ends (by its
   limit) before the shadow time or uses no more than the extra devices, which it then uses
   up; so a backfilled job never delays the reservation. A pool without one is open to any job
   that fits. With ``backfill=False`` a reserved pool is open to nobody (FIFO blocking), and
   so is the pool reserved by the oldest starving job (its reservation is *strict*).

   *Fitting* means :class:`~nuri.policy.placement.FreeDevices` can place the job: enough free
   devices and, for a job no larger than a node, one node with that many free (it never splits
   such a job). Shadow times and waits count devices, not nodes; when a placement fails for
   want of a node, the job tries its next candidate, and for the rest of the pass its size
   counts as having no free devices on that pool.

No job waits forever. Ahead of a job in the order are only starving jobs submitted earlier,
jobs of a higher tier, and jobs submitted earlier; only higher tiers can keep arriving, and once
the job has waited :attr:`Hetero.starvation_s` it is ahead of all of them, behind only the
finitely many starving jobs submitted before it. When it is the oldest starving job still
waiting, it reserves one candidate strictly: nothing else starts there, so that pool drains
(every running job ends by its time limit, whole nodes come free even where devices are
fragmented) and the job starts there at the latest. Only one pool is drained at a time, so
even an overloaded cluster, where many jobs starve, keeps backfilling its other pools. This
needs the job to fit some candidate pool; a job larger than every pool it accepts has no
candidates and never starts, under any policy.

The policy is non-preemptive and holds no state between calls (the throughput table is copied at
construction). Starts are gang placements from :class:`~nuri.policy.placement.FreeDevices`,
which prefers few nodes and best-fit nodes. Cost per call: one sort of the queue (in numpy from
:data:`VECTOR_ORDER_JOBS` jobs), then per job a cached ranking of its candidates and a binary
search or two, so 10,000 pending jobs on 10,000 devices take about 13 ms on the development
machine (21 ms with the queue sorted as Python tuples, 2026-12-05).
"""

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter

import numpy as np

from nuri.domain.commons import Tier
from nuri.domain.errors import InvalidInput
from nuri.policy.placement import FreeDevices, candidate_pools
from nuri.policy.registry import PolicyContext
from nuri.policy.snapshot import (
    ClusterSnapshot,
    Decision,
    PendingJob,
    PoolState,
    RunningJob,
    Start,
)

VECTOR_ORDER_JOBS = 64
"""Queues at least this long are ordered with numpy; shorter ones by a tuple sort (same order)."""

DEFAULT_MAX_SLOWDOWN = 2.0
"""A job never runs on a pool more than this many times slower than on its fastest candidate."""

DEFAULT_MIN_VALUE_RATIO = 0.5
"""A job leaves its best pool only for one giving at least this share of its work per H100e:
at 0.5 its project is never charged more than twice what its best pool would cost per unit of
work, and the pools other jobs depend on are not taken by jobs better served elsewhere."""

DEFAULT_STARVATION_S = 3 * 86_400.0
"""After waiting this long (seconds) a job goes before all others (as in
:class:`nuri.policy.backfill.EasyBackfill`, whose bound is also 3 days)."""


@dataclass(frozen=True, slots=True)
class PoolOption:
    """A candidate pool of one job: the job's relative ``speed`` there and its ``value`` (speed
    per H100e charged). A job's candidates are ranked by value, then speed, then pool id."""

    pool_id: int
    speed: float
    value: float


@dataclass(slots=True)
class _Reservation:
    """The first waiting job's claim on a pool in this pass (rule 4); ``extra`` is used up.
    A ``strict`` reservation (of the oldest starving job) admits no backfilling at all."""

    shadow: float
    extra: int
    strict: bool = False


class Hetero:
    """Gavel-style heterogeneity-aware placement with EASY backfilling, non-preemptive.

    Built from ``context.throughputs`` (``job_class -> accelerator -> speed`` in H100e, see
    :mod:`nuri.policy.throughput`; accelerators matched case-insensitively; entries that are not
    finite and positive ignored). The keyword arguments tune rules 2-4 of the module docstring
    and are checked here (InvalidInput when out of range).
    """

    name = "hetero"
    preemptive = False

    def __init__(
        self,
        context: PolicyContext | None = None,
        *,
        max_slowdown: float = DEFAULT_MAX_SLOWDOWN,
        min_value_ratio: float = DEFAULT_MIN_VALUE_RATIO,
        starvation_s: float = DEFAULT_STARVATION_S,
        backfill: bool = True,
    ) -> None:
        if not (math.isfinite(max_slowdown) and max_slowdown >= 1.0):
            raise InvalidInput(f"max_slowdown must be a number of at least 1, got {max_slowdown}")
        if not 0.0 <= min_value_ratio <= 1.0:
            raise InvalidInput(f"min_value_ratio must be between 0 and 1, got {min_value_ratio}")
        if not starvation_s > 0:
            raise InvalidInput(f"starvation_s must be positive, got {starvation_s}")
        self.max_slowdown = float(max_slowdown)
        self.min_value_ratio = float(min_value_ratio)
        self.starvation_s = float(starvation_s)
        self.backfill = backfill
        throughputs = context.throughputs if context is not None else {}
        self._speeds: dict[str, dict[str, float]] = {
            job_class: {
                accelerator.strip().upper(): float(speed)
                for accelerator, speed in by_accelerator.items()
                if math.isfinite(speed) and speed > 0
            }
            for job_class, by_accelerator in throughputs.items()
        }

    # -- the Policy protocol -----------------------------------------------------------------------

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]:
        """Starts for the jobs that should run now, in queue order (see the module docstring)."""
        free = FreeDevices(snapshot)
        if free.total_free() == 0:
            return []
        state = _Pass(snapshot.now, free, _Horizons(snapshot.running))
        ranked = _Ranking(self, snapshot.pools)
        decisions: list[Decision] = []
        # A job none of whose candidates is open (rule 4) cannot start until a start, a new
        # reservation or a failed placement changes what is open; ``closed`` remembers such job
        # shapes with the ``state.version`` they were closed at.
        closed: dict[tuple[object, ...], int] = {}
        starving_before = state.now - self.starvation_s
        total_free = free.total_free()
        for job in self._ordered(snapshot.pending, state.now):
            if total_free <= 0:
                break
            options = ranked.options(job)
            if not options:
                continue  # no pool of this snapshot accepts it and is large enough
            starving = job.submitted_at <= starving_before
            shape = (
                job.job_class,
                job.pool_id,
                job.accelerator,
                job.devices,
                job.preemptible,
                job.time_limit_s,
                starving,
            )
            start = None
            while start is None and closed.get(shape) != state.version:
                if not any(self._open(job, option.pool_id, state) for option in options):
                    closed[shape] = state.version
                    break
                chosen = self._choose(job, options, state, starving)
                if chosen is None:
                    break
                start = state.start(job, chosen)
            if start is not None:
                decisions.append(start)
                total_free -= job.devices
                continue
            best = options[0].pool_id
            state.promised[best] = state.promised.get(best, 0) + job.devices
            if starving:
                state.reserve_soonest(job, options)
            else:
                state.reserve(job, best)
        return decisions

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:  # noqa: ARG002 - protocol
        """Never: a non-preemptive policy has nothing to do until a job arrives or ends."""
        return None

    # -- the rules, public for tests and reports ------------------------------------------------------

    def order_key(self, job: PendingJob, now: float) -> tuple[int, int, float, int]:
        """Rule 1: starving jobs first (oldest first), then tier, submission time and job id."""
        if job.submitted_at <= now - self.starvation_s:
            return (0, 0, job.submitted_at, job.job_id)
        return (1, job.tier.rank, job.submitted_at, job.job_id)

    def _ordered(self, pending: Sequence[PendingJob], now: float) -> list[PendingJob]:
        """The queue in :meth:`order_key` order.

        Long queues are sorted with one :func:`numpy.lexsort` over the key's columns: a live
        decision sees 10,000 jobs, and sorting that many Python key tuples took a third of it.
        Both sorts are stable and compare the same floats and ints, so the orders are equal.
        """
        cut = now - self.starvation_s
        rank = {tier: tier.rank for tier in Tier}
        count = len(pending)
        if count < VECTOR_ORDER_JOBS:  # numpy's per-call cost outweighs a short sort
            keyed = [
                (
                    (0, 0, job.submitted_at, job.job_id)
                    if job.submitted_at <= cut
                    else (1, rank[job.tier], job.submitted_at, job.job_id),
                    index,
                )
                for index, job in enumerate(pending)
            ]
            keyed.sort()
            return [pending[index] for _, index in keyed]
        submitted = np.fromiter(map(_submitted_at, pending), np.float64, count)
        ids = np.fromiter(map(_job_id, pending), np.int64, count)
        ranks = np.fromiter(map(rank.__getitem__, map(_tier, pending)), np.int64, count)
        starving = submitted <= cut
        order = np.lexsort((ids, submitted, np.where(starving, 0, ranks), ~starving))
        return [pending[index] for index in order.tolist()]

    def speed(self, job_class: str, pool: PoolState) -> float:
        """The job class's relative speed on one device of ``pool``: the table's, else the
        pool's exchange rate (both in H100e)."""
        measured = self._speeds.get(job_class)
        if measured is not None:
            speed = measured.get(pool.accelerator.upper())
            if speed is not None:
                return speed
        return _rate(pool)

    def options(self, pools: Sequence[PoolState], job: PendingJob) -> tuple[PoolOption, ...]:
        """Rule 2: the job's candidate pools, best first (value, then speed, then pool id).

        Empty if no pool accepts the job and has at least ``job.devices`` devices."""
        return self.rank(
            [
                (pool, self.speed(job.job_class, pool))
                for pool in candidate_pools(pools, job)
                if pool.devices >= job.devices
            ]
        )

    def rank(self, candidates: Sequence[tuple[PoolState, float]]) -> tuple[PoolOption, ...]:
        """Rule 2 on ``(pool, speed)`` candidates: drop the too slow, rank the rest."""
        if not candidates:
            return ()
        fastest = max(speed for _, speed in candidates)
        options = [
            PoolOption(pool.pool_id, speed, speed / _rate(pool))
            for pool, speed in candidates
            if speed * self.max_slowdown >= fastest
        ]
        return tuple(sorted(options, key=lambda o: (-o.value, -o.speed, o.pool_id)))

    def _choose(
        self, job: PendingJob, options: Sequence[PoolOption], state: "_Pass", starving: bool
    ) -> int | None:
        """Rule 3 (for a starving job, any open candidate): the pool to start on now, or None."""
        best = options[0]
        fastest = 0.0
        wait: float | None = None
        for option in options:
            if not self._open(job, option.pool_id, state):
                continue
            if starving or option is best:
                return option.pool_id
            if option.value < self.min_value_ratio * best.value:
                continue
            fastest = fastest or max(o.speed for o in options)
            lost = job.time_limit_s * fastest * (1.0 / option.speed - 1.0 / best.speed)
            if lost <= 0.0:
                return option.pool_id
            if wait is None:
                wait = state.horizons.wait(
                    best.pool_id,
                    state.now,
                    state.usable(job, best.pool_id),
                    state.promised.get(best.pool_id, 0) + job.devices,
                )
            if lost <= wait:
                return option.pool_id
        return None

    def _open(self, job: PendingJob, pool_id: int, state: "_Pass") -> bool:
        """Rule 4: whether ``job`` may start on the pool now without delaying its reservation."""
        if not state.room(job, pool_id):
            return False
        reservation = state.reservations.get(pool_id)
        if reservation is None:
            return True
        if not self.backfill or reservation.strict or math.isinf(reservation.shadow):
            return False
        return (
            state.now + job.time_limit_s <= reservation.shadow or job.devices <= reservation.extra
        )


class _Pass:
    """What one :meth:`Hetero.decide` call has decided so far: free devices, reservations,
    devices promised to waiting jobs per pool, and job sizes found not to fit any node.

    ``version`` grows whenever any of that changes in a way that can open a pool to a job.
    """

    def __init__(self, now: float, free: FreeDevices, horizons: "_Horizons") -> None:
        self.now = now
        self.free = free
        self.horizons = horizons
        self.reservations: dict[int, _Reservation] = {}
        self.promised: dict[int, int] = {}
        self.version = 0
        self._strict_given = False
        self._fragmented: dict[tuple[int, bool], int] = {}

    def room(self, job: PendingJob, pool_id: int) -> bool:
        """Enough free devices on the pool, and not a size already found not to fit a node."""
        return self.usable(job, pool_id) >= job.devices

    def usable(self, job: PendingJob, pool_id: int) -> int:
        """The pool's free devices ``job`` could use now: 0 if its size was found not to fit
        any node this pass (estimates then wait for running jobs to free devices)."""
        smallest = self._fragmented.get((pool_id, job.preemptible))
        if (
            smallest is not None
            and smallest <= job.devices <= self.free.node_size(pool_id)  # larger jobs span nodes
        ):
            return 0
        return self.free.free(pool_id, borrowing=job.preemptible)

    def start(self, job: PendingJob, pool_id: int) -> Start | None:
        """Place ``job`` on the pool and account for it, or None if no placement exists.

        :class:`FreeDevices` never splits a job that fits one node, so with enough free devices
        it can still find no node with room; free devices only shrink during a pass, so that
        size and any larger one up to a node stay unplaceable there for the rest of the pass.
        """
        placement = self.free.place(pool_id, job.devices, may_borrow=job.preemptible)
        self.version += 1
        if placement is None:
            for borrowing in {job.preemptible, False}:
                key = (pool_id, borrowing)
                self._fragmented[key] = min(self._fragmented.get(key, job.devices), job.devices)
            return None
        end = self.now + job.time_limit_s
        self.horizons.started(pool_id, end, job.devices)
        reservation = self.reservations.get(pool_id)
        if reservation is not None and end > reservation.shadow:
            reservation.extra -= job.devices
        return Start(job.job_id, pool_id, placement)

    def reserve(self, job: PendingJob, pool_id: int) -> None:
        """Give ``job`` the pool's reservation (rule 4) unless an earlier job holds it."""
        if pool_id not in self.reservations:
            self.reservations[pool_id] = self._reservation(job, pool_id)
            self.version += 1

    def reserve_soonest(self, job: PendingJob, options: Sequence[PoolOption]) -> None:
        """A starving job's reservation: on its candidate without one whose shadow time is
        earliest (ties in rank order), strict if no starving job has one yet this pass."""
        free = [option.pool_id for option in options if option.pool_id not in self.reservations]
        if not free:
            return
        shadows = [(self._reservation(job, pool_id), pool_id) for pool_id in free]
        reservation, pool_id = min(shadows, key=lambda pair: pair[0].shadow)
        reservation.strict = not self._strict_given
        self._strict_given = True
        self.reservations[pool_id] = reservation
        self.version += 1

    def _reservation(self, job: PendingJob, pool_id: int) -> _Reservation:
        return self.horizons.reserve(pool_id, self.now, self.usable(job, pool_id), job.devices)


class _Ranking:
    """Rule 2 for every job of one pass, computed once per job class, pool, accelerator class
    and (only where some candidate pool is too small) size."""

    def __init__(self, policy: Hetero, pools: Sequence[PoolState]) -> None:
        self._policy = policy
        self._pools = pools
        self._any_size: dict[
            tuple[str, int | None, str | None],
            tuple[list[tuple[PoolState, float]], int, tuple[PoolOption, ...]],
        ] = {}
        self._sized: dict[tuple[str, int | None, str | None, int], tuple[PoolOption, ...]] = {}

    def options(self, job: PendingJob) -> tuple[PoolOption, ...]:
        """Same as :meth:`Hetero.options` for this pass's pools."""
        key = (job.job_class, job.pool_id, job.accelerator)
        entry = self._any_size.get(key)
        if entry is None:
            policy = self._policy
            candidates = [
                (pool, policy.speed(job.job_class, pool))
                for pool in candidate_pools(self._pools, job)
            ]
            smallest = min((pool.devices for pool, _ in candidates), default=0)
            entry = self._any_size[key] = (candidates, smallest, policy.rank(candidates))
        candidates, smallest, ranked = entry
        if job.devices <= smallest:
            return ranked
        sized_key = (*key, job.devices)
        sized = self._sized.get(sized_key)
        if sized is None:
            sized = self._sized[sized_key] = self._policy.rank(
                [(pool, speed) for pool, speed in candidates if pool.devices >= job.devices]
            )
        return sized


_submitted_at = attrgetter("submitted_at")
_job_id = attrgetter("job_id")
_tier = attrgetter("tier")


def _rate(pool: PoolState) -> float:
    """A pool's exchange rate in H100e per device (never zero)."""
    return max(pool.rate_milli, 1) / 1000


class _Horizons:
    """When devices come free on each pool, assuming every job runs to its time limit.

    The running jobs of the snapshot are indexed lazily, one pool at a time, on first use; jobs started in
    this pass are recorded with :meth:`started` and consulted only when the running ones do not
    free enough (estimates without them err late, which is safe for reservations).
    """

    def __init__(self, running: Sequence[RunningJob]) -> None:
        self._running = running
        self._by_pool: dict[int, tuple[list[float], list[int]]] = {}
        self._new: dict[int, list[tuple[float, int]]] = {}

    def started(self, pool_id: int, end: float, devices: int) -> None:
        """Record a start of this pass, holding ``devices`` until ``end``."""
        self._new.setdefault(pool_id, []).append((end, devices))

    def wait(self, pool_id: int, now: float, free_now: int, target: int) -> float:
        """Seconds until ``free_now`` plus the devices released on the pool reach ``target``;
        0 if they already do, ``inf`` if the jobs never release enough."""
        if free_now >= target:
            return 0.0
        end, _ = self._release(pool_id, target - free_now)
        return max(0.0, end - now)

    def reserve(self, pool_id: int, now: float, free_now: int, need: int) -> _Reservation:
        """The reservation of a job needing ``need`` devices: shadow time and extra devices."""
        if free_now >= need:
            return _Reservation(shadow=now, extra=free_now - need)
        end, released = self._release(pool_id, need - free_now)
        return _Reservation(shadow=end, extra=max(0, free_now + released - need))

    def _release(self, pool_id: int, wanted: int) -> tuple[float, int]:
        """The first end time by which ``wanted`` devices are released, and how many are."""
        indexed = self._by_pool.get(pool_id)
        if indexed is None:
            indexed = self._by_pool[pool_id] = _index(
                (pool_id, job.started_at + job.time_limit_s, job.devices)
                for job in self._running
                if job.pool_id == pool_id
            ).get(pool_id, ([], []))
        ends, cumulative = indexed
        index = bisect_left(cumulative, wanted)
        if index < len(cumulative):
            return ends[index], cumulative[index]
        new = self._new.get(pool_id)
        if new:
            merged = _index(
                [(pool_id, end, devices) for end, devices in new]
                + [(pool_id, end, devices) for end, devices in _pairs(ends, cumulative)]
            )[pool_id]
            index = bisect_left(merged[1], wanted)
            if index < len(merged[1]):
                return merged[0][index], merged[1][index]
        return math.inf, 0


def _pairs(ends: list[float], cumulative: list[int]) -> list[tuple[float, int]]:
    """Undo the running sum: ``(end, devices)`` of each release."""
    return [
        (end, total - (cumulative[i - 1] if i else 0))
        for i, (end, total) in enumerate(zip(ends, cumulative, strict=True))
    ]


def _index(releases: Iterable[tuple[int, float, int]]) -> dict[int, tuple[list[float], list[int]]]:
    """Per pool, release times sorted and the running sum of devices released by each."""
    by_pool: dict[int, list[tuple[float, int]]] = {}
    for pool_id, end, devices in releases:
        by_pool.setdefault(pool_id, []).append((end, devices))
    built: dict[int, tuple[list[float], list[int]]] = {}
    for pool_id, items in by_pool.items():
        items.sort()
        built[pool_id] = ([end for end, _ in items], list(accumulate(d for _, d in items)))
    return built
