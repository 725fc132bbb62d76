"""The usage ledger: charges in integer units, posted at most once per job attempt.

A *charge* records that a job attempt held ``devices`` of a pool for ``seconds``; its H100e units
and won follow from the pool's exchange rate and price at the moment of charging. A *hold* is
what an active job might still cost (devices x time limit): it is not a ledger entry but is
derived from the jobs that are PENDING or RUNNING, so it can never be left behind.

The balance of an allocation is ``awarded - charged - held``. Admission refuses a job whose hold
does not fit in it, so an award can never be overspent by jobs that respect their time limit.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from nuri.domain.commons import Pool
from nuri.domain.errors import Conflict, InvalidInput
from nuri.domain.units import cost_krw, h100e_units


@dataclass(frozen=True, slots=True)
class Charge:
    """What one attempt of one job cost. ``(job_id, attempt)`` identifies it in the ledger."""

    job_id: int
    attempt: int
    allocation_id: int
    pool_id: int
    devices: int
    seconds: int
    h100e_units: int
    cost_krw: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.job_id, self.attempt)

    @property
    def device_seconds(self) -> int:
        return self.devices * self.seconds


def elapsed_seconds(started_at: datetime, ended_at: datetime) -> int:
    """Whole seconds from start to end, rounded up: a started second is a used second."""
    seconds = (ended_at - started_at).total_seconds()
    return max(0, math.ceil(seconds))


def charge_for_attempt(
    *, job_id: int, attempt: int, allocation_id: int, pool: Pool, devices: int, seconds: int
) -> Charge:
    """Price one attempt: ``devices x seconds x exchange rate`` H100e units and its cost in won."""
    if devices < 1:
        raise InvalidInput("a charge needs at least one device")
    return Charge(
        job_id=job_id,
        attempt=attempt,
        allocation_id=allocation_id,
        pool_id=pool.id,
        devices=devices,
        seconds=seconds,
        h100e_units=h100e_units(devices, seconds, pool.rate_milli),
        cost_krw=cost_krw(devices, seconds, pool.krw_per_device_hour),
    )


def hold_units(pool: Pool, devices: int, time_limit_s: int) -> int:
    """The most a job can cost in H100e units: its devices for its whole time limit."""
    return h100e_units(devices, time_limit_s, pool.rate_milli)


@dataclass(frozen=True, slots=True)
class Balance:
    """An allocation's standing, all in H100e units (except ``cost_krw``)."""

    awarded_units: int
    charged_units: int
    held_units: int
    cost_krw: int

    @property
    def remaining_units(self) -> int:
        """What new jobs may still hold; never below zero even if a run overshot."""
        return max(0, self.awarded_units - self.charged_units - self.held_units)


@dataclass(frozen=True, slots=True)
class Ledger:
    """An append-only set of charges keyed by ``(job_id, attempt)``.

    ``post`` is idempotent: posting the same charge again changes nothing, so a retried or
    replayed completion event can never charge twice. Posting a *different* charge for a key
    already charged is a conflict, because it means two observers disagree about one run.
    """

    charges: Mapping[tuple[int, int], Charge] = field(default_factory=dict)

    def post(self, charge: Charge) -> "Ledger":
        existing = self.charges.get(charge.key)
        if existing is not None:
            if existing != charge:
                raise Conflict(
                    f"job {charge.job_id} attempt {charge.attempt} is already charged differently"
                )
            return self
        return Ledger({**self.charges, charge.key: charge})

    def balance(self, allocation_id: int, awarded_units: int, held_units: int = 0) -> Balance:
        mine = [c for c in self.charges.values() if c.allocation_id == allocation_id]
        return balance_of(awarded_units, mine, held_units)


def balance_of(awarded_units: int, charges: Iterable[Charge], held_units: int = 0) -> Balance:
    """Sum charges into a balance; sums of integers, so order never matters."""
    charged, won = 0, 0
    for charge in charges:
        charged += charge.h100e_units
        won += charge.cost_krw
    return Balance(
        awarded_units=awarded_units, charged_units=charged, held_units=held_units, cost_krw=won
    )
