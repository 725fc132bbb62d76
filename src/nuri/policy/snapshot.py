"""The immutable snapshot a policy sees, the decisions it returns, and the Policy protocol.

Times are seconds (float) on whichever clock drives the engine: wall-clock epoch seconds live,
simulated seconds in the simulator. Policies only compare and subtract them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nuri.domain.commons import Tier


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node of a pool and which of its device indices are free."""

    name: str
    devices: int
    free_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PoolState:
    """One pool: its accelerator, exchange rate (thousandths) and nodes."""

    pool_id: int
    name: str
    accelerator: str
    rate_milli: int
    nodes: tuple[NodeState, ...]

    @property
    def free_devices(self) -> int:
        return sum(len(node.free_indices) for node in self.nodes)


@dataclass(frozen=True, slots=True)
class PendingJob:
    """A queued job as a policy may see it: what it asks for, never how long it will really run."""

    job_id: int
    project_id: int
    allocation_id: int
    tier: Tier
    pool_id: int
    devices: int
    time_limit_s: int
    submitted_at: float
    attained_device_seconds: int = 0
    """Device-seconds this job already ran in earlier attempts (before a preemption)."""


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding devices now."""

    job_id: int
    project_id: int
    allocation_id: int
    tier: Tier
    pool_id: int
    node: str
    device_indices: tuple[int, ...]
    time_limit_s: int
    started_at: float


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything a policy may base a decision on, at time ``now``."""

    now: float
    pools: tuple[PoolState, ...]
    running: tuple[RunningJob, ...]
    pending: tuple[PendingJob, ...]


@dataclass(frozen=True, slots=True)
class Start:
    """Start ``job_id`` on ``node`` using exactly ``device_indices`` (gang: all at once)."""

    job_id: int
    node: str
    device_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop ``job_id`` and put it back in the queue."""

    job_id: int


Decision = Start | Preempt


class Policy(Protocol):
    """A scheduling policy. ``decide`` must be pure: same snapshot, same decisions."""

    name: str

    def decide(self, snapshot: ClusterSnapshot) -> Sequence[Decision]: ...
