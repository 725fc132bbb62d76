"""Demand series read from the commons' own records, and the demand its awards already promise.

A series is named by what it covers: ``all``, ``pool:<name>``, ``hub:<name>``,
``community:<organisation kind>`` or ``field:<research field>``. A pool's series counts that
pool's own device-hours (what capacity planning needs); every other series adds pools up in
H100e GPU-hours. Jobs are read from the jobs table (submission to end: demanded) and the ledger
(each charged attempt: delivered), so a requeued job's earlier attempts count as delivered.

Known future demand: awards that start after the series ends, and the unawarded budgets of calls
whose award term lies ahead, are assumed to be used evenly over their terms. They are what the
forecaster adds to a trend that cannot know them. Calls count for ``all``, pool and hub series,
and for a community series in equal shares among the kinds they admit; a call has no research
field, so field series get awards only.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import OrganisationKind, ResearchField
from nuri.domain.errors import InvalidInput, NotFound
from nuri.domain.jobs import JobState
from nuri.domain.units import H100E_UNITS_PER_GPU_HOUR, RATE_SCALE
from nuri.engine.clock import Clock
from nuri.forecasting.demand import DemandSteps, IntervalColumns, demand_steps
from nuri.forecasting.forecast import Forecast
from nuri.forecasting.series import parse_horizon, series_from_points
from nuri.service.access import require_commons_reader
from nuri.service.auth import Actor
from nuri.store.tables import (
    AllocationPoolRow,
    AllocationRow,
    AwardDecisionRow,
    CallBudgetRow,
    CallRow,
    HubRow,
    JobRow,
    LedgerEntryRow,
    OrganisationRow,
    PoolRow,
    ProjectRow,
)

SERIES_KINDS = ("all", "pool", "hub", "community", "field")
MAX_STEPS = 20_000
"""More steps than this is a mistake (a year of minutes), not a report."""
_ONGOING_CALL_STATES = ("draft", "open", "closed", "reviewing")


@dataclass(frozen=True, slots=True)
class SeriesSelector:
    kind: str
    value: str

    @property
    def name(self) -> str:
        return self.kind if self.kind == "all" else f"{self.kind}:{self.value}"


def parse_series_name(name: str) -> SeriesSelector:
    """``pool:h100-ksc`` -> SeriesSelector('pool', 'h100-ksc'), or say what names exist."""
    kind, _, value = name.strip().partition(":")
    if kind == "all" and not value:
        return SeriesSelector("all", "")
    if kind not in SERIES_KINDS or not value:
        raise InvalidInput(
            f"unknown demand series {name!r}; name one of: all, pool:<pool>, hub:<hub>,"
            f" community:<{'|'.join(OrganisationKind)}>, field:<{'|'.join(ResearchField)}>"
        )
    if kind == "community" and value not in set(OrganisationKind):
        raise InvalidInput(
            f"unknown community {value!r}; communities are {', '.join(OrganisationKind)}"
        )
    if kind == "field" and value not in set(ResearchField):
        raise InvalidInput(
            f"unknown research field {value!r}; fields are {', '.join(ResearchField)}"
        )
    return SeriesSelector(kind, value)


@dataclass(frozen=True, slots=True)
class DemandPoint:
    timestamp: datetime
    demanded: float
    delivered: float
    waiting: float


@dataclass(frozen=True, slots=True)
class DemandSeriesView:
    series: str
    unit: str
    """``device-hours`` of the pool's own devices, or ``H100e GPU-hours``."""
    step_s: int
    points: list[DemandPoint]


@dataclass(frozen=True, slots=True)
class _Scope:
    """Which pools (with their weights) and which projects a series covers."""

    pool_weights: dict[int, int]
    project_ids: set[int] | None
    unit: str
    rates: dict[int, int]
    """Every pool's exchange rate in thousandths."""


