"""What use cases return: flat, read-only views with names resolved, ready for the API and CLI.

Quantities come twice where the ledger is concerned: integer H100e units (authoritative, for
machines) and GPU-hours rounded to four places (for people).
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class HubView:
    id: int
    name: str
    title: str
    operator: str


@dataclass(frozen=True, slots=True)
class PoolView:
    id: int
    name: str
    hub: str
    accelerator: str
    nodes: int
    devices_per_node: int
    devices: int
    exchange_rate: str
    krw_per_device_hour: int
    max_time_limit_s: int
    free_devices: int
    running_jobs: int
    pending_jobs: int


@dataclass(frozen=True, slots=True)
class OrganisationView:
    id: int
    name: str
    title: str
    kind: str


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    name: str
    display_name: str
    role: str
    organisation: str | None


@dataclass(frozen=True, slots=True)
class TokenView:
    """One of a user's API tokens, as listed: never the token itself nor its digest."""

    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    """After this moment the token signs nobody in; None: it does not expire."""
    revoked_at: datetime | None
    active: bool
    """Neither revoked nor expired now."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: the secret itself is here once and never stored."""

    id: int
    user: str
    token: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProjectView:
    id: int
    name: str
    title: str
    field: str
    organisation: str
    pi: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllocationView:
    id: int
    name: str
    project: str
    tier: str
    pools: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    active: bool
    awarded_units: int
    charged_units: int
    held_units: int
    remaining_units: int
    awarded_gpu_hours: float
    used_gpu_hours: float
    held_gpu_hours: float
    remaining_gpu_hours: float
    cost_krw: int


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    name: str
    state: str
    project: str
    pool: str
    """The pool it runs or ran on; ``any <class>`` while an accelerator-class job waits."""
    accelerator: str | None
    """The accelerator class it asked for instead of a pool, if it did."""
    gpus: int
    time_limit_s: int
    command: tuple[str, ...]
    user: str
    allocation_id: int
    attempt: int
    submitted_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    node: str | None
    device_indices: tuple[int, ...]
    exit_code: int | None
    reason: str | None
    cancel_requested: bool
    preemptible: bool
    queue_position: int | None
    estimated_start: datetime | None
    held_units: int
    charged_units: int
    used_gpu_hours: float
    cost_krw: int


@dataclass(frozen=True, slots=True)
class PoolUsageView:
    pool: str
    accelerator: str
    jobs: int
    device_hours: float
    used_gpu_hours: float
    cost_krw: int


@dataclass(frozen=True, slots=True)
class UsageView:
    project: str
    awarded_units: int
    used_units: int
    held_units: int
    remaining_units: int
    awarded_gpu_hours: float
    used_gpu_hours: float
    held_gpu_hours: float
    remaining_gpu_hours: float
    cost_krw: int
    allocations: tuple[AllocationView, ...]
    pools: tuple[PoolUsageView, ...]


@dataclass(frozen=True, slots=True)
class MemberSpendView:
    """What one person's jobs in a project were charged."""

    user: str
    display_name: str
    is_pi: bool
    is_member: bool
    """False for someone charged to the project who has since left it."""
    jobs: int
    """Jobs they submitted to the project, in any state."""
    used_units: int
    used_gpu_hours: float
    cost_krw: int


@dataclass(frozen=True, slots=True)
class ReservationView:
    id: int
    name: str
    pool: str
    nodes: tuple[str, ...]
    """The reserved nodes: the pool's first nodes, in the order reservations were made."""
    devices: int
    wanted: int
    """Devices the service needs now; the rest of ``devices`` may be lent to preemptible jobs."""
    starts_at: datetime
    ends_at: datetime
    active: bool
    note: str
