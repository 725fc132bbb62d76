"""Jobs and their state machine.

::

    PENDING --start--> RUNNING --exit 0--> COMPLETED
       |                  |----exit != 0--> FAILED
       |                  |----time limit--> TIMEOUT
       |                  |----cancel-----> CANCELLED
       |                  +----requeue----> PENDING      (preemption; attempt + 1)
       +--cancel--> CANCELLED
       +--backend refused--> FAILED

Terminal states never change again. Each RUNNING period is one *attempt*; the ledger charges
each attempt at most once.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from nuri.domain.errors import InvalidInput, InvalidTransition
from nuri.domain.units import SECONDS_PER_HOUR


class JobState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT}
)
ACTIVE_STATES = frozenset({JobState.PENDING, JobState.RUNNING})

_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.PENDING: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset(
        {
            JobState.COMPLETED,
            JobState.FAILED,
            JobState.CANCELLED,
            JobState.TIMEOUT,
            JobState.PENDING,
        }
    ),
}


def check_transition(current: JobState, target: JobState) -> JobState:
    """Return ``target`` if a job in ``current`` may move to it, else raise InvalidTransition."""
    if target not in _ALLOWED.get(current, frozenset()):
        raise InvalidTransition(f"a {current} job cannot become {target}")
    return target


@dataclass(frozen=True, slots=True)
class Job:
    """A command run on devices of one pool, charged to one allocation."""

    id: int
    name: str
    project_id: int
    allocation_id: int
    pool_id: int | None
    """None while a job that asked for an accelerator class waits for a pool."""
    submitted_by: int
    command: tuple[str, ...]
    workdir: str | None
    devices: int
    time_limit_s: int
    state: JobState
    attempt: int
    submitted_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    node: str | None
    device_indices: tuple[int, ...]
    exit_code: int | None
    reason: str | None
    cancel_requested: bool
    attained_device_seconds: int = 0


def parse_duration(text: str) -> int:
    """Parse a time limit such as ``90s``, ``30m``, ``2h``, ``1d``, ``1h30m`` or ``HH:MM:SS``.

    Returns whole seconds; refuses anything else with an example of what works.
    """
    raw = text.strip().lower()
    if not raw:
        raise InvalidInput("time limit is empty; use e.g. 30m, 2h or 1d")
    if ":" in raw:
        parts = raw.split(":")
        if len(parts) not in (2, 3) or not all(_is_ascii_number(part) for part in parts):
            raise InvalidInput(f"time limit {text!r} is not HH:MM:SS or MM:SS")
        numbers = [int(part) for part in parts]
        if len(numbers) == 2:
            numbers.insert(0, 0)
        hours, minutes, seconds = numbers
        total = hours * SECONDS_PER_HOUR + minutes * 60 + seconds
    else:
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        total, digits, seen_unit, last_size = 0, "", False, 0
        for char in raw:
            if char in "0123456789":
                digits += char
            elif char in units and digits and (not last_size or units[char] < last_size):
                total += int(digits) * units[char]
                digits, seen_unit, last_size = "", True, units[char]
            else:
                raise InvalidInput(
                    f"time limit {text!r} is not understood; use e.g. 30m, 2h, 1d or 1h30m"
                    " (each unit once, largest first)"
                )
        if digits:
            if seen_unit:
                raise InvalidInput(f"time limit {text!r} ends without a unit (s, m, h or d)")
            total += int(digits) * 60  # a bare number is minutes, as in Slurm's --time
    if total <= 0:
        raise InvalidInput(f"time limit must be longer than zero, got {text!r}")
    return total


def _is_ascii_number(text: str) -> bool:
    return bool(text) and all(char in "0123456789" for char in text)


def format_duration(seconds: int) -> str:
    """Show seconds as ``1d2h3m4s`` (omitting zero parts)."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