class DemandReports:
    """Demand series and known future demand; for admins and programme managers."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def series(
        self, actor: Actor, name: str, *, step_s: int = 3600, days: int = 30
    ) -> DemandSeriesView:
        """The last ``days`` of whole steps before now (the unfinished step is left out)."""
        require_commons_reader(actor, "read the commons' demand")
        now = self._clock()
        steps, origin_s = _window(now, step_s, days)
        selector = parse_series_name(name)
        with self._sessions() as session:
            scope = _scope(session, selector)
            demand = _demand(session, scope, now, origin_s, step_s, steps)
        return DemandSeriesView(
            series=selector.name,
            unit=scope.unit,
            step_s=step_s,
            points=_points(demand),
        )

    def pool_series(
        self, actor: Actor, *, step_s: int = 3600, days: int = 30
    ) -> dict[str, DemandSeriesView]:
        """Every pool's own series (device-hours), from one pass over jobs and ledger."""
        require_commons_reader(actor, "read the commons' demand")
        steps, origin_s = _window(self._clock(), step_s, days)
        with self._sessions() as session:
            pools = list(session.execute(select(PoolRow.id, PoolRow.name).order_by(PoolRow.id)))
            scope = _Scope({pool_id: RATE_SCALE for pool_id, _ in pools}, None, "device-hours", {})
            intervals = _intervals_by_pool(session, scope, self._clock(), origin_s)
        return {
            name: DemandSeriesView(
                series=f"pool:{name}",
                unit="device-hours",
                step_s=step_s,
                points=_points(demand_steps(*intervals[pool_id], origin_s, step_s, steps)),
            )
            for pool_id, name in pools
        }

    def forecast(
        self, actor: Actor, name: str, *, horizon: str, step_s: int = 3600, days: int = 30
    ) -> Forecast:
        """Forecast a series' demanded hours ``horizon`` ahead from its last ``days``, with the
        demand that later awards and calls already promise added as known future input."""
        history = self.series(actor, name, step_s=step_s, days=days)
        steps = parse_horizon(horizon, step_s)
        if steps > len(history.points):
            # Checked before the known future is laid out step by step: a horizon of years in
            # minutes would otherwise exhaust memory before the forecaster could refuse it.
            raise InvalidInput(
                f"the horizon {horizon} is {steps} steps, longer than the {len(history.points)}"
                f" steps of history ({days} days) it would be forecast from; ask for a shorter"
                " horizon or more days of history"
            )
        series = series_from_points(
            history.series,
            history.unit,
            [point.timestamp for point in history.points],
            [point.demanded for point in history.points],
        )
        after = history.points[-1].timestamp + timedelta(seconds=step_s)
        known = self.known_future(actor, name, after=after, step_s=step_s, steps=steps)
        # Imported here: statsforecast takes seconds to import, and a server restarting after a
        # crash should answer before anyone asks for a forecast.
        from nuri.forecasting.chooser import forecast_series

        return forecast_series(series, steps, known_future=known)

    def known_future(
        self, actor: Actor, name: str, *, after: datetime, step_s: int, steps: int
    ) -> list[float]:
        """Demand per step promised by future awards and ongoing calls, in the series' unit."""
        require_commons_reader(actor, "read the commons' demand")
        selector = parse_series_name(name)
        origin_s = int(after.timestamp())
        extra = [0.0] * steps
        with self._sessions() as session:
            scope = _scope(session, selector)
            for start, end, gpu_hours, pool_ids in _promises(session, selector, scope, after):
                rate_per_s = _in_unit(gpu_hours, pool_ids, scope) / max(end - start, 1)
                for step in range(steps):
                    lo = max(origin_s + step * step_s, start)
                    hi = min(origin_s + (step + 1) * step_s, end)
                    if hi > lo:
                        extra[step] += rate_per_s * (hi - lo)
        return extra


def _window(now: datetime, step_s: int, days: int) -> tuple[int, int]:
    """How many whole steps ``days`` hold, and where the first starts (the last ends at the
    start of the unfinished step)."""
    if step_s < 60 or step_s > 7 * 86_400:
        raise InvalidInput(f"the step must be between 60 s and 7 days, got {step_s} s")
    if days <= 0:
        raise InvalidInput(f"days must be positive, got {days}")
    steps = days * 86_400 // step_s
    if steps > MAX_STEPS:
        raise InvalidInput(
            f"{days} days in steps of {step_s} s is {steps} steps; ask for at most {MAX_STEPS}"
        )
    end_s = int(now.timestamp()) // step_s * step_s
    return steps, end_s - steps * step_s


