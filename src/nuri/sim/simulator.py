"""The discrete-event simulator: the live engine's decision stage on a simulated clock and cluster.

Events (job arrivals, run ends, reservation demand changes, policy wake-ups) sit in a heap keyed
by ``(time, kind, sequence)``, so the run is deterministic: same cluster, workload and policy,
same schedule. Scheduling is event-triggered, as Slurm's is on job submission and completion:
after all events of one instant are handled, if devices were freed, a reservation's demand
changed, a preemptive policy asked to be woken, or a job arrived that fits some free devices
(a non-preemptive policy cannot act on any other arrival), a *scheduling pass* builds an
immutable :class:`~nuri.policy.snapshot.ClusterSnapshot` and calls
:func:`nuri.policy.cycle.plan` -- the very function the live engine calls -- then applies the
decisions. Nothing advances second by second; a 100,000-job trace is a few hundred thousand
events.

Work and speed. A job's ``work_s`` is its run time on a device of speed 1.0; on a pool it runs at
``speed(job, pool)`` (by default the pool's H100-equivalent relative to the accelerator the job
asked for, or to an H100 if it named none; a throughput table can refine this per job class).
A preempted job keeps the work it completed, and each later attempt first pays
``restart_cost_s`` of checkpoint/restart overhead. An attempt that reaches the job's time limit
ends it TIMEOUT, as Slurm would.

Reservations. Whole nodes are held for a service whose demand (devices over time) the cluster
spec gives. The service takes free devices of its nodes up to its demand; the policy may lend
the rest to preemptible jobs; :func:`nuri.policy.cycle.plan` preempts borrowers when the service
needs its devices back.

Run-time history. Every job that ends adds its time limit and run time to the history that
snapshots carry (:class:`~nuri.policy.snapshot.RunTimeHistory`), as a live service's accounting
would; it is handed on every :data:`RUN_TIMES_REFRESH` ends, not after each, because policies
rebuild what they derive from it whenever it changes. A job's own duration never reaches the
snapshot before it has ended.
"""

import heapq
import math
import time
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field, replace

from nuri.domain.cluster_spec import ClusterSpec, PoolSpec
from nuri.domain.commons import Tier
from nuri.policy.cycle import plan
from nuri.policy.fairshare import DEFAULT_HALF_LIFE_S
from nuri.policy.placement import accepts
from nuri.policy.snapshot import (
    ClusterSnapshot,
    GroupUsage,
    NodeSlice,
    NodeState,
    PendingJob,
    Policy,
    PoolState,
    Preempt,
    Reservation,
    RunningJob,
    RunTimeHistory,
    Start,
)
from nuri.sim.metrics import JobOutcome, Segment


class GroupUsages(Mapping[int, GroupUsage]):
    """Every group's :class:`GroupUsage` at one instant, as a snapshot's ``groups``.

    Takes the usage as plain numbers and builds the records only when first read: a snapshot is
    built for every pass, most policies never read the groups, and building a record per group
    every pass cost LAS and FIFO about a tenth of a simulation. The numbers are the caller's
    copies, so the mapping does not change once made.
    """

    __slots__ = ("_decayed", "_delivered", "_records", "_shares")

    def __init__(
        self, shares: Mapping[int, float], decayed: dict[int, float], delivered: dict[int, float]
    ) -> None:
        self._shares = shares
        self._decayed = decayed
        self._delivered = delivered
        self._records: dict[int, GroupUsage] | None = None

    def _built(self) -> dict[int, GroupUsage]:
        if self._records is None:
            shares, decayed, delivered = self._shares, self._decayed, self._delivered
            self._records = {
                group: GroupUsage(
                    project_id=group,
                    share=shares.get(group, 0.0),
                    decayed_usage=decayed.get(group, 0.0),
                    delivered=delivered.get(group, 0.0),
                )
                for group in set(shares) | set(decayed)
            }
        return self._records

    def __getitem__(self, group: int) -> GroupUsage:
        return self._built()[group]

    def __iter__(self) -> Iterator[int]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    # Mapping's own views read every record through __getitem__; fairness policies read them
    # all on every pass, so the views come straight from the built dict.
    def keys(self) -> KeysView[int]:
        return self._built().keys()

    def values(self) -> ValuesView[GroupUsage]:
        return self._built().values()

    def items(self) -> ItemsView[int, GroupUsage]:
        return self._built().items()


