"""Building the policy's snapshot from the store: the live side of the snapshot seam.

The engine decides with it; the API uses it to estimate start times. Read-only.
"""

import math
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from nuri.domain.commons import Tier
from nuri.domain.jobs import TERMINAL_STATES, JobState
from nuri.domain.units import RATE_SCALE
from nuri.policy.fairshare import DEFAULT_HALF_LIFE_S
from nuri.policy.snapshot import (
    ClusterSnapshot,
    GroupUsage,
    NodeSlice,
    NodeState,
    PendingJob,
    PoolState,
    Reservation,
    RunningJob,
    RunTimeHistory,
)
from nuri.store import repository
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    HubRow,
    JobRow,
    LedgerEntryRow,
    PoolRow,
    ReservationRow,
)


def build_snapshot(session: Session, now: datetime) -> ClusterSnapshot:
    """Pools with each node's free devices, running and pending jobs, and projects' usage."""
    pool_rows = list(session.scalars(select(PoolRow).order_by(PoolRow.id)))
    hubs = dict(iter(session.execute(select(HubRow.id, HubRow.name))))
    busy = repository.busy_devices(session)
    # Reserved nodes are marked only while their reservation is in force.
    active_reservations = [
        row
        for row in session.scalars(select(ReservationRow).order_by(ReservationRow.id))
        if row.starts_at <= now < row.ends_at
    ]
    active_ids = {row.id for row in active_reservations}
    reserved = {
        name: owner
        for name, owner in repository.reserved_nodes(session).items()
        if owner in active_ids
    }
    pools = tuple(_pool_state(row, hubs[row.hub_id], busy, reserved) for row in pool_rows)
    node_sizes = {row.id: row.devices_per_node for row in pool_rows}
    allocation_rows = list(session.scalars(select(AllocationRow)))
    tiers = {row.id: Tier(row.tier) for row in allocation_rows}
    allowed: dict[int, set[int]] = {}
    for allocation_id, pool_id in session.execute(
        select(AllocationPoolRow.allocation_id, AllocationPoolRow.pool_id)
    ):
        allowed.setdefault(allocation_id, set()).add(pool_id)
    active = session.scalars(
        select(JobRow)
        .where(JobRow.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))
        .order_by(JobRow.submitted_at, JobRow.id)
    )
    running: list[RunningJob] = []
    pending: list[PendingJob] = []
    for row in active:
        tier = tiers[row.allocation_id]
        if row.state == JobState.RUNNING.value:
            assert row.node is not None and row.started_at is not None and row.pool_id is not None
            running.append(
                RunningJob(
                    job_id=row.id,
                    project_id=row.project_id,
                    allocation_id=row.allocation_id,
                    tier=tier,
                    pool_id=row.pool_id,
                    placement=(NodeSlice(row.node, tuple(row.device_indices)),),
                    time_limit_s=row.time_limit_s,
                    started_at=row.started_at.timestamp(),
                    submitted_at=row.submitted_at.timestamp(),
                    attained_device_seconds=float(row.attained_device_seconds),
                    preemptions=max(0, row.attempt - 1),
                    preemptible=row.preemptible,
                )
            )
        elif not row.cancel_requested:
            pending.append(
                PendingJob(
                    job_id=row.id,
                    project_id=row.project_id,
                    allocation_id=row.allocation_id,
                    tier=tier,
                    pool_id=row.pool_id,
                    devices=row.devices,
                    time_limit_s=row.time_limit_s,
                    submitted_at=row.submitted_at.timestamp(),
                    attained_device_seconds=float(row.attained_device_seconds),
                    preemptions=row.attempt,
                    accelerator=row.accelerator,
                    preemptible=row.preemptible,
                    # only pools whose nodes can hold the job: live jobs run on one node
                    allowed_pool_ids=frozenset(
                        pool_id
                        for pool_id in allowed.get(row.allocation_id, ())
                        if node_sizes.get(pool_id, 0) >= row.devices
                    ),
                )
            )
    return ClusterSnapshot(
        now=now.timestamp(),
        pools=pools,
        running=tuple(running),
        pending=tuple(pending),
        groups=_group_usage(session, allocation_rows, now),
        history=run_time_history(session),
        reservations=tuple(
            Reservation(
                reservation_id=row.id,
                pool_id=row.pool_id,
                wanted=row.wanted,
                starts_at=row.starts_at.timestamp(),
                ends_at=row.ends_at.timestamp(),
            )
            for row in active_reservations
        ),
    )