def _scope(session: Session, selector: SeriesSelector) -> _Scope:
    pools = list(session.scalars(select(PoolRow).order_by(PoolRow.id)))
    h100e = {pool.id: pool.rate_milli for pool in pools}
    if selector.kind == "pool":
        pool = next((p for p in pools if p.name == selector.value), None)
        if pool is None:
            known = ", ".join(p.name for p in pools)
            raise NotFound(f"no pool named {selector.value!r}; pools are {known}")
        return _Scope({pool.id: RATE_SCALE}, None, "device-hours", h100e)
    if selector.kind == "hub":
        hub_id = session.scalar(select(HubRow.id).where(HubRow.name == selector.value))
        if hub_id is None:
            known = ", ".join(session.scalars(select(HubRow.name).order_by(HubRow.name)))
            raise NotFound(f"no hub named {selector.value!r}; hubs are {known}")
        weights = {pool.id: pool.rate_milli for pool in pools if pool.hub_id == hub_id}
        return _Scope(weights, None, "H100e GPU-hours", h100e)
    if selector.kind == "community":
        projects: Select[int] = (
            select(ProjectRow.id)
            .join(OrganisationRow, OrganisationRow.id == ProjectRow.organisation_id)
            .where(OrganisationRow.kind == selector.value)
        )
        return _Scope(h100e, set(session.scalars(projects)), "H100e GPU-hours", h100e)
    if selector.kind == "field":
        projects = select(ProjectRow.id).where(ProjectRow.field == selector.value)
        return _Scope(h100e, set(session.scalars(projects)), "H100e GPU-hours", h100e)
    return _Scope(h100e, None, "H100e GPU-hours", h100e)


def _demand(
    session: Session, scope: _Scope, now: datetime, origin_s: int, step_s: int, steps: int
) -> DemandSteps:
    demanded, delivered = IntervalColumns(), IntervalColumns()
    for wanted, held in _intervals_by_pool(session, scope, now, origin_s).values():
        demanded.extend(wanted)
        delivered.extend(held)
    return demand_steps(demanded, delivered, origin_s, step_s, steps)


def _intervals_by_pool(
    session: Session, scope: _Scope, now: datetime, origin_s: int
) -> dict[int, tuple[IntervalColumns, IntervalColumns]]:
    """Demanded and delivered intervals in the scope since ``origin_s``, per pool: one pass
    over the jobs and one over the ledger, however many pools are wanted."""
    origin = datetime.fromtimestamp(origin_s, UTC)
    accelerator_pool = _pool_of_each_accelerator(session)
    by_pool = {pool_id: (IntervalColumns(), IntervalColumns()) for pool_id in scope.pool_weights}
    jobs = select(
        JobRow.pool_id,
        JobRow.accelerator,
        JobRow.project_id,
        JobRow.devices,
        JobRow.state,
        JobRow.submitted_at,
        JobRow.started_at,
        JobRow.ended_at,
    ).where((JobRow.ended_at.is_(None)) | (JobRow.ended_at > origin))
    now_s = int(now.timestamp())
    running = JobState.RUNNING.value
    for (
        pool_id,
        accelerator,
        project_id,
        devices,
        state,
        submitted,
        started,
        ended,
    ) in session.execute(jobs):
        # A pending accelerator-class job has no pool yet; count it where its class runs.
        pool = pool_id if pool_id is not None else accelerator_pool.get(accelerator or "")
        weight = scope.pool_weights.get(pool) if pool is not None else None
        if weight is None or (
            scope.project_ids is not None and project_id not in scope.project_ids
        ):
            continue
        wanted, held = by_pool[pool]  # type: ignore[index]
        end_s = int(ended.timestamp()) if ended is not None else now_s
        wanted.add(int(submitted.timestamp()), end_s, devices, weight)
        if state == running and started is not None:
            held.add(int(started.timestamp()), now_s, devices, weight)
    charges = select(
        LedgerEntryRow.pool_id,
        LedgerEntryRow.project_id,
        LedgerEntryRow.devices,
        LedgerEntryRow.seconds,
        LedgerEntryRow.created_at,
    ).where(LedgerEntryRow.created_at > origin)
    for pool_id, project_id, devices, seconds, charged_at in session.execute(charges):
        weight = scope.pool_weights.get(pool_id)
        if weight is None or (
            scope.project_ids is not None and project_id not in scope.project_ids
        ):
            continue
        end_s = int(charged_at.timestamp())
        by_pool[pool_id][1].add(end_s - seconds, end_s, devices, weight)
    return by_pool


