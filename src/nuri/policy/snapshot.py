"""The immutable snapshot a policy sees, the decisions it returns, and the Policy protocol.

Times are seconds (float) on whichever clock drives the engine: wall-clock epoch seconds live,
simulated seconds in the simulator. Policies only compare and subtract them.

What a policy may know about a job is exactly what a scheduler can know before it runs: what it
asks for (devices, pool or accelerator class, time limit), who it is for (project, allocation,
tier) and its history (submission time, service attained in earlier attempts), and, from the
accounting, how long finished jobs ran for the time limits they asked for. A job's true
duration is not in the snapshot at all, so no policy can peek at it. (The simulator's oracle
yardstick is given durations separately and is refused by the live service.)
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, Protocol

from nuri.domain.commons import Tier


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node of a pool and which of its device indices are free.

    ``reserved_for`` names the reservation that owns the node: only preemptible jobs may borrow
    its free devices, and they are preempted when the reservation's service needs them.
    """

    name: str
    devices: int
    free_indices: tuple[int, ...]
    reserved_for: int | None = None


@dataclass(frozen=True)
class PoolState:
    """One pool: its hub, accelerator, exchange rate (thousandths) and nodes.

    Summaries are computed once per object (pools are immutable and, in the simulator, reused
    across passes until one of their nodes changes), so policies can skip full pools cheaply.
    """

    pool_id: int
    name: str
    accelerator: str
    rate_milli: int
    nodes: tuple[NodeState, ...]
    hub: str = ""

    @cached_property
    def nodes_with_free(self) -> tuple[NodeState, ...]:
        return tuple(node for node in self.nodes if node.free_indices)

    @cached_property
    def free_devices(self) -> int:
        return sum(len(node.free_indices) for node in self.nodes_with_free)

    @cached_property
    def devices(self) -> int:
        return sum(node.devices for node in self.nodes)

    @cached_property
    def node_size(self) -> int:
        return max((node.devices for node in self.nodes), default=0)


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A queued job as a policy may see it: what it asks for, never how long it will really run.

    A job names a pool (``pool_id``) or, with ``pool_id`` None, an accelerator class
    (``accelerator``, e.g. any H100 at any hub; None as well means any pool at all); the policy
    then chooses the pool.
    """

    job_id: int
    project_id: int
    allocation_id: int
    tier: Tier
    pool_id: int | None
    devices: int
    time_limit_s: int
    submitted_at: float
    accelerator: str | None = None
    attained_device_seconds: float = 0.0
    """Device-seconds this job already ran in earlier attempts (before preemptions)."""
    preemptions: int = 0
    job_class: str = ""
    """What kind of work it is (e.g. a model), for throughput-aware placement."""
    preemptible: bool = True
    allowed_pool_ids: frozenset[int] = frozenset()
    """If not empty, the only pools the job may use (those its allocation allows)."""


@dataclass(frozen=True, slots=True)
class NodeSlice:
    """Devices of one node given to a job."""

    node: str
    device_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding devices now (``placement`` may span several nodes of one pool)."""

    job_id: int
    project_id: int
    allocation_id: int
    tier: Tier
    pool_id: int
    placement: tuple[NodeSlice, ...]
    time_limit_s: int
    started_at: float
    submitted_at: float
    attained_device_seconds: float = 0.0
    """Device-seconds attained before this attempt started."""
    preemptions: int = 0
    job_class: str = ""
    preemptible: bool = True

    @property
    def devices(self) -> int:
        placement = self.placement
        if len(placement) == 1:  # most jobs sit on one node; policies read this every pass
            return len(placement[0].device_indices)
        return sum(len(part.device_indices) for part in placement)

    def attained_at(self, now: float) -> float:
        """Total device-seconds attained by ``now``, including this attempt so far."""
        return self.attained_device_seconds + self.devices * max(0.0, now - self.started_at)


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """What fairness policies need about a project (a *group* in traces).

    ``share`` is the project's awarded share of the commons (all shares sum to 1);
    ``decayed_usage`` is its H100e device-seconds with exponential half-life decay (Slurm's
    fair-share input); ``delivered`` is its undecayed H100e device-seconds in the current period
    (the pace that allocation-fair compares with ``share``).
    """

    project_id: int
    share: float
    decayed_usage: float = 0.0
    delivered: float = 0.0


