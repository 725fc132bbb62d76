"""Reports for operators and policy makers: spend to date, awards' burn-down, and what is missing.

Every figure is summed from the ledger's integer columns (H100e units, device-seconds, whole
won); GPU-hours are derived only for display. Spend and needs cover the whole commons, so they
are for admins and programme managers; a PI or member sees the burn-down of their own awards.

"How much more is needed" is a quick indicator from the recent past: the devices a pool would
need so that the 90th percentile of its hourly demand (waiting plus running) stays within a
target utilisation. ``nuri plan`` answers the same question properly, by simulation against a
waiting-time target.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.burn_down import RECENT_WINDOW, burn_down
from nuri.domain.commons import Role
from nuri.domain.errors import InvalidInput, NotFound
from nuri.domain.jobs import JobState
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR, SECONDS_PER_HOUR, units_to_gpu_hours
from nuri.engine.clock import Clock
from nuri.service.access import require_commons_reader, visible_project_ids
from nuri.service.auth import Actor
from nuri.service.demand import DemandReports
from nuri.store.tables import (
    AllocationRow,
    AwardDecisionRow,
    CallRow,
    HubRow,
    JobRow,
    LedgerEntryRow,
    OrganisationRow,
    PoolRow,
    ProjectRow,
)

SPEND_GROUPS = ("pool", "hub", "community", "field", "programme", "project")
DIRECT_AWARDS = "(direct awards)"
"""The programme of allocations no call awarded (granted by an admin directly)."""
TARGET_UTILISATION = 0.85
"""Busier than this, queues grow fast (the knee of every queueing curve); plan below it."""
HOURS_PER_YEAR = 8760


@dataclass(frozen=True, slots=True)
class SpendRow:
    group: str
    name: str
    charges: int
    device_hours: float
    h100e_units: int
    gpu_hours: float
    """H100e GPU-hours, rounded to four places."""
    cost_krw: int


@dataclass(frozen=True, slots=True)
class AwardBurnDown:
    allocation_id: int
    project: str
    programme: str
    tier: str
    starts_at: datetime
    ends_at: datetime
    awarded_gpu_hours: float
    used_gpu_hours: float
    held_gpu_hours: float
    remaining_gpu_hours: float
    cost_krw: int
    used_share: float
    elapsed_share: float
    pace: str
    gpu_hours_per_day: float
    """Recent burn rate (the last 14 days)."""
    projected_exhaustion: datetime | None
    exhausts_before_end: bool
    awarded_units: int
    used_units: int
    held_units: int


@dataclass(frozen=True, slots=True)
class ProgrammeBurnDown:
    programme: str
    awards: int
    awarded_gpu_hours: float
    used_gpu_hours: float
    remaining_gpu_hours: float
    cost_krw: int
    used_share: float
    gpu_hours_per_day: float
    projected_exhaustion: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class BurnDownPoint:
    day: datetime
    used_gpu_hours: float
    remaining_gpu_hours: float


@dataclass(frozen=True, slots=True)
class NeedRow:
    pool: str
    hub: str
    accelerator: str
    devices: int
    days: int
    utilisation: float
    """Delivered device-hours over capacity in the window."""
    demanded_device_hours: float
    delivered_device_hours: float
    waiting_device_hours: float
    p90_demanded_devices: float
    p90_wait_s: float | None
    """Of jobs that started in the window."""
    needed_devices: int
    additional_devices: int
    additional_krw_per_year: int
    """Running the additional devices for a year at the pool's own price per device-hour."""


