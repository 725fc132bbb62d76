"""Admission: whether a job may join the queue, which allocation it charges and where it may run.

Admission runs before a job is stored. A job names a pool, or an accelerator class (any pool of
that accelerator, at any hub). Admission refuses, with a message that says what to change:

- a job with no command;
- a pool that does not exist, or a class no pool has;
- more devices than one node has (jobs are gang-scheduled on one node of a pool), or fewer
  than one;
- a time limit that is not positive or exceeds every candidate pool's maximum;
- a project with no allocation that is active now and allows a candidate pool;
- a hold (devices x time limit x exchange rate) larger than what the allocations have left.

For a class, the hold is priced at the dearest exchange rate among the pools the job may use,
so it covers wherever the policy puts it.
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
    """The outcome: which allocation the job charges, what it holds, which pools it may use."""

    allocation_id: int
    hold_units: int
    pool_ids: frozenset[int]


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
    """Admit a job that names one pool (``pool`` is None if ``pool_name`` does not exist)."""
    _check_command(command)
    if pool is None:
        raise AdmissionRefused(
            f"unknown pool {pool_name!r}; 'nuri pools' lists the pools",
            key="admission.unknown_pool",
            params={"pool": pool_name},
        )
    _check_size(devices, time_limit_s)
    if devices > pool.devices_per_node:
        raise AdmissionRefused(
            f"pool {pool.name} has {pool.devices_per_node} devices per node; a job may ask for at"
            f" most {pool.devices_per_node}, got {devices}",
            key="admission.too_many_devices",
            params={"pool": pool.name, "most": pool.devices_per_node, "devices": devices},
        )
    if time_limit_s > pool.max_time_limit_s:
        raise AdmissionRefused(
            f"pool {pool.name} allows time limits up to {format_duration(pool.max_time_limit_s)},"
            f" got {format_duration(time_limit_s)}",
            key="admission.time_limit_too_long",
            params={
                "pool": pool.name,
                "longest": format_duration(pool.max_time_limit_s),
                "asked": format_duration(time_limit_s),
            },
        )
    return _charge(
        project_name, Target("pool", pool.name), [pool], devices, time_limit_s, allocations, now
    )


def admit_class(
    *,
    project_name: str,
    accelerator: str,
    pools: Sequence[Pool],
    devices: int,
    time_limit_s: int,
    command: Sequence[str],
    allocations: Sequence[tuple[Allocation, Balance]],
    now: datetime,
) -> Admission:
    """Admit a job that asks for any pool of an accelerator class; ``pools`` are that class's."""
    _check_command(command)
    if not pools:
        raise AdmissionRefused(
            f"no pool has accelerator {accelerator}; 'nuri pools' lists them",
            key="admission.unknown_accelerator",
            params={"accelerator": accelerator},
        )
    _check_size(devices, time_limit_s)
    fitting = [pool for pool in pools if devices <= pool.devices_per_node]
    if not fitting:
        largest = max(pool.devices_per_node for pool in pools)
        raise AdmissionRefused(
            f"{accelerator} pools have at most {largest} devices per node; got {devices}",
            key="admission.class_too_many_devices",
            params={"accelerator": accelerator, "most": largest, "devices": devices},
        )
    fitting = [pool for pool in fitting if time_limit_s <= pool.max_time_limit_s]
    if not fitting:
        longest = max(pool.max_time_limit_s for pool in pools)
        raise AdmissionRefused(
            f"{accelerator} pools allow time limits up to {format_duration(longest)},"
            f" got {format_duration(time_limit_s)}",
            key="admission.class_time_limit_too_long",
            params={
                "accelerator": accelerator,
                "longest": format_duration(longest),
                "asked": format_duration(time_limit_s),
            },
        )
    return _charge(
        project_name,
        Target("class", accelerator),
        fitting,
        devices,
        time_limit_s,
        allocations,
        now,
    )


def _check_command(command: Sequence[str]) -> None:
    if not command or not any(part.strip() for part in command):
        raise AdmissionRefused(
            "the job has no command; give one after '--', e.g. -- python train.py",
            key="admission.no_command",
        )


def _check_size(devices: int, time_limit_s: int) -> None:
    if devices < 1:
        raise AdmissionRefused(
            f"a job needs at least one device, got {devices}",
            key="admission.no_devices",
            params={"devices": devices},
        )
    if time_limit_s < 1:
        raise AdmissionRefused(
            "the time limit must be at least one second", key="admission.no_time"
        )


@dataclass(frozen=True, slots=True)
class Target:
    """Where a job asked to run: one ``pool`` by name, or any pool of an accelerator ``class``."""

    kind: str
    name: str

    @property
    def phrase(self) -> str:
        return f"pool {self.name}" if self.kind == "pool" else f"any {self.name} pool"


def _charge(
    project_name: str,
    target: Target,
    pools: Sequence[Pool],
    devices: int,
    time_limit_s: int,
    allocations: Sequence[tuple[Allocation, Balance]],
    now: datetime,
) -> Admission:
    """Among allocations active now that allow a candidate pool, the one ending soonest that can
    hold the job: awards that expire first are spent first."""
    usable = sorted(
        (
            (allocation, balance, [pool for pool in pools if allocation.allows(pool.id)])
            for allocation, balance in allocations
            if allocation.active_at(now)
        ),
        key=lambda entry: (entry[0].ends_at, entry[0].id),
    )
    usable = [entry for entry in usable if entry[2]]
    if not usable:
        raise AdmissionRefused(
            f"project {project_name} has no allocation active now that allows {target.phrase}",
            key=f"admission.no_allocation.{target.kind}",
            params={"project": project_name, "name": target.name},
        )
    holds = []
    for allocation, balance, allowed in usable:
        hold = max(hold_units(pool, devices, time_limit_s) for pool in allowed)
        holds.append(hold)
        if balance.remaining_units >= hold:
            return Admission(
                allocation_id=allocation.id,
                hold_units=hold,
                pool_ids=frozenset(pool.id for pool in allowed),
            )
    best = max(balance.remaining_units for _, balance, _ in usable)
    raise AdmissionRefused(
        f"project {project_name} has {round_hours(best)} H100e GPU-hours left on {target.phrase},"
        f" but {devices} device(s) for {format_duration(time_limit_s)} may use"
        f" {round_hours(min(holds))}; ask for fewer devices or a shorter --time",
        key=f"admission.award_too_small.{target.kind}",
        params={
            "project": project_name,
            "left": round_hours(best),
            "name": target.name,
            "devices": devices,
            "time": format_duration(time_limit_s),
            "hold": round_hours(min(holds)),
        },
    )