@dataclass(frozen=True, slots=True)
class Reservation:
    """Devices of a pool held for a long-running service between ``starts_at`` and ``ends_at``.

    The reservation owns the nodes whose ``reserved_for`` is its id. ``wanted`` is how many of
    their devices the service needs now; the scheduler always gives them back to it.
    """

    reservation_id: int
    pool_id: int
    wanted: int
    starts_at: float
    ends_at: float


RUN_TIMES_KEPT: Final = 128
"""Finished jobs' run times a :class:`RunTimeHistory` keeps per time limit: enough for a
distribution, recent enough to follow a change in what users run."""


@dataclass(frozen=True, slots=True)
class RunTimeHistory:
    """Run times of recently finished jobs, by the time limit they asked for.

    ``run_times_s[limit]`` holds the run times in seconds (attained device-seconds / devices,
    restarts included) of up to the last :data:`RUN_TIMES_KEPT` jobs that asked for ``limit``
    seconds and finished, oldest first. What a live service knows from its accounting, and
    what policies may learn from (:mod:`nuri.policy.gittins`) instead of a job's own duration,
    which no policy may read.
    """

    run_times_s: Mapping[int, tuple[float, ...]] = field(default_factory=dict)

    def with_finished(self, finished: Iterable[tuple[int, float]]) -> "RunTimeHistory":
        """This history and the ``(time_limit_s, run_time_s)`` of more finished jobs, oldest
        first; each limit keeps its last :data:`RUN_TIMES_KEPT`. ``self`` is not changed."""
        added: dict[int, list[float]] = {}
        for time_limit_s, run_time_s in finished:
            added.setdefault(time_limit_s, []).append(run_time_s)
        if not added:
            return self
        merged = dict(self.run_times_s)
        for time_limit_s, runs in added.items():
            merged[time_limit_s] = (*merged.get(time_limit_s, ()), *runs)[-RUN_TIMES_KEPT:]
        return RunTimeHistory(merged)


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything a policy may base a decision on, at time ``now``.

    ``pending`` is in submission order (``submitted_at``, then ``job_id``); a requeued job keeps
    its original submission time and so its place.
    """

    now: float
    pools: tuple[PoolState, ...]
    running: tuple[RunningJob, ...]
    pending: tuple[PendingJob, ...]
    groups: Mapping[int, GroupUsage] = field(default_factory=dict)
    reservations: tuple[Reservation, ...] = ()
    history: RunTimeHistory = field(default_factory=RunTimeHistory)


@dataclass(frozen=True, slots=True)
class Start:
    """Start ``job_id`` on ``pool_id`` using exactly the devices in ``placement`` (gang: all at once)."""

    job_id: int
    pool_id: int
    placement: tuple[NodeSlice, ...]

    @property
    def devices(self) -> int:
        return sum(len(part.device_indices) for part in self.placement)


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop ``job_id`` and put it back in the queue, its attained service kept."""

    job_id: int


Decision = Start | Preempt


class Policy(Protocol):
    """A scheduling policy. ``decide`` must be pure: same snapshot, same decisions.

    ``preemptive`` policies may return Preempt decisions; the engine then also calls them when
    nothing arrived or ended, at the time ``wake_at`` asks for (e.g. when a running job's
    attained service crosses a priority threshold).
    """

    name: str
    preemptive: bool

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]: ...

    def wake_at(self, snapshot: ClusterSnapshot) -> float | None:
        """The next time this policy wants to decide again with nothing else changed, or None."""
        ...