RUN_TIME_HISTORY_JOBS = 4096
"""How many of the latest finished jobs the run-time history is drawn from."""


def run_time_history(session: Session) -> RunTimeHistory:
    """The run times of the latest finished jobs that ran, by time limit (see
    :class:`RunTimeHistory`): attained device-seconds / devices, restarts included, as the
    simulator records them."""
    # Only an ended job has ended_at (a requeued one has not), so the newest ended_at first,
    # read off the index on it and stopped at the limit, keeps this query's cost flat as jobs
    # accumulate; a filter on state in SQL would let a planner without statistics (SQLite's)
    # pick the state index and sort every ended job instead. The state is checked here.
    terminal = {state.value for state in TERMINAL_STATES}
    rows = [
        (limit, attained, devices)
        for limit, attained, devices, state in session.execute(
            select(
                JobRow.time_limit_s, JobRow.attained_device_seconds, JobRow.devices, JobRow.state
            )
            .where(JobRow.ended_at.is_not(None), JobRow.attained_device_seconds > 0)
            .order_by(JobRow.ended_at.desc(), JobRow.id.desc())
            .limit(RUN_TIME_HISTORY_JOBS)
        )
        if state in terminal
    ]
    return RunTimeHistory().with_finished(
        (int(limit), float(attained) / devices) for limit, attained, devices in reversed(rows)
    )


def _pool_state(
    row: PoolRow, hub: str, busy: dict[str, set[int]], reserved: dict[str, int]
) -> PoolState:
    pool = repository.pool_of(row)
    nodes = tuple(
        NodeState(
            name=name,
            devices=pool.devices_per_node,
            free_indices=tuple(
                index for index in range(pool.devices_per_node) if index not in busy.get(name, ())
            ),
            reserved_for=reserved.get(name),
        )
        for name in pool.node_names()
    )
    return PoolState(
        pool_id=row.id,
        name=row.name,
        hub=hub,
        accelerator=row.accelerator,
        rate_milli=row.rate_milli,
        nodes=nodes,
    )


def _group_usage(
    session: Session, allocations: list[AllocationRow], now: datetime
) -> dict[int, GroupUsage]:
    """Each project's share of active awards, decayed usage and delivered H100e-seconds.

    Usage comes from the ledger (charged attempts); H100e units are thousandths of an H100e
    device-second.
    """
    awarded: dict[int, int] = {}
    period_start: dict[int, datetime] = {}
    for row in allocations:
        if row.starts_at <= now < row.ends_at:
            awarded[row.project_id] = awarded.get(row.project_id, 0) + row.awarded_units
            period_start[row.project_id] = min(
                period_start.get(row.project_id, row.starts_at), row.starts_at
            )
    total = sum(awarded.values())
    decayed: dict[int, float] = {}
    delivered: dict[int, float] = {}
    # The database decays and sums every charge itself: a charge's weight is
    # 2 ** ((created - now) / half_life), so each project is one row, whatever the ledger's size,
    # and the scheduler never reads the charges into Python (it does so every cycle).
    weight = func.exp(
        math.log(2)
        * (_epoch_s(session) - bindparam("now_s", now.timestamp()))
        / DEFAULT_HALF_LIFE_S
    )
    for project_id, weighted in session.execute(
        select(LedgerEntryRow.project_id, func.sum(LedgerEntryRow.h100e_units * weight)).group_by(
            LedgerEntryRow.project_id
        )
    ):
        decayed[project_id] = float(weighted or 0.0) / RATE_SCALE
    if period_start:
        in_period = or_(
            *(
                and_(LedgerEntryRow.project_id == project_id, LedgerEntryRow.created_at >= start)
                for project_id, start in period_start.items()
            )
        )
        for project_id, units in session.execute(
            select(LedgerEntryRow.project_id, func.sum(LedgerEntryRow.h100e_units))
            .where(in_period)
            .group_by(LedgerEntryRow.project_id)
        ):
            delivered[project_id] = int(units) / RATE_SCALE
    return {
        project_id: GroupUsage(
            project_id=project_id,
            share=units / total if total else 0.0,
            decayed_usage=decayed.get(project_id, 0.0),
            delivered=delivered.get(project_id, 0.0),
        )
        for project_id, units in awarded.items()
    }


def _epoch_s(session: Session) -> ColumnElement[Any]:
    """A charge's moment in seconds since 1970 (UTC), as the database at hand computes it."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(LedgerEntryRow.created_at) - 2440587.5) * 86400.0
    return func.date_part("epoch", LedgerEntryRow.created_at)
