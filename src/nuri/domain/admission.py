"""Admission: whether a job may join the queue, and which allocation it charges.

Admission runs before a job is stored. It refuses, with a message that says what to change:

- a job with no command;
- a pool that does not exist;
- more devices than one node of the pool has (jobs are gang-scheduled on one node), or fewer
  than one;
- a time limit that is not positive or exceeds the pool's maximum;
- a project with no allocation that is active now and allows the pool;
- a hold (devices x time limit x exchange rate) larger than what the allocations have left.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nuri.domain.commons import Allocation, Pool
from nuri.domain.errors import AdmissionRefused
from nuri.domain.jobs import format_duration
from nuri.domain.ledger import Balance, hold_units
from nuri.domain.units import round_hours


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of admitting a job: which allocation it charges and what it holds."""

    allocation_id: int
    hold_units: int


def admit(
    *,
    project_name: str,
    pool_name: str,
    pool: Pool | None,
    devices: int,
    time_limit_s: int,
    command: Sequence[str],
    allocations: Sequence[tuple[Allocation, Balance]],
    now: datetime,
) -> Admission:
    """Decide admission for one job; raise AdmissionRefused with the reason if refused.

    ``allocations`` are the project's allocations with their current balances. Among those that
    are active and allow the pool, the one ending soonest that can hold the job is chosen, so
    awards that expire first are spent first.
    """
    if not command or not any(part.strip() for part in command):
        raise AdmissionRefused(
            "the job has no command; give one after '--', e.g. -- python train.py"
        )
    if pool is None:
        raise AdmissionRefused(f"unknown pool {pool_name!r}; 'nuri pools' lists the pools")
    if devices < 1:
        raise AdmissionRefused(f"a job needs at least one device, got {devices}")
    if devices > pool.devices_per_node:
        raise AdmissionRefused(
            f"pool {pool.name} has {pool.devices_per_node} devices per node; a job may ask for at"
            f" most {pool.devices_per_node}, got {devices}"
        )
    if time_limit_s < 1:
        raise AdmissionRefused("the time limit must be at least one second")
    if time_limit_s > pool.max_time_limit_s:
        raise AdmissionRefused(
            f"pool {pool.name} allows time limits up to {format_duration(pool.max_time_limit_s)},"
            f" got {format_duration(time_limit_s)}"
        )
    usable = sorted(
        (
            (allocation, balance)
            for allocation, balance in allocations
            if allocation.active_at(now) and allocation.allows(pool.id)
        ),
        key=lambda pair: (pair[0].ends_at, pair[0].id),
    )
    if not usable:
        raise AdmissionRefused(
            f"project {project_name} has no allocation active now that allows pool {pool.name}"
        )
    hold = hold_units(pool, devices, time_limit_s)
    for allocation, balance in usable:
        if balance.remaining_units >= hold:
            return Admission(allocation_id=allocation.id, hold_units=hold)
    best = max(balance.remaining_units for _, balance in usable)
    raise AdmissionRefused(
        f"project {project_name} has {round_hours(best)} H100e GPU-hours left on pool {pool.name},"
        f" but {devices} device(s) for {format_duration(time_limit_s)} may use {round_hours(hold)};"
        " ask for fewer devices or a shorter --time"
    )