class Reports:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, demand: DemandReports):
        self._sessions = sessions
        self._clock = clock
        self._demand = demand

    # -- spend ----------------------------------------------------------------------------------

    def spend(
        self, actor: Actor, by: str = "pool", since: datetime | None = None
    ) -> list[SpendRow]:
        """Spend to date grouped ``by`` pool, hub, community, field, programme or project."""
        require_commons_reader(actor, "read the commons' spend")
        if by not in SPEND_GROUPS:
            raise InvalidInput(
                f"cannot group spend by {by!r}; choose one of {', '.join(SPEND_GROUPS)}"
            )
        with self._sessions() as session:
            query = _spend_query(by)
            if since is not None:
                query = query.where(LedgerEntryRow.created_at >= since)
            rows = [
                SpendRow(
                    group=by,
                    name=str(name) if name is not None else DIRECT_AWARDS,
                    charges=int(charges),
                    device_hours=round(int(device_seconds) / SECONDS_PER_HOUR, 4),
                    h100e_units=int(units),
                    gpu_hours=_hours(int(units)),
                    cost_krw=int(won),
                )
                for name, charges, device_seconds, units, won in session.execute(query)
            ]
        return sorted(rows, key=lambda row: (-row.cost_krw, row.name))

    # -- burn-down ------------------------------------------------------------------------------

    def award_burn_down(self, actor: Actor, programme: str | None = None) -> list[AwardBurnDown]:
        """Every award the caller may see (admins and managers: all), with pace and projection."""
        now = self._clock()
        with self._sessions() as session:
            visible = _visible_projects(session, actor)
            query = select(AllocationRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == AllocationRow.project_id
            )
            if visible is not None:
                query = query.where(AllocationRow.project_id.in_(visible))
            programmes = _programme_of_allocations(session)
            if programme is not None and programme not in set(programmes.values()) | {
                DIRECT_AWARDS
            }:
                raise NotFound(f"no programme (call) named {programme!r} has awards")
            rows = list(session.execute(query.order_by(AllocationRow.id)))
            used = _sum_by_allocation(session, None)
            recent = _sum_by_allocation(session, now - RECENT_WINDOW)
            held = _holds(session)
            awards = []
            for allocation, project in rows:
                name = programmes.get(allocation.id, DIRECT_AWARDS)
                if programme is not None and name != programme:
                    continue
                units, won = used.get(allocation.id, (0, 0))
                awards.append(
                    _award_view(
                        allocation,
                        project,
                        name,
                        units,
                        won,
                        held.get(allocation.id, 0),
                        recent.get(allocation.id, (0, 0))[0],
                        now,
                    )
                )
        return awards

    def programme_burn_down(self, actor: Actor) -> list[ProgrammeBurnDown]:
        require_commons_reader(actor, "read programmes' burn-down")
        now = self._clock()
        grouped: dict[str, list[AwardBurnDown]] = {}
        for award in self.award_burn_down(actor):
            grouped.setdefault(award.programme, []).append(award)
        views = []
        for name, awards in sorted(grouped.items()):
            awarded = sum(a.awarded_units for a in awards)
            spent = sum(a.used_units + a.held_units for a in awards)
            remaining = max(awarded - spent, 0)
            per_day = sum(a.gpu_hours_per_day for a in awards)
            exhaustion = None
            if remaining == 0:
                exhaustion = now
            elif per_day > 0:
                exhaustion = now + timedelta(days=_hours(remaining) / per_day)
            views.append(
                ProgrammeBurnDown(
                    programme=name,
                    awards=len(awards),
                    awarded_gpu_hours=_hours(awarded),
                    used_gpu_hours=_hours(sum(a.used_units for a in awards)),
                    remaining_gpu_hours=_hours(remaining),
                    cost_krw=sum(a.cost_krw for a in awards),
                    used_share=round(spent / awarded, 4) if awarded else 1.0,
                    gpu_hours_per_day=round(per_day, 4),
                    projected_exhaustion=exhaustion,
                    ends_at=max(a.ends_at for a in awards),
                )
            )
        return views

    def burn_down_curve(self, actor: Actor, allocation_id: int) -> list[BurnDownPoint]:
        """Used and remaining GPU-hours of one award at the end of each UTC day, from its first
        day to today (or its last, if it has ended). The database sums the charges per day, so a
        year-old award with tens of thousands of charges costs a few hundred rows."""
        now = self._clock()
        day = func.date(LedgerEntryRow.created_at)  # stored as UTC; SQLite and PostgreSQL agree
        with self._sessions() as session:
            allocation = session.get(AllocationRow, allocation_id)
            visible = _visible_projects(session, actor)
            if allocation is None or (visible is not None and allocation.project_id not in visible):
                raise NotFound(f"no award (allocation) {allocation_id} that you may see")
            per_day = list(
                session.execute(
                    select(day, func.sum(LedgerEntryRow.h100e_units))
                    .where(LedgerEntryRow.allocation_id == allocation_id)
                    .group_by(day)
                )
            )
        first_day = _day(allocation.starts_at)
        last_day = max(_day(min(now, allocation.ends_at)), first_day)
        days = (last_day - first_day).days + 1
        # Charges before the first day count on it, and after the last day on the last.
        used_on = [0] * days
        for charged_on, units in per_day:
            index = min(max((_as_day(charged_on) - first_day).days, 0), days - 1)
            used_on[index] += int(units)
        points, used = [], 0
        for index in range(days):
            used += used_on[index]
            points.append(
                BurnDownPoint(
                    day=first_day + timedelta(days=index),
                    used_gpu_hours=_hours(used),
                    remaining_gpu_hours=_hours(max(allocation.awarded_units - used, 0)),
                )
            )
        return points

    # -- needs ----------------------------------------------------------------------------------

    def needs(self, actor: Actor, days: int = 30) -> list[NeedRow]:
        """Per pool: how busy it was, how much demand waited, and how many devices are missing."""
        require_commons_reader(actor, "read the commons' needs")
        if days <= 0 or days > 366:
            raise InvalidInput(f"days must be between 1 and 366, got {days}")
        now = self._clock()
        since = now - timedelta(days=days)
        with self._sessions() as session:
            pools = list(
                session.execute(
                    select(PoolRow, HubRow.name)
                    .join(HubRow, HubRow.id == PoolRow.hub_id)
                    .order_by(PoolRow.id)
                )
            )
            waits = _waits_by_pool(session, since)
        every_series = self._demand.pool_series(actor, step_s=3600, days=days)
        rows = []
        for pool, hub in pools:
            series = every_series[pool.name]
            demanded = np.array([point.demanded for point in series.points], dtype=np.float64)
            delivered = float(sum(point.delivered for point in series.points))
            devices = pool.nodes * pool.devices_per_node
            p90 = float(np.percentile(demanded, 90)) if demanded.size else 0.0
            wanted = math.ceil(p90 / TARGET_UTILISATION - 1e-9)
            needed = math.ceil(wanted / pool.devices_per_node) * pool.devices_per_node
            additional = max(needed - devices, 0)
            pool_waits = waits.get(pool.id, [])
            rows.append(
                NeedRow(
                    pool=pool.name,
                    hub=hub,
                    accelerator=pool.accelerator,
                    devices=devices,
                    days=days,
                    utilisation=round(delivered / (devices * days * 24), 4) if devices else 0.0,
                    demanded_device_hours=round(float(demanded.sum()), 4),
                    delivered_device_hours=round(delivered, 4),
                    waiting_device_hours=round(sum(p.waiting for p in series.points), 4),
                    p90_demanded_devices=round(p90, 4),
                    p90_wait_s=float(np.percentile(pool_waits, 90)) if pool_waits else None,
                    needed_devices=max(needed, 0),
                    additional_devices=additional,
                    additional_krw_per_year=additional * pool.krw_per_device_hour * HOURS_PER_YEAR,
                )
            )
        return rows