MAX_REPASSES = 3
"""Passes repeated at one instant after preemptions freed devices (a bound against thrashing)."""

RUN_TIMES_REFRESH = 64
"""Ended jobs gathered before the snapshots' run-time history takes them in."""

_END, _ARRIVAL, _DEMAND, _WAKE = 0, 1, 2, 3
"""Event kinds, in the order they are handled at one instant: devices freed first."""


@dataclass(frozen=True, slots=True)
class SimJob:
    """One job of a workload. ``job_id`` is a dense integer; ``trace_id`` the trace's own id."""

    job_id: int
    trace_id: str
    group: str
    project_id: int
    submit_s: float
    work_s: float
    devices: int
    time_limit_s: int
    pool_id: int | None = None
    accelerator: str | None = None
    job_class: str = ""
    tier: Tier = Tier.GENERAL
    preemptible: bool = True
    allowed_pool_ids: frozenset[int] = frozenset()
    """If not empty, the only pools the job may use (as for live accelerator-class jobs)."""


SpeedModel = Callable[[SimJob, PoolSpec], float]
"""How fast a job runs on a pool, relative to the speed its ``work_s`` was measured at."""


def exchange_rate_speed(cluster: ClusterSpec) -> SpeedModel:
    """Speed by exchange rate: work is measured on the job's own accelerator, or an H100e."""
    rate_of = {pool.accelerator: pool.rate_milli for pool in cluster.pools}
    rate_of_pool = {pool.pool_id: pool.rate_milli for pool in cluster.pools}

    def speed(job: SimJob, pool: PoolSpec) -> float:
        reference = 1000
        if job.pool_id is not None:
            reference = rate_of_pool[job.pool_id]
        elif job.accelerator:
            rates = [rate_of[a] for a in job.accelerator.upper().split("|") if a in rate_of]
            reference = max(rates) if rates else 1000
        return pool.rate_milli / reference

    return speed


@dataclass(frozen=True, slots=True)
class InitialRun:
    """A job already running when the simulation starts (used for start-time estimates)."""

    job: SimJob
    pool_id: int
    placement: tuple[NodeSlice, ...]
    started_s: float
    attained_device_seconds: float = 0.0


@dataclass
class SimResult:
    outcomes: list[JobOutcome]
    segments: list[Segment]
    first_start: dict[int, float]
    wall_s: float
    passes: int
    decisions: int
    preemptions: int
    probes: dict[int, ClusterSnapshot] = field(default_factory=dict)
    service_shortfall_device_s: float = 0.0
    """Device-seconds reserved services wanted but did not hold (0 when reservations are honoured)."""
    lent_device_s: float = 0.0
    """Device-seconds of reserved nodes that batch jobs borrowed."""


@dataclass
class _Live:
    job: SimJob
    remaining_work: float
    attempt: int = 0
    preemptions: int = 0
    attained: float = 0.0
    first_start: float | None = None
    end: float | None = None
    run_time_s: float = 0.0
    pool_id: int | None = None
    started: float = 0.0
    overhead: float = 0.0
    speed: float = 1.0
    hits_limit: bool = False
    timed_out: bool = False


@dataclass
class _Service:
    spec_id: int
    nodes: list[str]
    demand: Sequence[tuple[float, int]]
    held: dict[str, list[int]] = field(default_factory=dict)
    wanted: int = 0


