"""Forecasts and capacity plans worked out ahead of time and kept in the database.

Choosing a forecast model by backtest takes seconds, and simulating a pool's candidate sizes takes
more; neither can change until another hour of history is complete. So each is worked out once per
hour and stored (table ``analyses``), keyed by what it is (``forecast`` of a series at a horizon,
``plan`` of a pool for a p90-wait target) and the hour its history ends (``as_of``):

- **Ahead of time.** :meth:`Analyses.refresh` works out everything the dashboards show for the
  current hour that is not stored yet, forecasts first. ``nuri serve`` runs it in a separate
  process (:mod:`nuri.service.analyses_worker`) under a database lease, so however many replicas
  serve, one computes, and the API's threads never wait on the computation.
- **On demand.** A request for something not yet stored (the first minutes of an hour, a series
  nobody precomputes) works it out, stores it and answers; later requests, on any replica, read it.
- **Kept.** Results older than :data:`KEPT_FOR` are deleted by the refresh.

Everything here is commons-wide, so reading is for admins and programme managers, as the demand
series it is made from.
"""

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.cluster_spec import ClusterSpec
from nuri.domain.commons import OrganisationKind, Role
from nuri.domain.errors import InvalidInput, NotFound
from nuri.engine.clock import Clock
from nuri.forecasting.forecast import Forecast
from nuri.planning.capacity import CapacityPlan, PlanSettings, plan_capacity
from nuri.planning.demand_sampling import synthetic_shapes
from nuri.service.access import require_commons_reader
from nuri.service.auth import Actor
from nuri.service.demand import DemandReports
from nuri.store import repository
from nuri.store.dataclass_json import from_jsonable, to_jsonable
from nuri.store.tables import AnalysisRow, HubRow, PoolRow

log = logging.getLogger(__name__)

STEP_S = 3600
HISTORY_DAYS = 30
FORECAST_HORIZONS = ("1d", "2d", "7d")
PLAN_HORIZON = "7d"
PLAN_TARGETS_S = {"30m": 1800.0, "1h": 3600.0, "4h": 14_400.0}
PLAN_SAMPLES = 2
"""Few samples keep a plan to seconds; ``nuri plan --samples 8`` is the careful answer."""
KEPT_FOR = timedelta(days=2)