def _pool_of_each_accelerator(session: Session) -> dict[str, int]:
    first: dict[str, int] = {}
    for pool_id, accelerator in session.execute(
        select(PoolRow.id, PoolRow.accelerator).order_by(PoolRow.id)
    ):
        first.setdefault(accelerator, pool_id)
    return first


def _points(demand: DemandSteps) -> list[DemandPoint]:
    waiting = demand.waiting_hours
    return [
        DemandPoint(
            timestamp=datetime.fromtimestamp(int(start), UTC),
            demanded=round(float(demand.demanded_hours[k]), 6),
            delivered=round(float(demand.delivered_hours[k]), 6),
            waiting=round(float(waiting[k]), 6),
        )
        for k, start in enumerate(demand.step_starts_s)
    ]


def _promises(
    session: Session, selector: SeriesSelector, scope: _Scope, after: datetime
) -> list[tuple[int, int, float, list[int]]]:
    """(start_s, end_s, H100e GPU-hours, pools) of each award or call budget still ahead."""
    promises: list[tuple[int, int, float, list[int]]] = []
    allocations = select(AllocationRow).where(AllocationRow.starts_at >= after)
    for allocation in session.scalars(allocations):
        if scope.project_ids is not None and allocation.project_id not in scope.project_ids:
            continue
        pool_ids = list(
            session.scalars(
                select(AllocationPoolRow.pool_id).where(
                    AllocationPoolRow.allocation_id == allocation.id
                )
            )
        ) or list(scope.pool_weights)
        promises.append(
            (
                int(allocation.starts_at.timestamp()),
                int(allocation.ends_at.timestamp()),
                allocation.awarded_units / H100E_UNITS_PER_GPU_HOUR,
                pool_ids,
            )
        )
    if selector.kind == "field":
        return promises
    calls = select(CallRow).where(
        CallRow.award_starts_at >= after, CallRow.state.in_(_ONGOING_CALL_STATES)
    )
    for call in session.scalars(calls):
        share = 1.0
        if selector.kind == "community":
            kinds = call.eligible_kinds or list(OrganisationKind)
            if selector.value not in kinds:
                continue
            share = 1.0 / len(kinds)
        awarded = _awarded_per_pool(session, call.id)
        for budget in session.scalars(
            select(CallBudgetRow).where(CallBudgetRow.call_id == call.id)
        ):
            left = max(budget.gpu_hours - awarded.get(budget.pool_id, 0), 0)
            if left:
                promises.append(
                    (
                        int(call.award_starts_at.timestamp()),
                        int(call.award_ends_at.timestamp()),
                        left * share,
                        [budget.pool_id],
                    )
                )
    return promises


def _awarded_per_pool(session: Session, call_id: int) -> dict[int, int]:
    names = dict(iter(session.execute(select(PoolRow.name, PoolRow.id))))
    awarded: dict[int, int] = {}
    for granted in session.scalars(
        select(AwardDecisionRow.granted).where(AwardDecisionRow.call_id == call_id)
    ):
        for pool_name, hours in granted.items():
            if pool_name in names:
                awarded[names[pool_name]] = awarded.get(names[pool_name], 0) + int(hours)
    return awarded


def _in_unit(gpu_hours: float, pool_ids: Sequence[int], scope: _Scope) -> float:
    """H100e GPU-hours spread evenly over ``pool_ids``, as the part that falls in the scope."""
    covered = [pool_id for pool_id in pool_ids if pool_id in scope.pool_weights]
    if not covered:
        return 0.0
    each = gpu_hours / len(pool_ids)
    if scope.unit == "device-hours":
        # A pool series is in its own devices: H100e hours / exchange rate.
        (pool_id,) = covered
        return each * RATE_SCALE / scope.rates[pool_id]
    return each * len(covered)