class Simulator:
    """Replays a workload on a cluster under one policy. One object runs one simulation."""

    def __init__(
        self,
        cluster: ClusterSpec,
        policy: Policy,
        *,
        shares: Mapping[int, float] | None = None,
        speed: SpeedModel | None = None,
        restart_cost_s: float = 60.0,
        half_life_s: float = DEFAULT_HALF_LIFE_S,
    ) -> None:
        self._cluster = cluster
        self._policy = policy
        self._shares = dict(shares or {})
        self._speed = speed or exchange_rate_speed(cluster)
        self._restart_cost_s = restart_cost_s
        self._half_life_s = half_life_s
        self._pools = {pool.pool_id: pool for pool in cluster.pools}
        self._node_pool: dict[str, int] = {}
        self._node_size: dict[str, int] = {}
        self._free: dict[str, list[int]] = {}
        self._reserved_for: dict[str, int] = {}
        self._services: list[_Service] = []
        taken: dict[str, int] = {}
        for reservation in cluster.reservations:
            pool = cluster.pool_named(reservation.pool)
            start = taken.get(pool.name, 0)
            names = pool.node_names()[start : start + reservation.nodes]
            taken[pool.name] = start + reservation.nodes
            for name in names:
                self._reserved_for[name] = reservation.reservation_id
            self._services.append(_Service(reservation.reservation_id, names, reservation.demand))
        for pool in cluster.pools:
            for name in pool.node_names():
                self._node_pool[name] = pool.pool_id
                self._node_size[name] = pool.devices_per_node
                self._free[name] = list(range(pool.devices_per_node))
        self._node_names = {pool.pool_id: tuple(pool.node_names()) for pool in cluster.pools}
        self._node_cache: dict[str, NodeState] = {}
        self._pool_cache: dict[int, PoolState] = {}
        # Nodes whose free devices changed since the last snapshot, by pool: only their
        # NodeState is compared and rebuilt, and only their pools get a new PoolState.
        self._dirty: dict[int, set[str]] = {
            pool_id: set(names) for pool_id, names in self._node_names.items()
        }
        self._free_count = {pool.pool_id: pool.devices for pool in cluster.pools}

    # -- running a workload ------------------------------------------------------------------------

    def run(
        self,
        jobs: Sequence[SimJob],
        *,
        initial: Sequence[InitialRun] = (),
        watch: set[int] | None = None,
        start_at: float | None = None,
        usage: Mapping[int, GroupUsage] | None = None,
        probe: set[int] | None = None,
        history: RunTimeHistory | None = None,
    ) -> SimResult:
        """Simulate until every job has ended (or, with ``watch``, until those have started).

        ``initial`` runs already hold devices at ``start_at`` (their ``work_s`` is what remains);
        jobs submitted before ``start_at`` are queued at once, in submission order. ``usage``
        seeds each group's decayed and delivered usage (fair-share history). For each job in
        ``probe`` still queued after the pass at its arrival, the snapshot then is kept in
        ``SimResult.probes`` (what a live estimate at submission would have seen).
        ``history`` is the run-time history known at the start (a live snapshot's).
        """
        wall_start = time.perf_counter()
        self._live: dict[int, _Live] = {}
        self._pending: dict[int, PendingJob] = {}
        self._requeued = False
        self._running: dict[int, RunningJob] = {}
        self._segments: list[Segment] = []
        self._rate: dict[int, float] = {}
        self._decayed = {g: u.decayed_usage for g, u in (usage or {}).items()}
        self._delivered = {g: u.delivered for g, u in (usage or {}).items()}
        self._heap: list[tuple[float, int, int, int, int]] = []
        self._sequence = 0
        earliest = min([job.submit_s for job in jobs] + [run.started_s for run in initial] + [0.0])
        self._now = earliest if start_at is None else start_at
        self._next_wake: float | None = None
        self._probe = set(probe or ())
        self._probes: dict[int, ClusterSnapshot] = {}
        self._arrived_now: list[int] = []
        self._passes = self._decisions = self._preemptions = 0
        self._shortfall = self._lent = 0.0
        self._repasses = 0
        self._history = history if history is not None else RunTimeHistory()
        self._ended_runs: list[tuple[int, float]] = []
        waiting = set(watch) if watch is not None else None

        for run in initial:
            live = _Live(
                job=run.job, remaining_work=run.job.work_s, attained=run.attained_device_seconds
            )
            self._live[run.job.job_id] = live
            self._begin(live, run.pool_id, run.placement, run.started_s, overhead=0.0)
            live.first_start = run.started_s
        for job in jobs:
            self._live[job.job_id] = _Live(job=job, remaining_work=job.work_s)
            self._push(max(job.submit_s, self._now), _ARRIVAL, job.job_id, 0)
        for service in self._services:
            for at, _devices in service.demand:
                self._push(max(at, self._now), _DEMAND, service.spec_id, 0)

        while self._heap:
            now = self._heap[0][0]
            if now > self._now:
                self._repasses = 0
            self._advance(now)
            changed = False
            while self._heap and self._heap[0][0] == now:
                _, kind, _, subject, attempt = heapq.heappop(self._heap)
                if kind == _END:
                    changed |= self._end(subject, attempt)
                elif kind == _ARRIVAL:
                    self._arrive(subject)
                    changed |= self._policy.preemptive or self._could_start(subject)
                elif kind == _DEMAND:
                    changed = True
                elif kind == _WAKE and self._next_wake == now:
                    self._next_wake = None
                    changed = True
            if changed:
                self._pass()
            if self._arrived_now:
                probed = [job_id for job_id in self._arrived_now if job_id in self._pending]
                if probed:
                    snapshot = self._snapshot()
                    for job_id in probed:
                        self._probes[job_id] = snapshot
                self._arrived_now = []
            if waiting is not None:
                waiting = {job_id for job_id in waiting if self._live[job_id].first_start is None}
                if not waiting:
                    break
        return SimResult(
            outcomes=[self._outcome(live) for live in self._live.values()],
            segments=self._segments,
            first_start={
                job_id: live.first_start
                for job_id, live in self._live.items()
                if live.first_start is not None
            },
            wall_s=time.perf_counter() - wall_start,
            passes=self._passes,
            decisions=self._decisions,
            preemptions=self._preemptions,
            probes=self._probes,
            service_shortfall_device_s=self._shortfall,
            lent_device_s=self._lent,
        )

    # -- events ----------------------------------------------------------------------------------

    def _push(self, at: float, kind: int, subject: int, attempt: int) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (at, kind, self._sequence, subject, attempt))

    def _advance(self, now: float) -> None:
        elapsed = now - self._now
        if elapsed > 0:
            for service in self._services:
                held = sum(len(indices) for indices in service.held.values())
                free = sum(len(self._free[name]) for name in service.nodes)
                capacity = sum(self._node_size[name] for name in service.nodes)
                self._shortfall += max(0, service.wanted - held) * elapsed
                self._lent += (capacity - free - held) * elapsed
            # decay and accrued inlined, their exponentials worked out once for every group
            # (the same expressions, so the same floats)
            half_life = self._half_life_s
            kept = math.exp(-math.log(2) * elapsed / half_life)
            k = math.log(2) / half_life
            gained = 1.0 - math.exp(-k * elapsed)
            decayed, delivered, rates = self._decayed, self._delivered, self._rate
            for group in set(decayed) | set(rates):
                rate = rates.get(group, 0.0)
                decayed[group] = decayed.get(group, 0.0) * kept + (
                    rate * gained / k if rate != 0 else 0.0
                )
                delivered[group] = delivered.get(group, 0.0) + rate * elapsed
        self._now = now

    def _arrive(self, job_id: int) -> None:
        job = self._live[job_id].job
        if job_id in self._probe:
            self._arrived_now.append(job_id)
        self._pending[job_id] = self._pending_of(job)

    def _could_start(self, job_id: int) -> bool:
        """Whether an arrival alone is worth a pass: a non-preemptive policy can only start jobs
        on free devices, and nothing else changed, so a pass matters only if the new job fits
        the free devices of a pool it accepts."""
        job = self._pending[job_id]
        return any(
            accepts(pool, job) and self._free_count[pool.pool_id] >= job.devices
            for pool in self._cluster.pools
        )

    def _end(self, job_id: int, attempt: int) -> bool:
        live = self._live[job_id]
        if live.attempt != attempt or job_id not in self._running:
            return False  # a stale end of an attempt that was preempted
        self._stop(live)
        self._ended_runs.append((live.job.time_limit_s, live.attained / live.job.devices))
        live.timed_out = live.hits_limit
        live.remaining_work = 0.0
        live.end = self._now
        return True

    # -- a scheduling pass -----------------------------------------------------------------------

    def _pass(self) -> None:
        self._serve_reservations()
        if not self._pending and not self._services:
            return
        if (
            not self._policy.preemptive
            and not self._services
            and not any(self._free_count.values())
        ):
            return
        snapshot = self._snapshot()
        decisions = plan(self._policy, snapshot)
        self._passes += 1
        self._decisions += len(decisions)
        preempted = False
        for decision in decisions:
            if isinstance(decision, Preempt):
                self._preempt(decision.job_id)
                preempted = True
        for decision in decisions:
            if isinstance(decision, Start):
                self._start(decision)
        self._serve_reservations()
        if preempted and self._repasses < MAX_REPASSES:
            # Devices freed by preemptions are offered at once (live, the next cycle does it).
            self._repasses += 1
            self._next_wake = self._now
            self._push(self._now, _WAKE, 0, 0)
            return
        if self._policy.preemptive and self._pending:
            # A pass that decided nothing (and no service to serve) changed nothing: the
            # snapshot it decided on is the one a new _snapshot() would build.
            unchanged = not decisions and not self._services
            wake = self._policy.wake_at(snapshot if unchanged else self._snapshot())
            if (
                wake is not None
                and wake > self._now
                and (self._next_wake is None or wake < self._next_wake)
            ):
                self._next_wake = wake
                self._push(wake, _WAKE, 0, 0)

    def _snapshot(self) -> ClusterSnapshot:
        node_cache = self._node_cache
        for pool_id, changed in self._dirty.items():
            pool = self._pools[pool_id]
            for name in changed:
                cached = node_cache.get(name)
                free = tuple(self._free[name])
                if cached is None or cached.free_indices != free:
                    node_cache[name] = NodeState(
                        name, pool.devices_per_node, free, self._reserved_for.get(name)
                    )
            self._pool_cache[pool_id] = PoolState(
                pool_id=pool_id,
                name=pool.name,
                accelerator=pool.accelerator,
                rate_milli=pool.rate_milli,
                nodes=tuple(map(node_cache.__getitem__, self._node_names[pool_id])),
                hub=pool.hub,
            )
        self._dirty.clear()
        if len(self._ended_runs) >= RUN_TIMES_REFRESH:
            self._history = self._history.with_finished(self._ended_runs)
            self._ended_runs = []
        groups = GroupUsages(self._shares, dict(self._decayed), dict(self._delivered))
        return ClusterSnapshot(
            now=self._now,
            pools=tuple(self._pool_cache[pool.pool_id] for pool in self._cluster.pools),
            running=tuple(self._running.values()),
            pending=self._pending_in_order(),
            groups=groups,
            reservations=tuple(
                Reservation(
                    service.spec_id,
                    self._node_pool[service.nodes[0]],
                    service.wanted,
                    0.0,
                    float("inf"),
                )
                for service in self._services
            ),
            history=self._history,
        )

    def _pending_in_order(self) -> tuple[PendingJob, ...]:
        """Queued jobs in submission order (arrivals come in order; requeues need a re-sort)."""
        if self._requeued:
            ordered = sorted(self._pending.values(), key=lambda job: (job.submitted_at, job.job_id))
            self._pending = {job.job_id: job for job in ordered}
            self._requeued = False
        return tuple(self._pending.values())

    def _start(self, decision: Start) -> None:
        live = self._live[decision.job_id]
        pending = self._pending.pop(decision.job_id)
        overhead = self._restart_cost_s if live.preemptions else 0.0
        self._begin(live, decision.pool_id, decision.placement, self._now, overhead, pending)
        if live.first_start is None:
            live.first_start = self._now

    def _begin(
        self,
        live: _Live,
        pool_id: int,
        placement: tuple[NodeSlice, ...],
        at: float,
        overhead: float,
        pending: PendingJob | None = None,
    ) -> None:
        job = live.job
        pool = self._pools[pool_id]
        changed = self._dirty.setdefault(pool_id, set())
        for part in placement:
            free = self._free[part.node]
            self._free[part.node] = [index for index in free if index not in part.device_indices]
            changed.add(part.node)
        self._free_count[pool_id] -= job.devices
        live.attempt += 1
        live.pool_id = pool_id
        live.started = at
        live.overhead = overhead
        live.speed = self._speed(job, pool)
        live.run_time_s = job.work_s / live.speed
        self._rate[job.project_id] = (
            self._rate.get(job.project_id, 0.0) + job.devices * pool.h100_equivalent
        )
        self._running[job.job_id] = RunningJob(
            job_id=job.job_id,
            project_id=job.project_id,
            allocation_id=job.project_id,
            tier=job.tier,
            pool_id=pool_id,
            placement=placement,
            time_limit_s=job.time_limit_s,
            started_at=at,
            submitted_at=job.submit_s,
            attained_device_seconds=live.attained,
            preemptions=live.preemptions,
            job_class=job.job_class,
            preemptible=job.preemptible if pending is None else pending.preemptible,
        )
        finish = at + overhead + live.remaining_work / live.speed
        live.hits_limit = finish > at + job.time_limit_s
        self._push(min(finish, at + job.time_limit_s), _END, job.job_id, live.attempt)

    def _stop(self, live: _Live) -> None:
        job = live.job
        running = self._running.pop(job.job_id)
        assert live.pool_id is not None
        pool = self._pools[live.pool_id]
        changed = self._dirty.setdefault(live.pool_id, set())
        for part in running.placement:
            self._free[part.node] = sorted(self._free[part.node] + list(part.device_indices))
            changed.add(part.node)
        self._free_count[live.pool_id] += job.devices
        self._rate[job.project_id] -= job.devices * pool.h100_equivalent
        elapsed = self._now - live.started
        live.attained += job.devices * elapsed
        useful = max(0.0, elapsed - live.overhead)
        live.remaining_work = max(0.0, live.remaining_work - useful * live.speed)
        self._segments.append(
            Segment(job.trace_id, pool.name, job.devices, live.started, self._now)
        )

    def _preempt(self, job_id: int) -> None:
        live = self._live[job_id]
        self._stop(live)
        live.attempt += 1  # the end already queued for the stopped attempt is now stale
        live.preemptions += 1
        self._preemptions += 1
        job = live.job
        self._requeued = True
        self._pending[job_id] = replace(
            self._pending_of(job),
            attained_device_seconds=live.attained,
            preemptions=live.preemptions,
        )

    def _pending_of(self, job: SimJob) -> PendingJob:
        return PendingJob(
            job_id=job.job_id,
            project_id=job.project_id,
            allocation_id=job.project_id,
            tier=job.tier,
            pool_id=job.pool_id,
            devices=job.devices,
            time_limit_s=job.time_limit_s,
            submitted_at=job.submit_s,
            accelerator=job.accelerator,
            job_class=job.job_class,
            preemptible=job.preemptible,
            allowed_pool_ids=job.allowed_pool_ids,
        )

    def _serve_reservations(self) -> None:
        """Give each service the devices of its nodes it wants now; release what it no longer needs."""
        for service in self._services:
            wanted = _demand_at(service.demand, self._now)
            service.wanted = wanted
            held = sum(len(indices) for indices in service.held.values())
            for name in reversed(service.nodes):
                if held <= wanted:
                    break
                indices = service.held.get(name, [])
                while indices and held > wanted:
                    self._free[name] = sorted([*self._free[name], indices.pop()])
                    self._free_count[self._node_pool[name]] += 1
                    self._dirty.setdefault(self._node_pool[name], set()).add(name)
                    held -= 1
            for name in service.nodes:
                if held >= wanted:
                    break
                take = self._free[name][: wanted - held]
                if take:
                    self._free[name] = self._free[name][len(take) :]
                    service.held.setdefault(name, []).extend(take)
                    self._free_count[self._node_pool[name]] -= len(take)
                    self._dirty.setdefault(self._node_pool[name], set()).add(name)
                    held += len(take)

    def _outcome(self, live: _Live) -> JobOutcome:
        return JobOutcome(
            job_id=live.job.trace_id,
            group=live.job.group,
            submit_s=live.job.submit_s,
            devices=live.job.devices,
            run_time_s=live.run_time_s or live.job.work_s,
            first_start_s=live.first_start,
            end_s=live.end,
            preemptions=live.preemptions,
            timed_out=live.timed_out,
        )


def _demand_at(demand: Sequence[tuple[float, int]], now: float) -> int:
    wanted = 0
    for at, devices in demand:
        if at > now:
            break
        wanted = devices
    return wanted