def _visible_projects(session: Session, actor: Actor) -> set[int] | None:
    if actor.role is Role.MANAGER:
        return None
    return visible_project_ids(session, actor)


def _hours(units: int) -> float:
    return round(float(units_to_gpu_hours(units)), 4)


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _as_day(value: object) -> datetime:
    """A database's ``date()`` as a UTC midnight: SQLite answers "YYYY-MM-DD", PostgreSQL a date."""
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return datetime.fromisoformat(text[:10]).replace(tzinfo=UTC)


def _spend_query(by: str) -> Select[Any]:
    totals = (
        func.count(LedgerEntryRow.id),
        func.coalesce(func.sum(LedgerEntryRow.devices * LedgerEntryRow.seconds), 0),
        func.coalesce(func.sum(LedgerEntryRow.h100e_units), 0),
        func.coalesce(func.sum(LedgerEntryRow.cost_krw), 0),
    )
    if by == "pool":
        key: Any = PoolRow.name
        return (
            select(key, *totals).join(PoolRow, PoolRow.id == LedgerEntryRow.pool_id).group_by(key)
        )
    if by == "hub":
        key = HubRow.name
        return (
            select(key, *totals)
            .join(PoolRow, PoolRow.id == LedgerEntryRow.pool_id)
            .join(HubRow, HubRow.id == PoolRow.hub_id)
            .group_by(key)
        )
    if by == "project":
        key = ProjectRow.name
        return (
            select(key, *totals)
            .join(ProjectRow, ProjectRow.id == LedgerEntryRow.project_id)
            .group_by(key)
        )
    if by == "field":
        key = ProjectRow.field
        return (
            select(key, *totals)
            .join(ProjectRow, ProjectRow.id == LedgerEntryRow.project_id)
            .group_by(key)
        )
    if by == "community":
        key = OrganisationRow.kind
        return (
            select(key, *totals)
            .join(ProjectRow, ProjectRow.id == LedgerEntryRow.project_id)
            .join(OrganisationRow, OrganisationRow.id == ProjectRow.organisation_id)
            .group_by(key)
        )
    key = CallRow.name
    return (
        select(key, *totals)
        .outerjoin(AwardDecisionRow, AwardDecisionRow.allocation_id == LedgerEntryRow.allocation_id)
        .outerjoin(CallRow, CallRow.id == AwardDecisionRow.call_id)
        .group_by(key)
    )