FORECAST = "forecast"
PLAN = "plan"
READER = Actor(user_id=0, name="nuri-analyses", role=Role.ADMIN)
"""Who the background refresh reads the commons' demand as; it acts for no user."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """One analysis the dashboards show: a forecast (series, horizon) or a plan (pool, target)."""

    kind: str
    subject: str
    parameter: str


class Analyses:
    """Forecasts and plans per hour, stored once and read by every replica."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, demand: DemandReports
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._demand = demand

    def as_of(self) -> datetime:
        """The hour the current history ends: whole steps before now only."""
        now = self._clock().astimezone(UTC)
        return now.replace(minute=0, second=0, microsecond=0)

    def forecast(self, actor: Actor, series: str, horizon: str) -> Forecast:
        """The series' forecast ``horizon`` ahead from the last complete hour."""
        require_commons_reader(actor, "read the commons' forecasts")
        if horizon not in FORECAST_HORIZONS:
            raise InvalidInput(f"choose a horizon of {', '.join(FORECAST_HORIZONS)}")
        return self._forecast(Wanted(FORECAST, series, horizon), self.as_of())

    def plan(self, actor: Actor, pool: str, target: str) -> CapacityPlan:
        """The devices ``pool`` needs for 90% of its jobs to start within ``target``."""
        require_commons_reader(actor, "read the commons' capacity plans")
        if target not in PLAN_TARGETS_S:
            raise InvalidInput(f"choose a target of {', '.join(PLAN_TARGETS_S)}")
        return self._plan(Wanted(PLAN, pool, target), self.as_of())

    def wanted(self) -> list[Wanted]:
        """What the dashboards show, in the order the refresh works it out: the default
        forecasts, the pools' week-ahead forecasts and plans, then the other horizons."""
        with self._sessions() as session:
            pools = list(session.scalars(select(PoolRow.name).order_by(PoolRow.id)))
            hubs = list(session.scalars(select(HubRow.name).order_by(HubRow.id)))
        series = ["all"] + [f"pool:{p}" for p in pools] + [f"hub:{h}" for h in hubs]
        series += [f"community:{kind}" for kind in OrganisationKind]
        items = [Wanted(FORECAST, name, "2d") for name in series]
        items += [Wanted(FORECAST, f"pool:{p}", PLAN_HORIZON) for p in pools]
        items += [Wanted(PLAN, p, target) for p in pools for target in PLAN_TARGETS_S]
        items += [
            Wanted(FORECAST, name, horizon)
            for horizon in FORECAST_HORIZONS
            if horizon != "2d"
            for name in series
            if not (horizon == PLAN_HORIZON and name.startswith("pool:"))
        ]
        return items

    def refresh(
        self,
        items: Sequence[Wanted] | None = None,
        *,
        keep_going: Callable[[], bool] = lambda: True,
    ) -> int:
        """Work out ``items`` (by default what :meth:`wanted` lists) for this hour where not
        stored yet, while ``keep_going()``; delete results older than KEPT_FOR. Returns how many
        it stored. A series with too little history is skipped (its page says why)."""
        as_of = self.as_of()
        stored = self._stored_keys(as_of)
        made = 0
        for item in self.wanted() if items is None else items:
            if not keep_going():
                break
            if (item.kind, item.subject, item.parameter) in stored:
                continue
            try:
                if item.kind == FORECAST:
                    self._forecast(item, as_of)
                else:
                    self._plan(item, as_of)
                made += 1
            except (InvalidInput, NotFound) as problem:
                log.info("no %s for %s %s: %s", item.kind, item.subject, item.parameter, problem)
        with self._sessions.begin() as session:
            session.execute(delete(AnalysisRow).where(AnalysisRow.as_of < as_of - KEPT_FOR))
        return made

    # -- one analysis: read it, or work it out and store it -------------------------------

    def _forecast(self, item: Wanted, as_of: datetime) -> Forecast:
        text = self._read(item, as_of)
        if text is not None:
            return Forecast.from_json(json.loads(text))
        made = self._demand.forecast(
            READER, item.subject, horizon=item.parameter, step_s=STEP_S, days=HISTORY_DAYS
        )
        self._write(item, as_of, json.dumps(made.to_json()))
        return made

    def _plan(self, item: Wanted, as_of: datetime) -> CapacityPlan:
        text = self._read(item, as_of)
        if text is not None:
            return from_jsonable(CapacityPlan, json.loads(text))
        with self._sessions() as session:
            row = session.scalar(select(PoolRow).where(PoolRow.name == item.subject))
            if row is None:
                raise NotFound(f"no pool named {item.subject!r}")
            hub = session.get(HubRow, row.hub_id)
            spec = repository.pool_spec_of(row, hub.name if hub else "")
        forecast = self._forecast(Wanted(FORECAST, f"pool:{item.subject}", PLAN_HORIZON), as_of)
        made = plan_capacity(
            ClusterSpec(pools=(spec,)),
            {spec.name: forecast},
            PlanSettings(target_p90_wait_s=PLAN_TARGETS_S[item.parameter], samples=PLAN_SAMPLES),
            shapes=synthetic_shapes(seed=0),
        )
        self._write(item, as_of, json.dumps(to_jsonable(made)))
        return made

    def _read(self, item: Wanted, as_of: datetime) -> str | None:
        with self._sessions() as session:
            text: str | None = session.scalar(
                select(AnalysisRow.result).where(
                    AnalysisRow.kind == item.kind,
                    AnalysisRow.subject == item.subject,
                    AnalysisRow.parameter == item.parameter,
                    AnalysisRow.as_of == as_of,
                )
            )
            return text

    def _write(self, item: Wanted, as_of: datetime, text: str) -> None:
        try:
            with self._sessions.begin() as session:
                session.add(
                    AnalysisRow(
                        kind=item.kind,
                        subject=item.subject,
                        parameter=item.parameter,
                        as_of=as_of,
                        computed_at=self._clock(),
                        result=text,
                    )
                )
        except IntegrityError:
            pass  # another replica stored the same analysis first; both are the same figures

    def _stored_keys(self, as_of: datetime) -> set[tuple[str, str, str]]:
        with self._sessions() as session:
            rows = session.execute(
                select(AnalysisRow.kind, AnalysisRow.subject, AnalysisRow.parameter).where(
                    AnalysisRow.as_of == as_of
                )
            )
            return {(kind, subject, parameter) for kind, subject, parameter in rows}
