"""The backend port: what the scheduling engine asks of whatever runs jobs.

The engine decides *what* starts *where*; a backend makes it so and reports how each run ended.
Every call names a job by id and its attempt number, so a report about an old attempt can never
be mistaken for the current one.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from nuri.domain.jobs import JobState


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything a backend needs to start one attempt of a job on devices already chosen."""

    job_id: int
    attempt: int
    command: tuple[str, ...]
    pool: str
    node: str
    device_indices: tuple[int, ...]
    device_env_var: str
    time_limit_s: int
    workdir: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    accelerator: str = ""
    project: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Ended:
    """A run ended: ``state`` is COMPLETED, FAILED, CANCELLED or TIMEOUT (or PENDING: requeued)."""

    job_id: int
    attempt: int
    state: JobState
    ended_at: datetime
    exit_code: int | None = None
    reason: str | None = None
    elapsed_s: int | None = None
    """The run time the backend measured (Slurm's accounting), charged instead of nuri's own."""
    devices: int | None = None
    """The devices the backend allocated, if it says (Slurm's ``AllocTRES``)."""


@dataclass(frozen=True, slots=True)
class Started:
    """A run began where the backend put it: reported by a backend whose own scheduler places
    jobs (Slurm in ``native`` mode), or to correct the start time nuri recorded."""

    job_id: int
    attempt: int
    started_at: datetime
    pool: str
    node: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A pending job as a backend that mirrors nuri's queue (Slurm) submits it ahead of a start."""

    job_id: int
    attempt: int
    """The attempt its next run will be."""
    name: str
    project: str
    command: tuple[str, ...]
    workdir: str | None
    devices: int
    time_limit_s: int
    pools: tuple[tuple[str, str], ...]
    """``(pool, accelerator)`` of every pool it may run on."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The backend will not run a pending job at all (e.g. Slurm refused it over a limit)."""

    job_id: int
    reason: str


class Backend(Protocol):
    """What runs jobs. Implementations must be safe to call from one engine thread at a time."""

    name: str
    places_jobs: bool
    """True if the backend's own scheduler decides starts (Slurm ``native``): nuri's policy is
    then not asked, and ``poll`` reports each start as :class:`Started`."""
    mirrors_queue: bool
    """True if the backend wants every pending job ahead of its start (``sync_queue``)."""

    def sync_queue(self, waiting: Sequence[Waiting]) -> Sequence[Refused]:
        """The jobs pending now (only called when ``mirrors_queue``): submit the new ones,
        withdraw those no longer pending; the jobs the backend refuses."""

    def start(self, launch: Launch) -> None:
        """Start the attempt now. Raise BackendError if it cannot start."""

    def cancel(self, job_id: int) -> None:
        """Stop the job's running attempt; its end is reported by a later ``poll`` as CANCELLED."""

    def preempt(self, job_id: int) -> None:
        """Stop the job's running attempt so it can be requeued; a later ``poll`` reports it
        ended with state PENDING."""

    def poll(self) -> Sequence[Started | Ended]:
        """Runs that ended (and, for ``places_jobs`` backends, began) since the last poll, each
        reported once by this object (the engine ignores a repeat); a start before its end."""

    def reconcile(self, running: Sequence[tuple[int, int]]) -> Sequence[Ended]:
        """Given the ``(job_id, attempt)`` pairs the store believes are running, report an end
        for every one this backend cannot account for (e.g. after a restart)."""

    def logs(self, job_id: int, offset: int = 0) -> bytes:
        """The job's captured output from byte ``offset`` on (empty if none yet)."""

    def close(self) -> None:
        """The service is stopping: release what this object holds. A backend whose runs cannot
        outlive the service (local processes) stops them; the next leader's ``reconcile``
        reports them. A backend whose runs live elsewhere (Slurm) leaves them running."""


class BackendError(Exception):
    """A backend could not do what was asked; the message says why."""