def _programme_of_allocations(session: Session) -> dict[int, str]:
    query = (
        select(AwardDecisionRow.allocation_id, CallRow.name)
        .join(CallRow, CallRow.id == AwardDecisionRow.call_id)
        .where(AwardDecisionRow.allocation_id.is_not(None))
    )
    return {
        allocation_id: name
        for allocation_id, name in session.execute(query)
        if allocation_id is not None
    }


def _sum_by_allocation(session: Session, since: datetime | None) -> dict[int, tuple[int, int]]:
    query = select(
        LedgerEntryRow.allocation_id,
        func.sum(LedgerEntryRow.h100e_units),
        func.sum(LedgerEntryRow.cost_krw),
    ).group_by(LedgerEntryRow.allocation_id)
    if since is not None:
        query = query.where(LedgerEntryRow.created_at >= since)
    return {
        int(allocation_id): (int(units), int(won))
        for allocation_id, units, won in session.execute(query)
    }


def _holds(session: Session) -> dict[int, int]:
    active = (JobState.PENDING.value, JobState.RUNNING.value)
    query = (
        select(JobRow.allocation_id, func.sum(JobRow.hold_units))
        .where(JobRow.state.in_(active))
        .group_by(JobRow.allocation_id)
    )
    return {int(allocation_id): int(units) for allocation_id, units in session.execute(query)}


def _award_view(
    allocation: AllocationRow,
    project: str,
    programme: str,
    used: int,
    won: int,
    held: int,
    recent: int,
    now: datetime,
) -> AwardBurnDown:
    pace = burn_down(
        awarded_units=allocation.awarded_units,
        used_units=used,
        held_units=held,
        starts_at=allocation.starts_at,
        ends_at=allocation.ends_at,
        now=now,
        recent_units=recent,
    )
    remaining = max(allocation.awarded_units - used - held, 0)
    return AwardBurnDown(
        allocation_id=allocation.id,
        project=project,
        programme=programme,
        tier=allocation.tier,
        starts_at=allocation.starts_at,
        ends_at=allocation.ends_at,
        awarded_gpu_hours=_hours(allocation.awarded_units),
        used_gpu_hours=_hours(used),
        held_gpu_hours=_hours(held),
        remaining_gpu_hours=_hours(remaining),
        cost_krw=won,
        used_share=round(pace.used_share, 4),
        elapsed_share=round(pace.elapsed_share, 4),
        pace=pace.pace.value,
        gpu_hours_per_day=round(pace.units_per_day / H100E_UNITS_PER_GPU_HOUR, 4),
        projected_exhaustion=pace.projected_exhaustion,
        exhausts_before_end=pace.exhausts_before_end,
        awarded_units=allocation.awarded_units,
        used_units=used,
        held_units=held,
    )


def _waits_by_pool(session: Session, since: datetime) -> dict[int, list[float]]:
    query = select(JobRow.pool_id, JobRow.submitted_at, JobRow.started_at).where(
        JobRow.started_at.is_not(None), JobRow.started_at >= since
    )
    waits: dict[int, list[float]] = {}
    for pool_id, submitted, started in session.execute(query):
        if pool_id is not None and started is not None:
            waits.setdefault(pool_id, []).append(max((started - submitted).total_seconds(), 0.0))
    return waits
